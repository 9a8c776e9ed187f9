package routing

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

const (
	cbQueueTTL = 300 * time.Millisecond
	cbLease    = 300 * time.Millisecond
)

func cbStore(t *testing.T, b *backend) *Store {
	return newStore(t, b, Options{QueueTTL: cbQueueTTL, LeaseTTL: cbLease})
}

func enqueue(t *testing.T, s *Store, queue string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := s.Enqueue(context.Background(), queue, id, 0, "gw1"); err != nil {
			t.Fatalf("Enqueue(%s) = %v", id, err)
		}
	}
}

func position(t *testing.T, s *Store, queue, id string) int {
	t.Helper()
	p, err := s.Position(context.Background(), queue, id)
	if errors.Is(err, ErrNotQueued) {
		return -1
	}
	if err != nil {
		t.Fatalf("Position(%s) = %v", id, err)
	}
	return p
}

func dueIDs(t *testing.T, s *Store) []string {
	t.Helper()
	due, err := s.DueCallbacks(context.Background(), 10)
	if err != nil {
		t.Fatalf("DueCallbacks = %v", err)
	}
	var ids []string
	for _, d := range due {
		ids = append(ids, d.ID)
	}
	return ids
}

// TestCallbackKeepsPlace: a booked callback stays queued where it was,
// though its caller hung up (no heartbeat, and their gateway's Leave),
// while a caller who simply hangs up drops out.
func TestCallbackKeepsPlace(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := cbStore(t, b)
		enqueue(t, s, "support", "a", "b", "c", "d")
		pos, err := s.BookCallback(ctx, Callback{ID: "b", Queue: "support", Number: "+15550100", Lang: "es",
			Fields: map[string]string{"path": "main>billing"}}, time.Hour)
		if err != nil || pos != 2 {
			t.Fatalf("BookCallback(b) = %d, %v, want 2", pos, err)
		}
		if err := s.Leave(ctx, "support", "b"); err != nil {
			t.Fatalf("Leave(b) = %v", err)
		}
		// a and c keep their heartbeats, b and d have none
		for range 3 {
			b.advance(cbQueueTTL / 2)
			position(t, s, "support", "a")
			position(t, s, "support", "c")
		}
		if got := position(t, s, "support", "c"); got != 3 {
			t.Errorf("Position(c) = %d, want 3 (behind a and the callback)", got)
		}
		if got := position(t, s, "support", "d"); got != -1 {
			t.Errorf("Position(d) = %d, want not queued (its heartbeat lapsed)", got)
		}
		cb, err := s.GetCallback(ctx, "b")
		if err != nil || cb.Number != "+15550100" || cb.Lang != "es" || cb.Queue != "support" || cb.Fields["path"] != "main>billing" {
			t.Errorf("GetCallback(b) = %+v, %v", cb, err)
		}
	})
}

func TestBookCallbackRefuses(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := cbStore(t, b)
		enqueue(t, s, "support", "a")
		tests := []struct {
			name string
			cb   Callback
			want error
		}{
			{"not queued", Callback{ID: "zz", Queue: "support", Number: "5550100"}, ErrNotQueued},
			{"a uri for a number", Callback{ID: "a", Queue: "support", Number: "sip:x@10.0.0.1"}, ErrInvalid},
			{"too short", Callback{ID: "a", Queue: "support", Number: "12"}, ErrInvalid},
			{"anonymous", Callback{ID: "a", Queue: "support", Number: "anonymous"}, ErrInvalid},
			{"reserved field", Callback{ID: "a", Queue: "support", Number: "5550100", Fields: map[string]string{"owner": "me"}}, ErrInvalid},
			{"control chars", Callback{ID: "a", Queue: "support", Number: "5550100", Fields: map[string]string{"path": "a\r\nX: y"}}, ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := s.BookCallback(ctx, tt.cb, time.Hour); !errors.Is(err, tt.want) {
					t.Errorf("BookCallback(%+v) = %v, want %v", tt.cb, err, tt.want)
				}
			})
		}
	})
}

// TestCallbackTurn: a callback is due only at the head of its queue; the
// claim takes it out of the queue and makes the gateway its owner.
func TestCallbackTurn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := cbStore(t, b)
		register(t, s, "1001", time.Hour)
		enqueue(t, s, "support", "a", "b")
		if _, err := s.BookCallback(ctx, Callback{ID: "b", Queue: "support", Number: "5550100"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if got := dueIDs(t, s); len(got) != 0 {
			t.Errorf("DueCallbacks with a ahead = %v, want none", got)
		}
		if _, err := s.ClaimForQueue(ctx, "support", "", "b", "gw2"); !errors.Is(err, ErrNotHead) {
			t.Errorf("ClaimForQueue(b) behind a = %v, want ErrNotHead", err)
		}
		if err := s.Leave(ctx, "support", "a"); err != nil {
			t.Fatal(err)
		}
		if got := dueIDs(t, s); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("DueCallbacks = %v, want [b]", got)
		}
		c, err := s.ClaimForQueue(ctx, "support", "", "b", "gw2")
		if err != nil || c.Ext != "1001" {
			t.Fatalf("ClaimForQueue(b) = %+v, %v", c, err)
		}
		if got := dueIDs(t, s); len(got) != 0 {
			t.Errorf("DueCallbacks after the claim = %v, want none", got)
		}
		if err := s.RenewCallback(ctx, "b", "gw1"); !errors.Is(err, ErrCallbackGone) {
			t.Errorf("RenewCallback by a gateway that does not own it = %v, want ErrCallbackGone", err)
		}
		if err := s.RenewCallback(ctx, "b", "gw2"); err != nil {
			t.Errorf("RenewCallback by its owner = %v", err)
		}
		if err := s.FinishCallback(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetCallback(ctx, "b"); !errors.Is(err, ErrCallbackGone) {
			t.Errorf("GetCallback after finish = %v, want ErrCallbackGone", err)
		}
	})
}

// TestCallbackRetries: an unanswered callback leaves the queue (others move
// up) for the retry delay, then comes back at its head; at the last try it
// is gone and reported abandoned.
func TestCallbackRetries(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := cbStore(t, b)
		register(t, s, "1001", time.Hour)
		enqueue(t, s, "support", "b")
		if _, err := s.BookCallback(ctx, Callback{ID: "b", Queue: "support", Number: "5550100"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		// shorter than the queue ttl, so c's heartbeat outlives the wait
		const delay = cbQueueTTL / 2
		for try := 1; try <= 2; try++ {
			c, err := s.ClaimForQueue(ctx, "support", "", "b", "gw1")
			if err != nil {
				t.Fatalf("try %d: ClaimForQueue(b) = %v", try, err)
			}
			if err := s.Release(ctx, c, Abandoned); err != nil {
				t.Fatal(err)
			}
			tries, abandoned, err := s.RetryCallback(ctx, "b", "gw1", delay, 3)
			if err != nil || tries != try || abandoned {
				t.Fatalf("RetryCallback #%d = %d, %v, %v, want %d, false", try, tries, abandoned, err, try)
			}
			enqueue(t, s, "support", "c")
			if got := position(t, s, "support", "c"); got != 1 {
				t.Errorf("try %d: Position(c) while b waits to retry = %d, want 1", try, got)
			}
			if _, err := s.SweepCallbacks(ctx, 100); err != nil {
				t.Fatal(err)
			}
			if got := dueIDs(t, s); len(got) != 0 {
				t.Errorf("try %d: DueCallbacks before the delay = %v, want none", try, got)
			}
			b.advance(delay + cbQueueTTL/6)
			if _, err := s.SweepCallbacks(ctx, 100); err != nil {
				t.Fatal(err)
			}
			if got := position(t, s, "support", "c"); got != 2 {
				t.Errorf("try %d: Position(c) after the delay = %d, want 2 (b back at the head)", try, got)
			}
			if got := dueIDs(t, s); !slices.Equal(got, []string{"b"}) {
				t.Errorf("try %d: DueCallbacks after the delay = %v, want [b]", try, got)
			}
			if err := s.Leave(ctx, "support", "c"); err != nil {
				t.Fatal(err)
			}
		}
		c, err := s.ClaimForQueue(ctx, "support", "", "b", "gw1")
		if err != nil {
			t.Fatalf("last try: ClaimForQueue(b) = %v", err)
		}
		_ = s.Release(ctx, c, Abandoned)
		tries, abandoned, err := s.RetryCallback(ctx, "b", "gw1", delay, 3)
		if err != nil || tries != 3 || !abandoned {
			t.Errorf("RetryCallback at the last try = %d, %v, %v, want 3, abandoned", tries, abandoned, err)
		}
		if _, err := s.GetCallback(ctx, "b"); !errors.Is(err, ErrCallbackGone) {
			t.Errorf("GetCallback after abandon = %v, want ErrCallbackGone", err)
		}
	})
}

// TestCallbackOwnerDies: a gateway that claimed a callback and died (no
// renewal) loses it when its ownership lapses; the sweep queues it again at
// the head for another gateway.
func TestCallbackOwnerDies(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := cbStore(t, b)
		register(t, s, "1001", time.Hour)
		enqueue(t, s, "support", "b")
		if _, err := s.BookCallback(ctx, Callback{ID: "b", Queue: "support", Number: "5550100"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ClaimForQueue(ctx, "support", "", "b", "gw1"); err != nil {
			t.Fatal(err)
		}
		enqueue(t, s, "support", "c")
		if _, err := s.SweepCallbacks(ctx, 100); err != nil {
			t.Fatal(err)
		}
		if got := dueIDs(t, s); len(got) != 0 {
			t.Errorf("DueCallbacks while gw1 owns it = %v, want none", got)
		}
		b.advance(cbLease + 100*time.Millisecond)
		position(t, s, "support", "c")
		if _, err := s.SweepCallbacks(ctx, 100); err != nil {
			t.Fatal(err)
		}
		if got := dueIDs(t, s); !slices.Equal(got, []string{"b"}) {
			t.Errorf("DueCallbacks after gw1's ownership lapsed = %v, want [b]", got)
		}
		if err := s.RenewCallback(ctx, "b", "gw1"); !errors.Is(err, ErrCallbackGone) {
			t.Errorf("RenewCallback by the dead owner = %v, want ErrCallbackGone", err)
		}
	})
}

// TestCallbackExpires: a callback nobody served within its time is
// reported once by the sweep, and its queue entry is gone.
func TestCallbackExpires(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := cbStore(t, b)
		enqueue(t, s, "support", "b")
		if _, err := s.BookCallback(ctx, Callback{ID: "b", Queue: "support", Number: "5550100"}, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		b.advance(700 * time.Millisecond)
		got, err := s.SweepCallbacks(ctx, 100)
		if err != nil || !slices.Equal(got, []string{"b"}) {
			t.Errorf("SweepCallbacks after the ttl = %v, %v, want [b]", got, err)
		}
		if got, _ := s.SweepCallbacks(ctx, 100); len(got) != 0 {
			t.Errorf("second SweepCallbacks = %v, want none (reported once)", got)
		}
		if p := position(t, s, "support", "b"); p != -1 {
			t.Errorf("Position(b) after expiry = %d, want not queued", p)
		}
	})
}
