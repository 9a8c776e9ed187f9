package routing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRecordCallCountsWithinWindow(t *testing.T) {
	const window = 600 * time.Millisecond
	type step struct {
		advance   time.Duration // before the call
		caller    string
		wantCalls int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"three in the window", []step{{0, "5550100", 1}, {100 * time.Millisecond, "5550100", 2}, {100 * time.Millisecond, "5550100", 3}}},
		{"numbers apart", []step{{0, "5550100", 1}, {0, "5550199", 1}, {0, "5550100", 2}, {0, "h:00ff", 1}}},
		{"old calls drop out", []step{{0, "5550100", 1}, {100 * time.Millisecond, "5550100", 2}, {window + 100*time.Millisecond, "5550100", 1}}},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t, b, Options{})
				for i, st := range tt.steps {
					b.advance(st.advance)
					got, err := s.RecordCall(context.Background(), st.caller, fmt.Sprint("call-", i), window)
					if err != nil || got.Calls != st.wantCalls {
						t.Errorf("step %d: RecordCall(%s) = %+v, %v, want %d calls", i, st.caller, got, err, st.wantCalls)
					}
				}
			})
		}
	})
}

// TestRecentCallsBounded: the history of a number never grows past
// MaxRecentCalls entries and its keys never outlive the window.
func TestRecentCallsBounded(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{})
		const window = time.Hour
		var last RecentCalls
		for i := range MaxRecentCalls + 10 {
			r, err := s.RecordCall(ctx, "5550100", fmt.Sprint("call-", i), window)
			if err != nil {
				t.Fatalf("RecordCall(%d) = %v", i, err)
			}
			last = r
		}
		if last.Calls != MaxRecentCalls {
			t.Errorf("RecordCall after %d calls = %d calls, want %d (capped)", MaxRecentCalls+10, last.Calls, MaxRecentCalls)
		}
		if err := s.SetLastAgent(ctx, "5550100", "1001", window); err != nil {
			t.Fatalf("SetLastAgent() = %v", err)
		}
		for _, k := range []string{s.callsKey("5550100"), s.lastAgentKey("5550100")} {
			if n, _ := s.rdb.Type(ctx, k).Result(); n == "zset" {
				if size := s.rdb.ZCard(ctx, k).Val(); size > MaxRecentCalls {
					t.Errorf("ZCARD %s = %d, want <= %d", k, size, MaxRecentCalls)
				}
			}
			ttl, err := s.rdb.PTTL(ctx, k).Result()
			if err != nil || ttl <= 0 || ttl > window {
				t.Errorf("PTTL %s = %v, %v, want in (0, %v]", k, ttl, err, window)
			}
		}
	})
}

func TestLastAgentRemembered(t *testing.T) {
	const window = 500 * time.Millisecond
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{})
		if r, err := s.RecordCall(ctx, "5550100", "c1", window); err != nil || r.LastAgent != "" {
			t.Errorf("RecordCall(first) = %+v, %v, want no last agent", r, err)
		}
		if err := s.SetLastAgent(ctx, "5550100", "1001", window); err != nil {
			t.Fatalf("SetLastAgent() = %v", err)
		}
		if err := s.SetLastAgent(ctx, "5550100", "1002", window); err != nil {
			t.Fatalf("SetLastAgent() = %v", err)
		}
		if r, err := s.RecordCall(ctx, "5550100", "c2", window); err != nil || r.LastAgent != "1002" || r.Calls != 2 {
			t.Errorf("RecordCall(second) = %+v, %v, want 2 calls, last agent 1002", r, err)
		}
		if r, err := s.RecordCall(ctx, "5550199", "c3", window); err != nil || r.LastAgent != "" {
			t.Errorf("RecordCall(other number) = %+v, %v, want no last agent", r, err)
		}
		b.advance(window + 100*time.Millisecond)
		if r, err := s.RecordCall(ctx, "5550100", "c4", window); err != nil || r.LastAgent != "" || r.Calls != 1 {
			t.Errorf("RecordCall(after the window) = %+v, %v, want 1 call, no last agent", r, err)
		}
	})
}

func TestRepeatInvalidArguments(t *testing.T) {
	s := newStore(t, newMini(t), Options{})
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
	}{
		{"empty caller", func() error { _, err := s.RecordCall(ctx, "", "c1", time.Minute); return err }()},
		{"control char", func() error { _, err := s.RecordCall(ctx, "555\r\n", "c1", time.Minute); return err }()},
		{"long caller", func() error {
			_, err := s.RecordCall(ctx, fmt.Sprintf("%0200d", 5), "c1", time.Minute)
			return err
		}()},
		{"no window", func() error { _, err := s.RecordCall(ctx, "5550100", "c1", 0); return err }()},
		{"bad agent", s.SetLastAgent(ctx, "5550100", "10 01", time.Minute)},
		{"bad prefer", func() error {
			_, err := s.ClaimForQueuePreferring(ctx, "support", "", "c1", "gw1", "a b")
			return err
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, ErrInvalid) {
				t.Errorf("%s = %v, want ErrInvalid", tt.name, tt.err)
			}
		})
	}
}

// TestClaimPrefersLastAgent: a queued repeat caller is offered to the
// preferred agent when that agent is free and has the skill, and to the
// longest-idle agent otherwise.
func TestClaimPrefersLastAgent(t *testing.T) {
	tests := []struct {
		name   string
		skill  string
		prefer string
		setup  func(t *testing.T, s *Store)
		want   string
	}{
		{"no preference: longest idle", "", "", nil, "1001"},
		{"free preferred agent first", "", "1003", nil, "1003"},
		{"preferred agent with the skill", "fr", "1003", nil, "1003"},
		{"preferred agent lacks the skill", "de", "1003", nil, "1002"},
		{"preferred agent ringing elsewhere", "", "1003", func(t *testing.T, s *Store) {
			if _, err := s.Claim(context.Background(), "fr", "other", "gw9"); err != nil {
				t.Fatal(err)
			}
			// 1002 has fr and is longest idle with it: take 1003 too
			if _, err := s.Claim(context.Background(), "fr", "other2", "gw9"); err != nil {
				t.Fatal(err)
			}
		}, "1001"},
		{"preferred agent paused", "", "1003", func(t *testing.T, s *Store) {
			if err := s.Pause(context.Background(), "1003", "break"); err != nil {
				t.Fatal(err)
			}
		}, "1001"},
		{"preferred agent unregistered", "", "1003", func(t *testing.T, s *Store) {
			if err := s.RemoveBinding(context.Background(), "1003"); err != nil {
				t.Fatal(err)
			}
		}, "1001"},
		{"preferred agent unknown", "", "1999", nil, "1001"},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				s := newStore(t, b, Options{})
				register(t, s, "1001", hour)
				b.advance(5 * time.Millisecond)
				register(t, s, "1002", hour, "fr", "de")
				b.advance(5 * time.Millisecond)
				register(t, s, "1003", hour, "fr")
				if tt.setup != nil {
					tt.setup(t, s)
				}
				if _, err := s.Enqueue(ctx, "support", "rc", 0, "gw1"); err != nil {
					t.Fatal(err)
				}
				c, err := s.ClaimForQueuePreferring(ctx, "support", tt.skill, "rc", "gw1", tt.prefer)
				if err != nil || c.Ext != tt.want {
					t.Fatalf("ClaimForQueuePreferring(skill %q, prefer %q) = %s, %v, want %s", tt.skill, tt.prefer, c.Ext, err, tt.want)
				}
				if st := agentState(t, s, c.Ext); st.State != Ringing || st.CallID != "rc" {
					t.Errorf("Agent(%s) = %s call %q, want ringing rc", c.Ext, st.State, st.CallID)
				}
				if _, err := s.Position(ctx, "support", "rc"); !errors.Is(err, ErrNotQueued) {
					t.Errorf("Position(rc) after claim = %v, want ErrNotQueued", err)
				}
				// the claimed agent is out of every idle set: no second call
				if c2, err := s.Claim(ctx, "", "next", "gw1"); err == nil && c2.Ext == c.Ext {
					t.Errorf("Claim(next) = %s again, want another agent", c2.Ext)
				}
			})
		}
	})
}

// TestPreferenceKeepsQueueOrder: a preference never jumps the queue.
func TestPreferenceKeepsQueueOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{})
		register(t, s, "1001", hour)
		for _, call := range []string{"first", "repeat"} {
			if _, err := s.Enqueue(ctx, "support", call, 0, "gw1"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.ClaimForQueuePreferring(ctx, "support", "", "repeat", "gw1", "1001"); !errors.Is(err, ErrNotHead) {
			t.Errorf("ClaimForQueuePreferring(not head) = %v, want ErrNotHead", err)
		}
		if st := agentState(t, s, "1001"); st.State != Available {
			t.Errorf("Agent(1001) = %s, want available", st.State)
		}
	})
}

// TestConcurrentPreferredClaimsNeverShareAnAgent: twenty callers on three
// gateways all prefer the same agent at once: it is given to one of them,
// the others get the rest in order, and no agent gets two calls.
func TestConcurrentPreferredClaimsNeverShareAnAgent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		const agents, claimers = 5, 20
		stores := []*Store{newStore(t, b, Options{})}
		for i := 1; i < 3; i++ {
			stores = append(stores, newStore(t, b, Options{Pool: stores[0].opts.Pool}))
		}
		for i := range agents {
			register(t, stores[0], fmt.Sprint(1001+i), hour)
		}
		var (
			mu   sync.Mutex
			got  = map[string]int{}
			none int
			wg   sync.WaitGroup
		)
		for i := range claimers {
			wg.Go(func() {
				c, err := stores[i%3].claim(context.Background(), "", "", fmt.Sprint("call-", i), fmt.Sprint("gw", i%3), "1003")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ErrNoAgent):
					none++
				case err != nil:
					t.Errorf("claim(prefer 1003) = %v", err)
				default:
					got[c.Ext]++
				}
			})
		}
		wg.Wait()
		if len(got) != agents || none != claimers-agents {
			t.Errorf("claims = %v (%d ErrNoAgent), want each of %d agents once and %d ErrNoAgent", got, none, agents, claimers-agents)
		}
		for ext, n := range got {
			if n != 1 {
				t.Errorf("agent %s claimed %d times, want 1", ext, n)
			}
		}
	})
}
