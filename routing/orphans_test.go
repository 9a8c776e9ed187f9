package routing

import (
	"context"
	"errors"
	"testing"
	"time"
)

const orphanGrace = 3000 * time.Millisecond // ORPHAN_GRACE_MS in lib.lua

// TestOrphanedBridgeKeepsAgentUntilHungUp: a bridged call whose gateway
// died keeps its agent on_call (never offered) until a survivor has taken
// the stored dialogs, hung up, and released it; only one survivor gets it.
func TestOrphanedBridgeKeepsAgentUntilHungUp(t *testing.T) {
	const lease = 300 * time.Millisecond
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{LeaseTTL: lease})
		register(t, s, "1001", hour)
		c := mustClaim(t, s, "", "bridged-call")
		if err := s.Answered(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveDialogs(ctx, c, []byte(`{"legs":2}`)); err != nil {
			t.Fatalf("SaveDialogs() = %v", err)
		}
		b.advance(lease + 100*time.Millisecond) // gateway gw1 died
		if _, err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if st := agentState(t, s, "1001"); st.State != OnCall {
			t.Errorf("Agent(1001) after its gateway died = %s, want on_call (the phone is still in the call)", st.State)
		}
		if _, err := s.Claim(ctx, "", "next-call", "gw2"); !errors.Is(err, ErrNoAgent) {
			t.Errorf("Claim() while orphaned = %v, want ErrNoAgent", err)
		}
		if os, err := s.TakeOrphans(ctx, "gw2"); err != nil || len(os) != 0 {
			t.Errorf("TakeOrphans() inside the grace = %v, %v, want none", os, err)
		}
		b.advance(orphanGrace)
		os, err := s.TakeOrphans(ctx, "gw2")
		if err != nil || len(os) != 1 {
			t.Fatalf("TakeOrphans() = %v, %v, want the one call", os, err)
		}
		if o := os[0]; o.Ext != "1001" || o.CallID != "bridged-call" || string(o.Data) != `{"legs":2}` || o.Token != c.Token {
			t.Errorf("orphan = %+v, want 1001 bridged-call with its dialogs and token", o)
		}
		if again, err := s.TakeOrphans(ctx, "gw3"); err != nil || len(again) != 0 {
			t.Errorf("TakeOrphans() by a second survivor = %v, %v, want none (locked)", again, err)
		}
		if _, err := s.Claim(ctx, "", "next-call", "gw2"); !errors.Is(err, ErrNoAgent) {
			t.Errorf("Claim() before the BYEs = %v, want ErrNoAgent", err)
		}
		if err := s.ReleaseOrphan(ctx, os[0]); err != nil {
			t.Fatal(err)
		}
		if st := agentState(t, s, "1001").State; st != Available {
			t.Errorf("Agent(1001) after the survivor hung up = %s, want available", st)
		}
		c2, err := s.Claim(ctx, "", "next-call", "gw2")
		if err != nil || c2.Ext != "1001" {
			t.Errorf("Claim() after = %+v, %v, want 1001", c2, err)
		}
	})
}

// TestOrphanRescuedByLateRenewal: a gateway that only lost Redis for a
// while renews before any survivor takes its call, and keeps it.
func TestOrphanRescuedByLateRenewal(t *testing.T) {
	const lease = 300 * time.Millisecond
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{LeaseTTL: lease})
		register(t, s, "1001", hour)
		c := mustClaim(t, s, "", "live-call")
		if err := s.Answered(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveDialogs(ctx, c, []byte("d")); err != nil {
			t.Fatal(err)
		}
		b.advance(lease + 100*time.Millisecond)
		if _, err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Renew(ctx, c); err != nil {
			t.Fatalf("Renew() after the lapse, before a survivor = %v, want the call back", err)
		}
		b.advance(orphanGrace)
		if os, err := s.TakeOrphans(ctx, "gw2"); err != nil || len(os) != 0 {
			t.Errorf("TakeOrphans() after the rescue = %v, %v, want none", os, err)
		}
		// A normal end forgets the dialogs: a later lapse orphans nothing.
		if err := s.Release(ctx, c, Completed); err != nil {
			t.Fatal(err)
		}
		if st := agentState(t, s, "1001").State; st != WrapUp {
			t.Errorf("Agent(1001) after Release = %s, want wrap_up", st)
		}
	})
}
