package routing

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRenewAll renews many leases in one pipeline: each result is what
// Renew would say (a released claim's lease is lost), a server that forgot
// the script (SCRIPT FLUSH, a restart) is sent it, and the renewed lease
// really lasts another LeaseTTL.
func TestRenewAll(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		const lease = 400 * time.Millisecond
		s := newStore(t, b, Options{LeaseTTL: lease})
		register(t, s, "1001", time.Hour)
		register(t, s, "1002", time.Hour)
		var claims []Claim
		for _, id := range []string{"a", "b"} {
			if _, err := s.Enqueue(ctx, "support", id, 0, "gw1"); err != nil {
				t.Fatal(err)
			}
			c, err := s.ClaimForQueue(ctx, "support", "", id, "gw1")
			if err != nil {
				t.Fatalf("ClaimForQueue(%s) = %v", id, err)
			}
			claims = append(claims, c)
		}
		if err := s.Release(ctx, claims[1], Completed); err != nil {
			t.Fatal(err)
		}
		rdb, err := Dial(b.url)
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		b.advance(lease / 2)
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
		errs := s.RenewAll(ctx, claims)
		if len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], ErrLeaseLost) {
			t.Fatalf("RenewAll = %v, want [nil, ErrLeaseLost]", errs)
		}
		// Past the first lease's end, within the renewed one.
		b.advance(lease/2 + lease/4)
		if errs := s.RenewAll(ctx, claims[:1]); errs[0] != nil {
			t.Errorf("RenewAll after the first lease's end = %v, want the renewed lease alive", errs[0])
		}
		if errs := s.RenewAll(ctx, nil); len(errs) != 0 {
			t.Errorf("RenewAll(nil) = %v", errs)
		}
	})
}

// BenchmarkRenew compares one Renew per claim with RenewAll of the same
// claims in one pipeline (IVRGW_REDIS_URL for a real server).
func BenchmarkRenew(b *testing.B) {
	be := newReal(b)
	ctx := context.Background()
	s := newStore(b, be, Options{LeaseTTL: time.Minute})
	const n = 100
	claims := make([]Claim, n)
	for i := range claims {
		ext := "2" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "0"
		register(b, s, ext, time.Hour)
		id := "call" + ext
		if _, err := s.Enqueue(ctx, "support", id, 0, "gw1"); err != nil {
			b.Fatal(err)
		}
		c, err := s.ClaimForQueue(ctx, "support", "", id, "gw1")
		if err != nil {
			b.Fatal(err)
		}
		claims[i] = c
	}
	b.Run("one_by_one_100", func(b *testing.B) {
		for b.Loop() {
			for _, c := range claims {
				if err := s.Renew(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("pipelined_100", func(b *testing.B) {
		for b.Loop() {
			for _, err := range s.RenewAll(ctx, claims) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
