package sip

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

// withLimits gives a test server these limits and allow-list instead of
// the generous ones startServer sets.
func withLimits(l Limits, allow ...netip.Prefix) func(*Server) {
	return func(s *Server) { s.guard = newGuard(l, allow) }
}

// phoneFrom is a UDP phone bound to another loopback address, so that a
// test can speak for a second source.
func phoneFrom(t *testing.T, s *Server, ip string) *phone {
	t.Helper()
	pc, err := net.ListenPacket("udp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return &phone{t: t, pc: pc, srv: net.UDPAddrFromAddrPort(s.Addr()), local: addrPortOf(pc.LocalAddr())}
}

// drainResponses reads responses until none has come for quiet, and counts
// the final ones by status code, once per transaction (a final answer to an
// INVITE is retransmitted until ACKed). Bounded by max messages.
func drainResponses(p *phone, quiet time.Duration, max int) (codes map[int]int, retryAfter bool) {
	codes = map[int]int{}
	seen := map[string]bool{}
	for range max {
		m := p.recv(quiet)
		if m == nil {
			break
		}
		res, ok := m.(*sip.Response)
		if !ok || res.StatusCode < 200 || seen[res.Via().String()] {
			continue
		}
		seen[res.Via().String()] = true
		codes[res.StatusCode]++
		if res.StatusCode == 503 && res.GetHeader("Retry-After") != nil {
			retryAfter = true
		}
	}
	return codes, retryAfter
}

// TestRateLimitOptionsFlood: one source sending OPTIONS far faster than
// the default limit (10/s, burst 20) gets the burst answered, then 503 with
// Retry-After, then nothing; another source is still answered.
func TestRateLimitOptionsFlood(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) { c.Reject(486, "Busy Here") }, withLimits(Limits{}))
	p := newPhone(t, s, false)
	const sent = 200
	for i := range sent {
		d := p.newDialog("flood")
		p.send(d.request("OPTIONS", "", i+1, ""))
	}
	codes, retry := drainResponses(p, time.Second, 2*sent)
	total := codes[200] + codes[503]
	if codes[200] < 20 || codes[200] > 60 {
		t.Errorf("OPTIONS flood: %d answered 200, want the burst of 20 plus a little refill", codes[200])
	}
	if codes[503] == 0 || !retry {
		t.Errorf("OPTIONS flood: %d answered 503 (Retry-After %v), want some, with Retry-After", codes[503], retry)
	}
	if total >= sent {
		t.Errorf("OPTIONS flood: %d of %d answered, want the excess dropped unanswered", total, sent)
	}
	other := phoneFrom(t, s, "127.0.0.2")
	other.send(other.newDialog("other").request("OPTIONS", "", 1, ""))
	other.expect(200, "OPTIONS from another source during the flood")
}

// TestPendingCallsPerSource: a source that never completes its calls holds
// at most 16 of them; the next INVITE gets 503 + Retry-After before the
// handler (which takes the RTP port) runs, and another source still gets
// through.
func TestPendingCallsPerSource(t *testing.T) {
	handled := make(chan *Call, 64)
	s := startServer(t, func(ctx context.Context, c *Call) {
		handled <- c
		<-ctx.Done() // never answers: the call stays pending
	}, withLimits(Limits{}))
	p := newPhone(t, s, false)
	const sent = 20
	for range sent {
		d := p.newDialog("pend")
		d.invite(offerSDP)
	}
	codes, retry := drainResponses(p, time.Second, 4*sent)
	if codes[503] != sent-16 || !retry {
		t.Errorf("%d INVITEs never answered: %d got 503 (Retry-After %v), want %d with Retry-After", sent, codes[503], retry, sent-16)
	}
	if n := len(handled); n != 16 {
		t.Errorf("handler ran for %d calls of one source, want 16", n)
	}
	for range len(handled) {
		<-handled
	}
	other := phoneFrom(t, s, "127.0.0.2")
	other.newDialog("legit").invite(offerSDP)
	other.expect(100, "INVITE from another source")
	c := recvT(t, (<-chan *Call)(handled), "legit call")
	if got := c.Source().Addr().String(); got != "127.0.0.2" {
		t.Errorf("call handled from %s, want 127.0.0.2", got)
	}
}

// TestPendingReleasedOnAck: calls once ACKed no longer count against the
// cap, so a source may hold more answered calls than pending ones.
func TestPendingReleasedOnAck(t *testing.T) {
	a := &answerer{calls: make(chan *Call, 64), media: make(chan sdp.Media, 64), errs: make(chan error, 64), reason: make(chan string, 64)}
	s := startServer(t, a.handle, withLimits(Limits{}))
	p := newPhone(t, s, false)
	for range 20 {
		p.newDialog("acked").call(offerSDP)
		recvT(t, a.media, "answered call")
	}
}

// replaceHeader swaps the value of the first header line named name.
func replaceHeader(msg, name, value string) string {
	lines := strings.Split(msg, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.ToLower(l), strings.ToLower(name)+":") {
			lines[i] = name + ": " + value
			break
		}
	}
	return strings.Join(lines, "\r\n")
}
