package routing

import (
	"context"
	"errors"
	"testing"
)

// TestEmptiedStore: the epoch stays while the data does and changes when
// the store loses it; a live claim renewed after that is put back on_call,
// so its agent is not offered another call once its binding is rewritten.
func TestEmptiedStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{})
		e1, err := s.Epoch(ctx)
		if err != nil || e1 == "" {
			t.Fatalf("Epoch() = %q, %v", e1, err)
		}
		register(t, s, "1001", hour)
		c := mustClaim(t, s, "", "live-call")
		if err := s.Answered(ctx, c); err != nil {
			t.Fatal(err)
		}
		if e, err := s.Epoch(ctx); err != nil || e != e1 {
			t.Errorf("Epoch() again = %q, %v, want %q (nothing was lost)", e, err, e1)
		}

		if err := s.rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		e2, err := s.Epoch(ctx)
		if err != nil || e2 == "" || e2 == e1 {
			t.Fatalf("Epoch() after the flush = %q, %v, want a new one (was %q)", e2, err, e1)
		}
		if err := s.Renew(ctx, c); err != nil {
			t.Fatalf("Renew() after the flush = %v, want the claim put back", err)
		}
		register(t, s, "1001", hour) // the gateway writes the binding back
		st := agentState(t, s, "1001")
		if st.State != OnCall || st.CallID != "live-call" || st.GatewayID != c.GatewayID {
			t.Errorf("Agent(1001) after the flush = %+v, want on_call for live-call at %s", st, c.GatewayID)
		}
		if _, err := s.Claim(ctx, "", "second-call", "gw1"); !errors.Is(err, ErrNoAgent) {
			t.Errorf("Claim() of the agent on the restored call = %v, want ErrNoAgent", err)
		}
		if err := s.Release(ctx, c, Completed); err != nil {
			t.Fatal(err)
		}
		if st := agentState(t, s, "1001").State; st != WrapUp && st != Available {
			t.Errorf("Agent(1001) after the restored call ended = %s, want wrap_up or available", st)
		}
	})
}
