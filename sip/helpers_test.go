package sip

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

// testLocal is the media side the handlers answer with.
var testLocal = sdp.Local{Addr: netip.MustParseAddr("127.0.0.1"), Port: 40000, Codecs: []uint8{0, 8}, SessionID: 9, Version: 1}

const offerSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 10000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"

// startServer runs a Server on loopback sockets until the test ends.
func startServer(t *testing.T, h CallHandler, opts ...func(*Server)) *Server {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := NewServer(Config{PublicIP: netip.MustParseAddr("127.0.0.1"), UserAgent: "ivrgw-test", Logger: log, UDPConn: udp, TCPListener: tcp}, h)
	if err != nil {
		t.Fatal(err)
	}
	s.drainWait = 300 * time.Millisecond
	// Tests send many requests from 127.0.0.1; guard_test.go checks the
	// default limits with withLimits.
	s.guard = newGuard(Limits{
		Invite: RateLimit{Rate: 1e4, Burst: 1e4}, Register: RateLimit{Rate: 1e4, Burst: 1e4},
		Options: RateLimit{Rate: 1e4, Burst: 1e4}, MaxPending: 1e4,
	}, nil)
	for _, o := range opts {
		o(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// phone is a raw SIP test peer over UDP or TCP.
type phone struct {
	t     *testing.T
	tcp   bool
	pc    net.PacketConn
	c     net.Conn
	r     *bufio.Reader
	srv   net.Addr
	local netip.AddrPort
}

func newPhone(t *testing.T, s *Server, tcp bool) *phone {
	t.Helper()
	p := &phone{t: t, tcp: tcp}
	if tcp {
		c, err := net.Dial("tcp4", s.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		p.c, p.r = c, bufio.NewReader(c)
		p.local = addrPortOf(c.LocalAddr())
		t.Cleanup(func() { c.Close() })
	} else {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p.pc, p.srv = pc, net.UDPAddrFromAddrPort(s.Addr())
		p.local = addrPortOf(pc.LocalAddr())
		t.Cleanup(func() { pc.Close() })
	}
	return p
}

func (p *phone) transport() string {
	if p.tcp {
		return "TCP"
	}
	return "UDP"
}

func (p *phone) send(msg string) {
	p.t.Helper()
	var err error
	if p.tcp {
		_, err = p.c.Write([]byte(msg))
	} else {
		_, err = p.pc.WriteTo([]byte(msg), p.srv)
	}
	if err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

// recv reads one message, or nil after the timeout.
func (p *phone) recv(timeout time.Duration) sip.Message {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	if p.tcp {
		p.c.SetReadDeadline(deadline)
		var head bytes.Buffer
		for {
			line, err := p.r.ReadString('\n')
			if err != nil {
				return nil
			}
			if line == "\r\n" && head.Len() == 0 {
				continue // keep-alive
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		n := 0
		for _, l := range strings.Split(head.String(), "\r\n") {
			name, v, _ := strings.Cut(l, ":")
			if strings.EqualFold(name, "Content-Length") || name == "l" {
				n, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(p.r, body); err != nil {
			return nil
		}
		return lenientParse(p.t, append(head.Bytes(), body...))
	}
	p.pc.SetReadDeadline(deadline)
	buf := make([]byte, 65535)
	n, _, err := p.pc.ReadFrom(buf)
	if err != nil {
		return nil
	}
	return lenientParse(p.t, buf[:n])
}

// lenientParse parses a message; a 400 to a malformed request echoes the
// malformed headers (RFC 3261 §8.2.6.2 copies them), which sipgo's parser
// refuses, so a response is then rebuilt from its status line and the
// headers sipgo can take.
func lenientParse(t *testing.T, b []byte) sip.Message {
	t.Helper()
	m, err := sip.ParseMessage(b)
	if err == nil {
		return m
	}
	lines := strings.Split(string(b), "\r\n")
	f := strings.SplitN(lines[0], " ", 3)
	if len(f) < 3 || f[0] != "SIP/2.0" {
		t.Fatalf("parse %q: %v", b, err)
	}
	code, _ := strconv.Atoi(f[1])
	res := sip.NewResponse(code, f[2])
	for _, l := range lines[1:] {
		if name, v, ok := strings.Cut(l, ":"); ok {
			res.AppendHeader(sip.NewHeader(strings.TrimSpace(name), strings.TrimSpace(v)))
		}
	}
	return res
}

// expect reads until a response with code arrives, failing on another
// final response; provisional responses other than code are skipped.
func (p *phone) expect(code int, what string) *sip.Response {
	p.t.Helper()
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		m := p.recv(time.Until(end))
		if m == nil {
			break
		}
		res, ok := m.(*sip.Response)
		if !ok {
			continue
		}
		if res.StatusCode == code {
			return res
		}
		if res.StatusCode >= 200 {
			p.t.Fatalf("%s: status = %d %s, want %d", what, res.StatusCode, res.Reason, code)
		}
	}
	p.t.Fatalf("%s: no %d response", what, code)
	return nil
}

// expectRequest reads until a request of method arrives.
func (p *phone) expectRequest(method string) *sip.Request {
	p.t.Helper()
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		m := p.recv(time.Until(end))
		if m == nil {
			break
		}
		if req, ok := m.(*sip.Request); ok && string(req.Method) == method {
			return req
		}
	}
	p.t.Fatalf("no %s request", method)
	return nil
}

var branchN atomic.Int64

// dlg is the caller's view of one call.
type dlg struct {
	p       *phone
	callID  string
	fromTag string
	toTag   string
	cseq    int
}

func (p *phone) newDialog(name string) *dlg {
	return &dlg{p: p, callID: fmt.Sprintf("%s-%d@test", name, branchN.Add(1)), fromTag: "ft" + strconv.FormatInt(branchN.Add(1), 10), cseq: 1}
}

// request builds a request; branch "" picks a fresh one. hdrs are extra
// header lines.
func (d *dlg) request(method, branch string, cseq int, body string, hdrs ...string) string {
	if branch == "" {
		branch = "z9hG4bK-" + strconv.FormatInt(branchN.Add(1), 10)
	}
	to := "<sip:5000@127.0.0.1>"
	if d.toTag != "" {
		to += ";tag=" + d.toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:5000@127.0.0.1 SIP/2.0\r\n", method)
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n", d.p.transport(), d.p.local, branch)
	fmt.Fprintf(&b, "Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@127.0.0.1>;tag=%s\r\nTo: %s\r\n", d.fromTag, to)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\n", d.callID, cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:alice@%s;transport=%s>\r\n", d.p.local, strings.ToLower(d.p.transport()))
	for _, h := range hdrs {
		b.WriteString(h + "\r\n")
	}
	if body != "" && !hasHeader(hdrs, "Content-Type") {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

func hasHeader(hdrs []string, name string) bool {
	for _, h := range hdrs {
		if strings.HasPrefix(strings.ToLower(h), strings.ToLower(name)+":") {
			return true
		}
	}
	return false
}

// invite sends an INVITE and returns its branch.
func (d *dlg) invite(body string, hdrs ...string) string {
	br := "z9hG4bK-inv-" + strconv.FormatInt(branchN.Add(1), 10)
	d.p.send(d.request("INVITE", br, d.cseq, body, hdrs...))
	return br
}

// call does INVITE → 200 → ACK and returns the 200.
func (d *dlg) call(body string) *sip.Response {
	d.p.t.Helper()
	d.invite(body)
	ok := d.p.expect(200, "INVITE")
	d.toTag = toTagRes(ok)
	d.p.send(d.request("ACK", "", d.cseq, ""))
	return ok
}

func toTagRes(r *sip.Response) string {
	tag, _ := r.To().Params.Get("tag")
	return tag
}

// answerer is a handler that answers, records its call and waits for the
// end of the call.
type answerer struct {
	calls  chan *Call
	media  chan sdp.Media
	errs   chan error
	reason chan string
}

func newAnswerer() *answerer {
	return &answerer{calls: make(chan *Call, 4), media: make(chan sdp.Media, 4), errs: make(chan error, 4), reason: make(chan string, 4)}
}

func (a *answerer) handle(ctx context.Context, c *Call) {
	a.calls <- c
	m, err := c.Answer(ctx, testLocal)
	if err != nil {
		a.errs <- err
		a.reason <- c.EndReason()
		return
	}
	a.media <- m
	<-ctx.Done()
	a.reason <- c.EndReason()
}

func recvT[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}
