package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

const hour = time.Hour

func TestClaimPicksLongestIdleWithSkill(t *testing.T) {
	// agents register in this order, 5 ms apart, so earlier = idle longer
	agents := []struct {
		ext    string
		skills []string
	}{
		{"1001", []string{"sales"}},
		{"1002", []string{"support", "fr"}},
		{"1003", []string{"sales", "fr"}},
		{"1004", nil},
	}
	tests := []struct {
		name  string
		skill string
		want  []string // exts claimed one after another, then ErrNoAgent
	}{
		{"any", "", []string{"1001", "1002", "1003", "1004"}},
		{"sales", "sales", []string{"1001", "1003"}},
		{"fr", "fr", []string{"1002", "1003"}},
		{"support", "support", []string{"1002"}},
		{"unknown skill", "de", nil},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t, b, Options{})
				for _, a := range agents {
					register(t, s, a.ext, hour, a.skills...)
					b.advance(5 * time.Millisecond)
				}
				var got []string
				for i := 0; i < len(agents)+1; i++ {
					c, err := s.Claim(context.Background(), tt.skill, fmt.Sprintf("call-%d", i), "gw1")
					if errors.Is(err, ErrNoAgent) {
						break
					}
					if err != nil {
						t.Fatalf("Claim(%q) = %v", tt.skill, err)
					}
					if w := binding(c.Ext); c.Binding.Contact != w.Contact || c.Binding.Source != w.Source ||
						c.Binding.Transport != w.Transport || c.Binding.Expires.Before(time.Now().Add(hour/2)) {
						t.Errorf("Claim(%q).Binding = %+v, want %+v", tt.skill, c.Binding, binding(c.Ext))
					}
					if st := agentState(t, s, c.Ext); st.State != Ringing || st.CallID != fmt.Sprintf("call-%d", i) {
						t.Errorf("Agent(%s) = %s call %q, want ringing call-%d", c.Ext, st.State, st.CallID, i)
					}
					got = append(got, c.Ext)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("Claim(%q) sequence = %v, want %v", tt.skill, got, tt.want)
				}
			})
		}
	})
}

func TestLapsedRegistrationNeverOffered(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{})
		register(t, s, "1001", 300*time.Millisecond) // idle longest, lapses
		b.advance(5 * time.Millisecond)
		register(t, s, "1002", hour)
		b.advance(400 * time.Millisecond)

		if st := agentState(t, s, "1001"); st.State != Offline || st.Registered {
			t.Errorf("Agent(1001) after expiry = %s registered=%v, want offline false", st.State, st.Registered)
		}
		c := mustClaim(t, s, "", "call-1")
		if c.Ext != "1002" {
			t.Errorf("Claim() = %s, want 1002 (1001's registration lapsed)", c.Ext)
		}
		if _, err := s.Claim(ctx, "", "call-2", "gw1"); !errors.Is(err, ErrNoAgent) {
			t.Errorf("Claim() second = %v, want ErrNoAgent", err)
		}
		if _, err := s.Binding(ctx, "1001"); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Binding(1001) = %v, want ErrNotRegistered", err)
		}
		// registering again logs the agent back in
		register(t, s, "1001", hour)
		if c := mustClaim(t, s, "", "call-3"); c.Ext != "1001" {
			t.Errorf("Claim() after re-register = %s, want 1001", c.Ext)
		}
	})
}

func TestSweepDropsLapsedRegistrations(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		s := newStore(t, b, Options{})
		register(t, s, "1001", 300*time.Millisecond)
		register(t, s, "1002", hour)
		b.advance(400 * time.Millisecond)
		r, err := s.Sweep(context.Background())
		if err != nil {
			t.Fatalf("Sweep() = %v", err)
		}
		if r.Lapsed != 1 {
			t.Errorf("Sweep().Lapsed = %d, want 1", r.Lapsed)
		}
		n, err := s.rdb.ZCard(context.Background(), s.prefix+"idle").Result()
		if err != nil || n != 1 {
			t.Errorf("idle set size = %d, %v, want 1", n, err)
		}
	})
}

func TestConcurrentClaimsNeverShareAnAgent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		const agents, claimers = 5, 20
		stores := []*Store{newStore(t, b, Options{})}
		for i := 1; i < 3; i++ { // three gateways on one pool
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
				c, err := stores[i%3].Claim(context.Background(), "", fmt.Sprint("call-", i), fmt.Sprint("gw", i%3))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ErrNoAgent):
					none++
				case err != nil:
					t.Errorf("Claim() = %v", err)
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

func TestLeaseExpiryFreesAgent(t *testing.T) {
	const lease = 300 * time.Millisecond
	tests := []struct {
		name     string
		answered bool
		sweep    bool // via Sweep, else lazily via the next Claim
	}{
		{"ringing, sweep", false, true},
		{"on call, sweep", true, true},
		{"ringing, lazy in claim", false, false},
		{"on call, lazy in claim", true, false},
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				s := newStore(t, b, Options{LeaseTTL: lease})
				register(t, s, "1001", hour)
				c := mustClaim(t, s, "", "dead-gw-call")
				if tt.answered {
					if err := s.Answered(ctx, c); err != nil {
						t.Fatalf("Answered() = %v", err)
					}
					if st := agentState(t, s, "1001").State; st != OnCall {
						t.Fatalf("Agent(1001) = %s, want on_call", st)
					}
				}
				// the lease is renewable while it lives
				b.advance(lease / 3)
				if err := s.Renew(ctx, c); err != nil {
					t.Fatalf("Renew() = %v", err)
				}
				// ... then the gateway dies: nobody renews
				b.advance(lease + 100*time.Millisecond)
				if err := s.Renew(ctx, c); !errors.Is(err, ErrLeaseLost) {
					t.Errorf("Renew() after expiry = %v, want ErrLeaseLost", err)
				}
				if tt.sweep {
					r, err := s.Sweep(ctx)
					if err != nil || r.Leases != 1 {
						t.Errorf("Sweep() = %+v, %v, want 1 lease freed", r, err)
					}
					if st := agentState(t, s, "1001"); st.State != Available || st.CallID != "" {
						t.Errorf("Agent(1001) after sweep = %s call %q, want available, no call", st.State, st.CallID)
					}
				}
				c2 := mustClaim(t, s, "", "next-call")
				if c2.Ext != "1001" || c2.Token == c.Token {
					t.Errorf("Claim() = %s token %s, want 1001 with a new token (old %s)", c2.Ext, c2.Token, c.Token)
				}
			})
		}
	})
}

func TestStaleReleaseIgnored(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{LeaseTTL: 600 * time.Millisecond})
		register(t, s, "1001", hour)
		old := mustClaim(t, s, "", "call-1")
		b.advance(700 * time.Millisecond) // old gateway stalls, lease lapses
		// the same call claims the same agent again: only the token differs
		cur := mustClaim(t, s, "", "call-1")
		if cur.Ext != old.Ext {
			t.Fatalf("Claim() = %s, want %s", cur.Ext, old.Ext)
		}
		for _, o := range []Outcome{Completed, Missed, Abandoned} {
			if err := s.Release(ctx, old, o); err != nil {
				t.Errorf("Release(stale, %v) = %v, want nil", o, err)
			}
		}
		if err := s.Answered(ctx, old); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Answered(stale) = %v, want ErrLeaseLost", err)
		}
		if st := agentState(t, s, "1001"); st.State != Ringing || st.Misses != 0 {
			t.Errorf("Agent(1001) after stale releases = %s misses %d, want ringing 0", st.State, st.Misses)
		}
		if err := s.Renew(ctx, cur); err != nil {
			t.Errorf("Renew(current) = %v", err)
		}
		// release twice: the second is a no-op
		for i := range 2 {
			if err := s.Release(ctx, cur, Declined); err != nil {
				t.Errorf("Release(current) #%d = %v", i, err)
			}
		}
		if st := agentState(t, s, "1001").State; st != Available {
			t.Errorf("Agent(1001) = %s, want available", st)
		}
	})
}

func TestReleaseOutcomes(t *testing.T) {
	const wrap = 300 * time.Millisecond
	tests := []struct {
		outcome   Outcome
		wantState State
		wantNext  string // who the next Claim gets: 1001 was idle longer than 1002
		wantMiss  int
	}{
		{Completed, WrapUp, "1002", 0},
		{Missed, Available, "1002", 1},
		{Declined, Available, "1002", 0},
		{Failed, Available, "1002", 0},
		{Abandoned, Available, "1001", 0}, // keeps its place
	}
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, tt := range tests {
			t.Run(tt.outcome.String(), func(t *testing.T) {
				ctx := context.Background()
				s := newStore(t, b, Options{WrapUp: wrap})
				register(t, s, "1001", hour)
				b.advance(5 * time.Millisecond)
				register(t, s, "1002", hour)
				b.advance(5 * time.Millisecond)
				c := mustClaim(t, s, "", "call-1")
				if c.Ext != "1001" {
					t.Fatalf("Claim() = %s, want 1001", c.Ext)
				}
				if tt.outcome == Completed {
					if err := s.Answered(ctx, c); err != nil {
						t.Fatalf("Answered() = %v", err)
					}
				}
				b.advance(5 * time.Millisecond)
				if err := s.Release(ctx, c, tt.outcome); err != nil {
					t.Fatalf("Release(%v) = %v", tt.outcome, err)
				}
				st := agentState(t, s, "1001")
				if st.State != tt.wantState || st.Misses != tt.wantMiss || st.CallID != "" {
					t.Errorf("Release(%v): agent = %s misses %d call %q, want %s misses %d no call",
						tt.outcome, st.State, st.Misses, st.CallID, tt.wantState, tt.wantMiss)
				}
				if next := mustClaim(t, s, "", "call-2"); next.Ext != tt.wantNext {
					t.Errorf("Release(%v): next Claim() = %s, want %s", tt.outcome, next.Ext, tt.wantNext)
				}
			})
		}
	})
}

func TestWrapUpEndsWithoutLocalTimer(t *testing.T) {
	const wrap = 500 * time.Millisecond
	eachBackend(t, func(t *testing.T, b *backend) {
		for _, viaSweep := range []bool{true, false} {
			t.Run(fmt.Sprint("sweep=", viaSweep), func(t *testing.T) {
				ctx := context.Background()
				s := newStore(t, b, Options{WrapUp: wrap})
				register(t, s, "1001", hour)
				c := mustClaim(t, s, "", "call-1")
				if err := s.Release(ctx, c, Completed); err != nil {
					t.Fatalf("Release() = %v", err)
				}
				if _, err := s.Claim(ctx, "", "call-2", "gw1"); !errors.Is(err, ErrNoAgent) {
					t.Fatalf("Claim() during wrap-up = %v, want ErrNoAgent", err)
				}
				wrapUntil := agentState(t, s, "1001").WrapUntil
				b.advance(wrap + 50*time.Millisecond)
				if viaSweep {
					if r, err := s.Sweep(ctx); err != nil || r.WrapUps != 1 {
						t.Fatalf("Sweep() = %+v, %v, want 1 wrap-up ended", r, err)
					}
					st := agentState(t, s, "1001")
					if st.State != Available || !st.IdleSince.Equal(wrapUntil) {
						t.Errorf("Agent(1001) = %s idle since %v, want available since %v", st.State, st.IdleSince, wrapUntil)
					}
				}
				if c := mustClaim(t, s, "", "call-3"); c.Ext != "1001" {
					t.Errorf("Claim() after wrap-up = %s, want 1001", c.Ext)
				}
			})
		}
	})
}

func TestMissedCallsPauseAgent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{MaxMisses: 2, WrapUp: -1})
		register(t, s, "1001", hour)
		for i := range 2 {
			c := mustClaim(t, s, "", fmt.Sprint("call-", i))
			if err := s.Release(ctx, c, Missed); err != nil {
				t.Fatalf("Release(missed) = %v", err)
			}
		}
		if st := agentState(t, s, "1001"); st.State != Paused || st.Reason != "missed_calls" || st.Misses != 2 {
			t.Errorf("Agent(1001) after 2 misses = %s %q misses %d, want paused \"missed_calls\" 2", st.State, st.Reason, st.Misses)
		}
		if _, err := s.Claim(ctx, "", "call-x", "gw1"); !errors.Is(err, ErrNoAgent) {
			t.Errorf("Claim() with paused agent = %v, want ErrNoAgent", err)
		}
		if err := s.Resume(ctx, "1001"); err != nil {
			t.Fatalf("Resume() = %v", err)
		}
		if st := agentState(t, s, "1001"); st.State != Available || st.Misses != 0 {
			t.Errorf("Agent(1001) after resume = %s misses %d, want available 0", st.State, st.Misses)
		}
		// a completed call also clears the count
		c := mustClaim(t, s, "", "call-a")
		_ = s.Release(ctx, c, Missed)
		c = mustClaim(t, s, "", "call-b")
		_ = s.Release(ctx, c, Completed)
		if st := agentState(t, s, "1001"); st.Misses != 0 || st.State != Available {
			t.Errorf("Agent(1001) after completed call = %s misses %d, want available 0", st.State, st.Misses)
		}
	})
}

func TestPauseResumeRegister(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{WrapUp: -1})
		steps := []struct {
			name string
			do   func() error
			want State
		}{
			{"never seen", func() error { return nil }, Offline},
			{"register", func() error { return s.SetBinding(ctx, "1001", binding("1001"), hour) }, Available},
			{"pause", func() error { return s.Pause(ctx, "1001", "lunch") }, Paused},
			{"refresh keeps pause", func() error { return s.SetBinding(ctx, "1001", binding("1001"), hour) }, Paused},
			{"resume", func() error { return s.Resume(ctx, "1001") }, Available},
			{"unregister", func() error { return s.RemoveBinding(ctx, "1001") }, Offline},
			{"pause offline", func() error { return s.Pause(ctx, "1001", "away") }, Paused},
			{"register while paused", func() error { return s.SetBinding(ctx, "1001", binding("1001"), hour) }, Paused},
			{"resume 2", func() error { return s.Resume(ctx, "1001") }, Available},
		}
		for _, st := range steps {
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if got := agentState(t, s, "1001").State; got != st.want {
				t.Errorf("%s: Agent(1001) = %s, want %s", st.name, got, st.want)
			}
		}

		// pause during a call takes effect at release
		c := mustClaim(t, s, "", "call-1")
		if err := s.Pause(ctx, "1001", "break"); err != nil {
			t.Fatalf("Pause() in call = %v", err)
		}
		if got := agentState(t, s, "1001").State; got != Ringing {
			t.Errorf("Agent(1001) after Pause in call = %s, want ringing", got)
		}
		if err := s.Release(ctx, c, Completed); err != nil {
			t.Fatalf("Release() = %v", err)
		}
		if got := agentState(t, s, "1001"); got.State != Paused || got.Reason != "break" {
			t.Errorf("Agent(1001) after release = %s %q, want paused \"break\"", got.State, got.Reason)
		}

		// unregistered agent cannot resume into service
		_ = s.RemoveBinding(ctx, "1001")
		if err := s.Resume(ctx, "1001"); !errors.Is(err, ErrNotRegistered) {
			t.Errorf("Resume(unregistered) = %v, want ErrNotRegistered", err)
		}

		all, err := s.Agents(ctx)
		if err != nil || len(all) != 1 || all[0].Ext != "1001" {
			t.Errorf("Agents() = %+v, %v, want [1001]", all, err)
		}
	})
}

func TestInvalidArguments(t *testing.T) {
	s := New(nil, Options{}) // validation happens before any Redis call
	ctx := context.Background()
	bad := binding("1001")
	bad.Contact = "sip:1001@127.0.0.1\r\nVia: evil"
	tests := []struct {
		name string
		err  error
	}{
		{"ext with space", s.SetBinding(ctx, "10 01", binding("1001"), hour)},
		{"contact with CRLF", s.SetBinding(ctx, "1001", bad, hour)},
		{"zero ttl", s.SetBinding(ctx, "1001", binding("1001"), 0)},
		{"skill with brace", s.SetSkills(ctx, "1001", []string{"a{b}"})},
		{"empty call id", func() error { _, err := s.Claim(ctx, "", "", "gw"); return err }()},
		{"call id with newline", func() error { _, err := s.Claim(ctx, "", "a\nb", "gw"); return err }()},
		{"priority too high", func() error { _, err := s.Enqueue(ctx, "q", "c", MaxPriority+1, "gw"); return err }()},
		{"bad outcome", s.Release(ctx, Claim{Ext: "1001"}, Outcome(42))},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, tt.err)
		}
	}
}
