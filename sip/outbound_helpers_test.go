package sip

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

// agentContact is the contact the fake agent "registered": an address no
// one listens on, so a test passes only if requests go to Source.
const agentContact = "sip:1001@127.0.0.9:5062;ob"

var outLocal = sdp.Local{Addr: netip.MustParseAddr("127.0.0.1"), Port: 40002, Codecs: []uint8{8, 0}, SessionID: 7, Version: 1}

const agentSDP = "v=0\r\no=agent 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 30000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"

func nopHandler(context.Context, *Call) {}

// agent is a fake agent phone speaking raw SIP: on its own UDP socket, or
// on a TCP connection it opened to the gateway (as after a REGISTER).
type agent struct {
	*phone
	s   *Server
	tag string
}

func newAgent(t *testing.T, s *Server, tcp bool) *agent {
	t.Helper()
	a := &agent{phone: newPhone(t, s, tcp), s: s, tag: "agt" + fmt.Sprint(branchN.Add(1))}
	if tcp {
		// Make sure sipgo has accepted the connection and pooled it before
		// the gateway looks it up: an OPTIONS round trip.
		d := a.newDialog("reg")
		a.send(d.request("OPTIONS", "", 1, ""))
		a.expect(200, "OPTIONS")
	}
	return a
}

// acceptAgent is an agent that has no connection to the gateway yet: it
// listens on TCP and takes the connection the gateway dials.
type tcpListenAgent struct {
	ln net.Listener
}

func (l tcpListenAgent) accept(t *testing.T, s *Server) *agent {
	t.Helper()
	l.ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := l.ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	p := &phone{t: t, tcp: true, c: c, r: bufio.NewReader(c), local: addrPortOf(c.LocalAddr())}
	return &agent{phone: p, s: s, tag: "agt" + fmt.Sprint(branchN.Add(1))}
}

// next reads one message and, over UDP, where it came from.
func (a *agent) next(timeout time.Duration) (sip.Message, netip.AddrPort) {
	a.t.Helper()
	if a.tcp {
		return a.recv(timeout), netip.AddrPort{}
	}
	a.pc.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 65535)
	n, from, err := a.pc.ReadFrom(buf)
	if err != nil {
		return nil, netip.AddrPort{}
	}
	return lenientParse(a.t, buf[:n]), addrPortOf(from)
}

// request waits for a request of method, skipping others (retransmitted
// INVITEs), and checks that a UDP one left from the gateway's listening
// socket.
func (a *agent) request(method string) *sip.Request {
	a.t.Helper()
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		m, from := a.next(time.Until(end))
		if m == nil {
			break
		}
		req, ok := m.(*sip.Request)
		if !ok || string(req.Method) != method {
			continue
		}
		if !a.tcp && from != a.s.Addr() {
			a.t.Errorf("%s came from %v, want the listening socket %v", method, from, a.s.Addr())
		}
		return req
	}
	a.t.Fatalf("no %s request", method)
	return nil
}

// quiet fails if a request of method arrives within d.
func (a *agent) quiet(method string, d time.Duration) {
	a.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		m, _ := a.next(time.Until(end))
		if m == nil {
			return
		}
		if req, ok := m.(*sip.Request); ok && string(req.Method) == method {
			a.t.Errorf("unexpected %s: %s", method, req.StartLine())
		}
	}
}

// respond answers req; a 1xx other than 100 and any final response to an
// INVITE carry the agent's tag, a 2xx to INVITE its Contact.
func (a *agent) respond(req *sip.Request, code int, reason, body string) *sip.Response {
	a.t.Helper()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if code > 100 && req.IsInvite() && toTag(req) == "" {
		res.To().Params.Add("tag", a.tag)
	}
	if code >= 200 && code < 300 && req.IsInvite() {
		res.AppendHeader(sip.NewHeader("Contact", "<"+a.contact()+">"))
	}
	if body != "" {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res.SetBody([]byte(body))
	a.send(res.String())
	return res
}

// contact is the agent's real Contact in its 2xx: where it listens.
func (a *agent) contact() string {
	if a.tcp {
		return "sip:1001@" + a.local.String() + ";transport=tcp"
	}
	return "sip:1001@" + a.local.String()
}

// inDialog sends a request in the dialog an INVITE from the gateway set up.
func (a *agent) inDialog(inv *sip.Request, method string, cseq int, ctype, body string) {
	a.t.Helper()
	var b strings.Builder
	gw := inv.Contact().Address
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, gw.String())
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK-ag%d;rport\r\n", a.transport(), a.local, branchN.Add(1))
	fmt.Fprintf(&b, "Max-Forwards: 70\r\nFrom: %s;tag=%s\r\nTo: %s\r\n", inv.To().Value(), a.tag, inv.From().Value())
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\nContact: <%s>\r\n", inv.CallID().Value(), cseq, method, a.contact())
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	a.send(b.String())
}

type dialResult struct {
	o   *Outbound
	err error
	el  time.Duration
}

func dialAsync(ctx context.Context, s *Server, r DialRequest) <-chan dialResult {
	ch := make(chan dialResult, 1)
	go func() {
		start := time.Now()
		o, err := s.DialAgent(ctx, r)
		ch <- dialResult{o, err, time.Since(start)}
	}()
	return ch
}

func (a *agent) dialRequest() DialRequest {
	r := DialRequest{Contact: agentContact, Source: a.local, Transport: "udp", FromUser: "+15551234",
		FromDisplay: "Alice", Local: outLocal, RingTimeout: 5 * time.Second}
	if a.tcp {
		r.Transport = "tcp"
		r.Contact += ";transport=tcp"
	}
	return r
}

// answer runs a dial to the 200 and ACK, and returns the leg and INVITE.
func (a *agent) answer(ctx context.Context, r DialRequest) (*Outbound, *sip.Request) {
	a.t.Helper()
	res := dialAsync(ctx, a.s, r)
	inv := a.request("INVITE")
	a.respond(inv, 180, "Ringing", "")
	a.respond(inv, 200, "OK", agentSDP)
	a.request("ACK")
	got := recvT(a.t, res, "DialAgent")
	if got.err != nil {
		a.t.Fatalf("DialAgent() error = %v, want nil", got.err)
	}
	return got.o, inv
}

func branchOf(m interface{ Via() *sip.ViaHeader }) string {
	b, _ := m.Via().Params.Get("branch")
	return b
}

// waitReaps waits for the goroutines that finish cancelled INVITEs.
func waitReaps(t *testing.T, s *Server) {
	t.Helper()
	done := make(chan struct{})
	go func() { s.out.reaps.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled INVITE never finished")
	}
}

// settleGoroutines waits, up to 3 s, until at most want goroutines run.
func settleGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for end := time.Now().Add(3 * time.Second); n > want && time.Now().Before(end); n = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	return n
}
