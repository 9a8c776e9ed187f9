// Package fakeuas is a deliberately small SIP user agent server over UDP,
// for testing the test phone and cmd/ivrload without the gateway. It answers
// every INVITE with 100, 180 and 200 (with SDP), sends a 20 ms paced RTP
// stream (a 440 Hz tone whose level swells and fades four times a second,
// so it reads as "speech"), records every RTP packet and SIP message it
// receives, and can hang up with BYE.
//
// It parses SIP and SDP by hand and must not import sipgo, pion/sdp or any
// gateway package: a fake sharing code with the phone could share its bugs.
// It is loopback test equipment, not a SIP implementation: no
// retransmissions, no TCP, no authentication.
package fakeuas

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/media/g711"
	"github.com/pion/rtp"
)

// Config tunes the fake.
type Config struct {
	Reject  int           // final response instead of 200 (e.g. 486); 0 answers
	RingFor time.Duration // time between 180 and the final response
	Silent  bool          // send silence instead of the swelling tone
	Logger  *slog.Logger
}

// Packet is one RTP packet the fake received.
type Packet struct {
	Arrival time.Time
	Header  rtp.Header
	Payload []byte
}

// Call is the fake's record of one call.
type Call struct {
	CallID string

	mu       sync.Mutex
	invite   msg
	reply    func([]byte) // back to where the INVITE came from
	tcp      bool
	toTag    string
	conn     *net.UDPConn
	remote   netip.AddrPort // the phone's RTP address from its SDP
	pt       uint8
	eventPT  int
	acked    bool
	ended    bool
	cancel   chan struct{}
	cancelOn sync.Once
	stop     context.CancelFunc
	messages []string
	packets  []Packet
	started  chan struct{} // closed at the ACK
}

// Messages returns the raw SIP messages the fake received for this call.
func (c *Call) Messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.messages...)
}

// Packets returns the RTP packets received so far.
func (c *Call) Packets() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Packet(nil), c.packets...)
}

// PayloadType is the audio payload type the fake answered with.
func (c *Call) PayloadType() uint8 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pt
}

// EventPT is the telephone-event payload type of the phone's SDP, or -1.
func (c *Call) EventPT() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eventPT
}

// Started is closed when the ACK arrived and the fake began sending RTP.
func (c *Call) Started() <-chan struct{} { return c.started }

// UAS is a running fake.
type UAS struct {
	cfg  Config
	conn *net.UDPConn
	addr netip.AddrPort
	tcp  net.Listener

	mu      sync.Mutex
	calls   map[string]*Call
	order   []*Call
	newCall chan struct{}
	byeOK   map[string]chan int
	wg      sync.WaitGroup
}

// Start listens on 127.0.0.1:0.
func Start(cfg Config) (*UAS, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	conn, tl, err := listenPair()
	if err != nil {
		return nil, err
	}
	u := &UAS{
		cfg: cfg, conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), tcp: tl,
		calls: map[string]*Call{}, newCall: make(chan struct{}), byeOK: map[string]chan int{},
	}
	u.wg.Add(2)
	go func() { defer u.wg.Done(); u.serve() }()
	go func() { defer u.wg.Done(); u.serveTCP() }()
	return u, nil
}

// listenPair binds UDP and TCP on one port number, as SIP servers do. The
// TCP port may be taken by some connection's ephemeral port: retry a few
// times with a fresh one.
func listenPair() (*net.UDPConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, nil, fmt.Errorf("fake uas: listen udp: %w", err)
		}
		tl, err := net.Listen("tcp4", conn.LocalAddr().String())
		if err == nil {
			return conn, tl, nil
		}
		conn.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("fake uas: listen tcp: %w", lastErr)
}

// Addr is the fake's SIP address, "127.0.0.1:port", for UDP and TCP.
func (u *UAS) Addr() string { return u.addr.String() }

// Close stops everything.
func (u *UAS) Close() {
	u.conn.Close()
	u.tcp.Close()
	u.mu.Lock()
	for _, c := range u.order {
		c.end()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

// Calls returns the calls seen so far, oldest first.
func (u *UAS) Calls() []*Call {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*Call(nil), u.order...)
}

// WaitCall waits for the n-th call (0-based) to arrive.
func (u *UAS) WaitCall(ctx context.Context, n int) (*Call, error) {
	for {
		u.mu.Lock()
		if n < len(u.order) {
			c := u.order[n]
			u.mu.Unlock()
			return c, nil
		}
		ch := u.newCall
		u.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("fake uas: wait call %d: %w", n, ctx.Err())
		}
	}
}

func (u *UAS) serve() {
	buf := make([]byte, 65535)
	for {
		n, src, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		m, err := parse(buf[:n])
		if err != nil {
			u.cfg.Logger.Warn("fake uas: bad message", "error", err)
			continue
		}
		u.handle(m, false, func(b []byte) { u.send(b, src) })
	}
}

func (u *UAS) serveTCP() {
	var conns sync.WaitGroup
	defer conns.Wait()
	var mu sync.Mutex
	var open []net.Conn
	defer func() {
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := u.tcp.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
		conns.Add(1)
		go func() {
			defer conns.Done()
			defer c.Close()
			var wmu sync.Mutex
			reply := func(b []byte) {
				wmu.Lock()
				defer wmu.Unlock()
				_, _ = c.Write(b)
			}
			r := bufio.NewReader(c)
			for {
				raw, err := readStream(r)
				if err != nil {
					return
				}
				if m, err := parse(raw); err == nil {
					u.handle(m, true, reply)
				}
			}
		}()
	}
}

// readStream frames one SIP message on a stream by its Content-Length
// (RFC 3261 §18.3).
func readStream(r *bufio.Reader) ([]byte, error) {
	var head []byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		if len(head) == 0 && strings.TrimSpace(string(line)) == "" {
			continue // keep-alive CRLF
		}
		head = append(head, line...)
		if len(head) > 64<<10 {
			return nil, errors.New("header too long")
		}
	}
	m, err := parse(head)
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(m.get("content-length"))
	if n < 0 || n > 64<<10 {
		return nil, errors.New("bad content-length")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(head, body...), nil
}

func (u *UAS) handle(m msg, tcp bool, reply func([]byte)) {
	id := m.get("call-id")
	u.mu.Lock()
	c := u.calls[id]
	u.mu.Unlock()
	if m.isResponse() {
		if strings.HasSuffix(m.get("cseq"), "BYE") {
			u.mu.Lock()
			if ch, ok := u.byeOK[id]; ok {
				ch <- m.status()
				delete(u.byeOK, id)
			}
			u.mu.Unlock()
		}
		return
	}
	if c != nil {
		c.mu.Lock()
		c.messages = append(c.messages, m.raw)
		c.mu.Unlock()
	}
	switch m.method() {
	case "INVITE":
		switch {
		case c == nil:
			u.invite(m, tcp, reply)
		case hasTag(m.get("to")):
			u.reinvite(c, m, reply)
		}
	case "ACK":
		if c != nil {
			u.ack(c, m)
		}
	case "CANCEL":
		reply(u.response(m, 200, "OK", "", nil, nil))
		if c != nil {
			c.mu.Lock()
			if !c.acked {
				c.cancelOn.Do(func() { close(c.cancel) })
			}
			c.mu.Unlock()
		}
	case "BYE":
		if c == nil {
			reply(u.response(m, 481, "Call/Transaction Does Not Exist", "", nil, nil))
			return
		}
		reply(u.response(m, 200, "OK", "", nil, nil))
		c.end()
	default: // INFO, OPTIONS and the rest
		reply(u.response(m, 200, "OK", "", nil, nil))
	}
}

func (u *UAS) invite(m msg, tcp bool, reply func([]byte)) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		reply(u.response(m, 500, "Server Error", "", nil, nil))
		return
	}
	c := &Call{
		CallID: m.get("call-id"), invite: m, reply: reply, tcp: tcp, toTag: randHex(6), conn: conn,
		eventPT: -1, cancel: make(chan struct{}), started: make(chan struct{}),
		messages: []string{m.raw}, stop: func() {},
	}
	c.pt = 0
	if len(m.body) > 0 {
		s := parseSDP(m.body)
		c.remote, c.eventPT = s.addr, s.eventPT
		c.pt = 255
		for _, f := range s.formats {
			if f == 0 || f == 8 {
				c.pt = f
				break
			}
		}
	}
	u.mu.Lock()
	u.calls[c.CallID] = c
	u.order = append(u.order, c)
	close(u.newCall)
	u.newCall = make(chan struct{})
	u.mu.Unlock()

	u.wg.Add(2)
	go func() { defer u.wg.Done(); c.readRTP() }()
	reply(u.response(m, 100, "Trying", "", nil, nil))
	reply(u.response(m, 180, "Ringing", c.toTag, nil, nil))
	go func() {
		defer u.wg.Done()
		select {
		case <-time.After(u.cfg.RingFor):
		case <-c.cancel:
			reply(u.response(m, 487, "Request Terminated", c.toTag, nil, nil))
			c.end()
			return
		}
		if c.pt == 255 {
			reply(u.response(m, 488, "Not Acceptable Here", c.toTag, nil, nil))
			c.end()
			return
		}
		if u.cfg.Reject != 0 {
			reply(u.response(m, u.cfg.Reject, "Rejected", c.toTag, nil, nil))
			c.end()
			return
		}
		c.mu.Lock()
		var body []byte
		if len(m.body) > 0 {
			body = c.sdp(false)
		} else {
			body = c.sdp(true) // delayed offer: ours is the offer
		}
		c.mu.Unlock()
		reply(u.response(m, 200, "OK", c.toTag, u.contact(), body))
	}()
}

func (u *UAS) reinvite(c *Call, m msg, reply func([]byte)) {
	c.mu.Lock()
	if len(m.body) > 0 {
		s := parseSDP(m.body)
		c.remote = s.addr
	}
	body := c.sdp(false)
	c.mu.Unlock()
	reply(u.response(m, 200, "OK", "", u.contact(), body))
}

func (u *UAS) ack(c *Call, m msg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.acked || c.ended {
		return
	}
	if len(m.body) > 0 {
		s := parseSDP(m.body)
		c.remote, c.eventPT = s.addr, s.eventPT
		if len(s.formats) > 0 {
			c.pt = s.formats[0]
		}
	}
	c.acked = true
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	close(c.started)
	u.wg.Add(1)
	go func() { defer u.wg.Done(); c.sendRTP(ctx, u.cfg.Silent) }()
}

// Hangup sends BYE for the call to the phone's Contact and waits (at most
// two seconds) for the response code.
func (u *UAS) Hangup(c *Call) (int, error) {
	c.mu.Lock()
	inv, tag, reply, tcp := c.invite, c.toTag, c.reply, c.tcp
	c.mu.Unlock()
	contact := strings.Trim(strings.SplitN(inv.get("contact"), ">", 2)[0], "< ")
	hostport := contact
	if i := strings.Index(hostport, "@"); i >= 0 {
		hostport = hostport[i+1:]
	}
	hostport = strings.TrimPrefix(hostport, "sip:")
	hostport, _, _ = strings.Cut(hostport, ";")
	dst, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return 0, fmt.Errorf("fake uas: hangup: contact %q: %w", contact, err)
	}
	ch := make(chan int, 1)
	u.mu.Lock()
	u.byeOK[c.CallID] = ch
	u.mu.Unlock()
	req := fmt.Sprintf("BYE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: %s;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
		contact, u.addr, randHex(8), inv.get("to"), tag, inv.get("from"), c.CallID)
	if tcp {
		// Over TCP the BYE reuses the phone's connection (RFC 3261 §18.1.1 allows
		// either; the gateway does this).
		req = strings.Replace(req, "SIP/2.0/UDP", "SIP/2.0/TCP", 1)
		reply([]byte(req))
	} else {
		u.send([]byte(req), dst)
	}
	c.end()
	select {
	case code := <-ch:
		return code, nil
	case <-time.After(2 * time.Second):
		return 0, errors.New("fake uas: hangup: no response to bye")
	}
}

func (u *UAS) contact() []string {
	return []string{fmt.Sprintf("Contact: <sip:fake@%s>", u.addr)}
}

func (u *UAS) send(b []byte, dst netip.AddrPort) {
	if _, err := u.conn.WriteToUDPAddrPort(b, dst); err != nil {
		u.cfg.Logger.Debug("fake uas: send failed", "error", err)
	}
}

// response builds a response to req (RFC 3261 §8.2.6: Via, From, To,
// Call-ID and CSeq copied; a To tag added when given and missing).
func (u *UAS) response(req msg, code int, reason, toTag string, extra []string, body []byte) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", code, reason)
	for _, v := range req.all("via") {
		fmt.Fprintf(&b, "Via: %s\r\n", v)
	}
	to := req.get("to")
	if toTag != "" && !hasTag(to) {
		to += ";tag=" + toTag
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n", req.get("from"), to, req.get("call-id"), req.get("cseq"))
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	if len(body) > 0 {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return []byte(b.String())
}

// sdp is the fake's SDP: an answer with the chosen codec, or an offer of
// both laws and events. c.mu held.
func (c *Call) sdp(offer bool) []byte {
	port := c.conn.LocalAddr().(*net.UDPAddr).Port
	fmts := strconv.Itoa(int(c.pt))
	ev := c.eventPT
	if offer {
		fmts, ev = "0 8", 101
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=fake 1 1 IN IP4 127.0.0.1\r\ns=fake\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP %s", port, fmts)
	if ev >= 0 {
		fmt.Fprintf(&b, " %d", ev)
	}
	b.WriteString("\r\n")
	if ev >= 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", ev, ev)
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}

func (c *Call) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.ended = true
	c.cancelOn.Do(func() { close(c.cancel) })
	c.stop()
	c.conn.Close()
}

func (c *Call) readRTP() {
	buf := make([]byte, 1500)
	for {
		n, _, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		at := time.Now()
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			continue
		}
		c.mu.Lock()
		c.packets = append(c.packets, Packet{Arrival: at, Header: p.Header, Payload: p.Payload})
		c.mu.Unlock()
	}
}

// sendRTP paces 20 ms frames on absolute deadlines until ctx ends.
func (c *Call) sendRTP(ctx context.Context, silent bool) {
	c.mu.Lock()
	conn, dst, pt := c.conn, c.remote, c.pt
	c.mu.Unlock()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: 0x5eed, SequenceNumber: 1000, Timestamp: 80000, Marker: true}}
	pcm := make([]int16, 160)
	payload := make([]byte, 160)
	buf := make([]byte, 1500)
	next := time.Now()
	for i := 0; ; i++ {
		for j := range pcm {
			t := float64(i*160+j) / 8000
			if silent {
				pcm[j] = 0
				continue
			}
			env := math.Abs(math.Sin(2 * math.Pi * 2 * t))
			pcm[j] = int16(8000 * env * math.Sin(2*math.Pi*440*t))
		}
		if pt == g711.PayloadPCMA {
			p.Payload = g711.EncodeALaw(payload, pcm)
		} else {
			p.Payload = g711.EncodeULaw(payload, pcm)
		}
		n, err := p.MarshalTo(buf)
		if err == nil {
			c.mu.Lock()
			dst = c.remote // a re-INVITE may have moved the phone
			c.mu.Unlock()
			_, _ = conn.WriteToUDPAddrPort(buf[:n], dst)
		}
		p.Marker = false
		p.SequenceNumber++
		p.Timestamp += 160
		next = next.Add(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
	}
}

// msg is a parsed SIP message: just enough structure for the fake.
type msg struct {
	raw     string
	start   string
	headers [][2]string // lower-case long name, value
	body    []byte
}

var compact = map[string]string{"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length", "c": "content-type"}

func parse(b []byte) (msg, error) {
	head, body, ok := strings.Cut(string(b), "\r\n\r\n")
	if !ok {
		return msg{}, errors.New("no end of headers")
	}
	lines := strings.Split(head, "\r\n")
	m := msg{raw: string(b), start: lines[0], body: []byte(body)}
	for _, l := range lines[1:] {
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if long, ok := compact[name]; ok {
			name = long
		}
		val = strings.TrimSpace(val)
		if name == "via" {
			// A Via line may hold several comma-separated values.
			for _, v := range strings.Split(val, ",") {
				m.headers = append(m.headers, [2]string{name, strings.TrimSpace(v)})
			}
			continue
		}
		m.headers = append(m.headers, [2]string{name, val})
	}
	if n, err := strconv.Atoi(m.get("content-length")); err == nil && n <= len(m.body) {
		m.body = m.body[:n]
	}
	return m, nil
}

func (m msg) get(name string) string {
	for _, h := range m.headers {
		if h[0] == name {
			return h[1]
		}
	}
	return ""
}

func (m msg) all(name string) []string {
	var out []string
	for _, h := range m.headers {
		if h[0] == name {
			out = append(out, h[1])
		}
	}
	return out
}

func (m msg) isResponse() bool { return strings.HasPrefix(m.start, "SIP/2.0 ") }

func (m msg) method() string { method, _, _ := strings.Cut(m.start, " "); return method }

func (m msg) status() int {
	f := strings.Fields(m.start)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func hasTag(h string) bool { return strings.Contains(strings.ToLower(h), ";tag=") }

type sdpInfo struct {
	addr    netip.AddrPort
	formats []uint8
	eventPT int
}

// parseSDP reads c= and the audio m= line, by hand.
func parseSDP(b []byte) sdpInfo {
	s := sdpInfo{eventPT: -1}
	var ip netip.Addr
	port := 0
	events := map[int]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "c=IN IP4 "):
			ip, _ = netip.ParseAddr(strings.TrimPrefix(l, "c=IN IP4 "))
		case strings.HasPrefix(l, "m=audio "):
			f := strings.Fields(l)
			port, _ = strconv.Atoi(f[1])
			for _, x := range f[3:] {
				if n, err := strconv.Atoi(x); err == nil && n < 128 {
					s.formats = append(s.formats, uint8(n))
				}
			}
		case strings.HasPrefix(l, "a=rtpmap:") && strings.Contains(l, "telephone-event"):
			n, _ := strconv.Atoi(strings.Fields(strings.TrimPrefix(l, "a=rtpmap:"))[0])
			events[n] = true
		}
	}
	var fm []uint8
	for _, f := range s.formats {
		if events[int(f)] {
			s.eventPT = int(f)
			continue
		}
		fm = append(fm, f)
	}
	s.formats = fm
	if ip.IsValid() && port > 0 {
		s.addr = netip.AddrPortFrom(ip, uint16(port))
	}
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
