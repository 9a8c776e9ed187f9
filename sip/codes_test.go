package sip

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"
)

// TestInviteResponsesByCode: each INVITE's responses are counted once by
// code (100 and the final), retransmissions are not, other methods are not.
func TestInviteResponsesByCode(t *testing.T) {
	busy := make(chan struct{}, 4)
	s := startServer(t, func(ctx context.Context, c *Call) {
		if strings.HasPrefix(c.ID(), "busy-") {
			_ = c.Reject(486, "Busy Here")
			busy <- struct{}{}
			return
		}
		_, _ = c.Answer(ctx, testLocal)
		<-ctx.Done()
	})
	p := newPhone(t, s, false)
	p.newDialog("alice").call(offerSDP)

	d := p.newDialog("busy")
	d.invite(offerSDP)
	p.expect(486, "INVITE busy")
	recvT(t, busy, "reject")
	p.send(d.request("ACK", "", d.cseq, ""))

	p.send(p.newDialog("x").request("OPTIONS", "z9hG4bK-opt-1", 1, ""))
	p.expect(200, "OPTIONS")

	want := map[int]uint64{100: 2, 200: 1, 486: 1}
	deadline := time.Now().Add(2 * time.Second)
	for got := s.InviteResponses(); !maps.Equal(got, want); got = s.InviteResponses() {
		if time.Now().After(deadline) {
			t.Fatalf("InviteResponses() = %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
