package sip

import (
	"strconv"
	"testing"
	"time"
)

// TestDrain: once draining, OPTIONS probes and new INVITEs get 503 with
// Retry-After, while the call already up keeps its dialog (in-dialog
// OPTIONS, BYE) and Idle turns true only when it is gone.
func TestDrain(t *testing.T) {
	a := newAnswerer()
	s := startServer(t, a.handle)
	p := newPhone(t, s, false)
	live := p.newDialog("live")
	live.call(offerSDP)
	recvT(t, a.media, "answer")
	if s.Idle() {
		t.Fatal("Idle() = true with a call up")
	}

	s.Drain()
	s.Drain() // idempotent
	if !s.Draining() {
		t.Fatal("Draining() = false after Drain")
	}
	want503 := func(what string) {
		t.Helper()
		res := p.expect(503, what)
		h := res.GetHeader("Retry-After")
		if h == nil || h.Value() != strconv.Itoa(DrainRetryAfter) {
			t.Errorf("%s 503 Retry-After = %v, want %d", what, h, DrainRetryAfter)
		}
	}
	p.send(p.newDialog("probe").request("OPTIONS", "", 1, ""))
	want503("OPTIONS")
	p.newDialog("late").invite(offerSDP)
	want503("new INVITE")

	// In the live dialog, requests are served as usual.
	p.send(live.request("OPTIONS", "", 2, ""))
	p.expect(200, "in-dialog OPTIONS")
	if s.Idle() {
		t.Fatal("Idle() = true with a call up while draining")
	}
	p.send(live.request("BYE", "", 3, ""))
	p.expect(200, "BYE")
	if r := recvT(t, a.reason, "end reason"); r != "remote_bye" {
		t.Errorf("EndReason() = %q, want remote_bye", r)
	}
	// The handler returns just after the BYE's answer.
	deadline := time.Now().Add(5 * time.Second)
	for !s.Idle() {
		if time.Now().After(deadline) {
			t.Fatalf("Idle() = false 5 s after the last call ended (active %d)", s.ActiveCalls())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
