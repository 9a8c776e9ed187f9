package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// session is one relayed call: leg A offers, leg B answers, and rtpengine
// sits between them with a port facing each.
type session struct {
	id      int
	callID  string
	fromTag string
	toTag   string
	a, b    *leg
	offered bool // an offer went out: delete the call at the end
}

func newSession(id int, ip netip.Addr, runID string) (*session, error) {
	a, err := newLeg(ip)
	if err != nil {
		return nil, fmt.Errorf("open leg a: %w", err)
	}
	b, err := newLeg(ip)
	if err != nil {
		a.conn.Close()
		return nil, fmt.Errorf("open leg b: %w", err)
	}
	n := strconv.Itoa(id)
	a.recv.wantSSRC, b.recv.wantSSRC = b.ssrc, a.ssrc // no transcoding: SSRCs pass through
	return &session{
		id:      id,
		callID:  "relayload-" + runID + "-" + n,
		fromTag: "a" + n,
		toTag:   "b" + n,
		a:       a,
		b:       b,
	}, nil
}

// setup runs offer (A's SDP) and answer (B's SDP). The offer's rewritten
// SDP goes to B, so it names the port B must send to; the answer's goes
// to A.
func (s *session) setup(ctx context.Context, ng *ngClient) error {
	s.offered = true
	r, err := ng.call(ctx, map[string]any{
		"command":  "offer",
		"call-id":  s.callID,
		"from-tag": s.fromTag,
		"sdp":      legSDP(s.a.local.Addr(), s.a.local.Port(), s.id),
	})
	if errors.Is(err, errNG) {
		s.offered = false // refused: rtpengine holds no call to delete
	}
	if err != nil {
		return err
	}
	if s.b.relay, err = relayTarget(r); err != nil {
		return fmt.Errorf("offer reply: %w", err)
	}
	r, err = ng.call(ctx, map[string]any{
		"command":  "answer",
		"call-id":  s.callID,
		"from-tag": s.fromTag,
		"to-tag":   s.toTag,
		"sdp":      legSDP(s.b.local.Addr(), s.b.local.Port(), s.id),
	})
	if err != nil {
		return err
	}
	if s.a.relay, err = relayTarget(r); err != nil {
		return fmt.Errorf("answer reply: %w", err)
	}
	return nil
}

func (s *session) delete(ctx context.Context, ng *ngClient) error {
	_, err := ng.call(ctx, map[string]any{
		"command":  "delete",
		"call-id":  s.callID,
		"from-tag": s.fromTag,
	})
	return err
}

func (s *session) close() {
	s.a.conn.Close()
	s.b.conn.Close()
}
