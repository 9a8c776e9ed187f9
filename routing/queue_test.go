package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestQueueOrderAndHeadOnlyClaims(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{WrapUp: -1})
		enq := []struct {
			call    string
			prio    int
			wantPos int
		}{
			{"c1", 0, 1},
			{"c2", 0, 2},
			{"c3", 5, 1}, // priority goes ahead of everyone waiting
			{"c4", 0, 4},
			{"c5", 5, 2}, // behind the earlier priority caller
			{"c1", 0, 3}, // enqueueing again keeps the place
		}
		for _, e := range enq {
			pos, err := s.Enqueue(ctx, "sales", e.call, e.prio, "gw1")
			if err != nil || pos != e.wantPos {
				t.Errorf("Enqueue(%s, prio %d) = %d, %v, want %d", e.call, e.prio, pos, err, e.wantPos)
			}
		}
		order := []string{"c3", "c5", "c1", "c2", "c4"}
		for i, call := range order {
			if pos, err := s.Position(ctx, "sales", call); err != nil || pos != i+1 {
				t.Errorf("Position(%s) = %d, %v, want %d", call, pos, err, i+1)
			}
		}
		// nobody on duty: the head waits, the others are not the head
		if _, err := s.ClaimForQueue(ctx, "sales", "", "c3", "gw1"); !errors.Is(err, ErrNoAgent) {
			t.Errorf("ClaimForQueue(head, no agents) = %v, want ErrNoAgent", err)
		}
		register(t, s, "1001", hour)
		register(t, s, "1002", hour)
		if _, err := s.ClaimForQueue(ctx, "sales", "", "c1", "gw1"); !errors.Is(err, ErrNotHead) {
			t.Errorf("ClaimForQueue(c1, not head) = %v, want ErrNotHead", err)
		}
		if _, err := s.ClaimForQueue(ctx, "sales", "", "nobody", "gw1"); !errors.Is(err, ErrNotQueued) {
			t.Errorf("ClaimForQueue(unknown call) = %v, want ErrNotQueued", err)
		}
		var served []string
		for _, call := range order {
			c, err := s.ClaimForQueue(ctx, "sales", "", call, "gw2")
			if errors.Is(err, ErrNoAgent) {
				break
			}
			if err != nil {
				t.Fatalf("ClaimForQueue(%s) = %v", call, err)
			}
			served = append(served, call)
			if _, err := s.Position(ctx, "sales", call); !errors.Is(err, ErrNotQueued) {
				t.Errorf("Position(%s) after claim = %v, want ErrNotQueued", call, err)
			}
			if err := s.Release(ctx, c, Completed); err != nil {
				t.Fatalf("Release() = %v", err)
			}
		}
		if !slices.Equal(served, order) {
			t.Errorf("served = %v, want %v", served, order)
		}
	})
}

func TestQueueLeaveAndDeadCallers(t *testing.T) {
	// alive callers keep ttl/2-100ms of margin, dead ones are 100ms past
	const ttl = 600 * time.Millisecond
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{QueueTTL: ttl})
		for _, c := range []string{"c1", "c2", "c3", "c4"} {
			if _, err := s.Enqueue(ctx, "q", c, 0, "gw1"); err != nil {
				t.Fatalf("Enqueue(%s) = %v", c, err)
			}
		}
		if err := s.Leave(ctx, "q", "c2"); err != nil {
			t.Fatalf("Leave(c2) = %v", err)
		}
		if err := s.Leave(ctx, "q", "c2"); err != nil {
			t.Errorf("Leave(c2) again = %v, want nil", err)
		}
		// c1's gateway dies: only c3 and c4 keep heartbeating
		b.advance(ttl / 2)
		for _, c := range []string{"c3", "c4"} {
			if err := s.Heartbeat(ctx, "q", c); err != nil {
				t.Fatalf("Heartbeat(%s) = %v", c, err)
			}
		}
		b.advance(ttl/2 + 100*time.Millisecond)
		tests := []struct {
			call string
			pos  int
			err  error
		}{
			{"c1", 0, ErrNotQueued}, // heartbeat lapsed
			{"c2", 0, ErrNotQueued}, // left
			{"c3", 1, nil},
			{"c4", 2, nil},
		}
		for _, tt := range tests {
			pos, err := s.Position(ctx, "q", tt.call)
			if pos != tt.pos || !errors.Is(err, tt.err) {
				t.Errorf("Position(%s) = %d, %v, want %d, %v", tt.call, pos, err, tt.pos, tt.err)
			}
		}
		register(t, s, "1001", hour)
		if c, err := s.ClaimForQueue(ctx, "q", "", "c3", "gw1"); err != nil || c.Ext != "1001" {
			t.Errorf("ClaimForQueue(c3) = %+v, %v, want 1001", c, err)
		}
	})
}

func TestDeadHeadDoesNotBlockQueue(t *testing.T) {
	// alive callers keep ttl/2-100ms of margin, dead ones are 100ms past
	const ttl = 600 * time.Millisecond
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{QueueTTL: ttl})
		register(t, s, "1001", hour)
		_ = s.Pause(ctx, "1001", "setup")
		_, _ = s.Enqueue(ctx, "q", "dead", 0, "gw-dead")
		_, _ = s.Enqueue(ctx, "q", "alive", 0, "gw1")
		b.advance(ttl / 2)
		_ = s.Heartbeat(ctx, "q", "alive")
		b.advance(ttl/2 + 100*time.Millisecond)
		_ = s.Resume(ctx, "1001")
		// no Position call pruned "dead": ClaimForQueue must skip it itself
		if c, err := s.ClaimForQueue(ctx, "q", "", "alive", "gw1"); err != nil || c.Ext != "1001" {
			t.Errorf("ClaimForQueue(alive behind dead head) = %+v, %v, want 1001", c, err)
		}
	})
}

// TestClaimBehindDeadAndLive: two dead callers at the front are dropped by
// the claim, but a live one behind them still comes first.
func TestClaimBehindDeadAndLive(t *testing.T) {
	const ttl = 600 * time.Millisecond
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{QueueTTL: ttl})
		register(t, s, "1001", hour)
		for _, c := range []string{"dead1", "dead2", "first", "me"} {
			if _, err := s.Enqueue(ctx, "q", c, 0, "gw1"); err != nil {
				t.Fatal(err)
			}
		}
		b.advance(ttl / 2)
		_ = s.Heartbeat(ctx, "q", "first")
		_ = s.Heartbeat(ctx, "q", "me")
		b.advance(ttl/2 + 100*time.Millisecond)
		if _, err := s.ClaimForQueue(ctx, "q", "", "me", "gw1"); !errors.Is(err, ErrNotHead) {
			t.Errorf("ClaimForQueue(me behind dead, dead, live) = %v, want ErrNotHead", err)
		}
		if pos, err := s.Position(ctx, "q", "me"); err != nil || pos != 2 {
			t.Errorf("Position(me) = %d, %v, want 2 (the dead dropped, first ahead)", pos, err)
		}
		if err := s.Leave(ctx, "q", "first"); err != nil {
			t.Fatal(err)
		}
		if c, err := s.ClaimForQueue(ctx, "q", "", "me", "gw1"); err != nil || c.Ext != "1001" {
			t.Errorf("ClaimForQueue(me, now the head) = %+v, %v, want 1001", c, err)
		}
	})
}

func TestEventsWakeSubscribers(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		gw1 := newStore(t, b, Options{WrapUp: -1})
		gw2 := newStore(t, b, Options{Pool: gw1.opts.Pool})
		sctx, cancel := context.WithCancel(ctx)
		wake := gw1.Subscribe(sctx)
		pubsubReady(t, gw1)
		register(t, gw2, "1001", hour)
		c := mustClaim(t, gw2, "", "call-1")
		_, _ = gw2.Enqueue(ctx, "q", "waiting", 0, "gw2")
		drain(wake)
		events := []struct {
			name string
			do   func() error
		}{
			{"agent released", func() error { return gw2.Release(ctx, c, Declined) }},
			{"caller left", func() error { return gw2.Leave(ctx, "q", "waiting") }},
			{"agent resumed", func() error {
				if err := gw2.Pause(ctx, "1001", "x"); err != nil {
					return err
				}
				drain(wake)
				return gw2.Resume(ctx, "1001")
			}},
		}
		for _, e := range events {
			if err := e.do(); err != nil {
				t.Fatalf("%s: %v", e.name, err)
			}
			select {
			case <-wake:
			case <-time.After(2 * time.Second):
				t.Errorf("%s: subscriber not woken within 2s", e.name)
			}
		}
		cancel()
		select {
		case _, ok := <-wake:
			for ok {
				_, ok = <-wake
			}
		case <-time.After(time.Second):
			t.Errorf("Subscribe channel not closed after its context ended")
		}
	})
}

func drain(ch <-chan struct{}) {
	time.Sleep(50 * time.Millisecond) // let in-flight messages arrive
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestWaitForAgentWakesOnEvent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// a fallback poll far longer than the test proves the wake-up is the event
		gw1 := newStore(t, b, Options{PollInterval: time.Minute, QueueTTL: time.Minute})
		gw2 := newStore(t, b, Options{Pool: gw1.opts.Pool, PollInterval: time.Minute, QueueTTL: time.Minute})
		for i, call := range []string{"first", "second"} {
			if _, err := gw1.Enqueue(ctx, "q", call, 0, fmt.Sprint("gw", i)); err != nil {
				t.Fatalf("Enqueue(%s) = %v", call, err)
			}
		}
		type result struct {
			c   Claim
			err error
			at  time.Time
		}
		res := make(chan result, 2)
		for _, w := range []struct {
			s    *Store
			call string
		}{{gw2, "second"}, {gw1, "first"}} {
			go func() {
				c, err := w.s.WaitForAgent(ctx, "q", "", w.call, "gw")
				res <- result{c, err, time.Now()}
			}()
		}
		pubsubReady(t, gw1)
		pubsubReady(t, gw2)
		time.Sleep(100 * time.Millisecond) // both are waiting now
		start := time.Now()
		register(t, gw2, "1001", hour)
		r := <-res
		if r.err != nil || r.c.CallID != "first" {
			t.Fatalf("WaitForAgent: first served = %+v, %v, want call first", r.c, r.err)
		}
		if d := r.at.Sub(start); d > time.Second {
			t.Errorf("WaitForAgent took %v after the agent registered, want < 1s", d)
		}
		if pos, err := gw1.Position(ctx, "q", "second"); err != nil || pos != 1 {
			t.Errorf("Position(second) = %d, %v, want 1", pos, err)
		}
		register(t, gw1, "1002", hour)
		if r := <-res; r.err != nil || r.c.CallID != "second" || r.c.Ext != "1002" {
			t.Errorf("WaitForAgent: second served = %+v, %v, want 1002", r.c, r.err)
		}
	})
}

func TestWaitForAgentLeavesOnCancel(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		s := newStore(t, b, Options{PollInterval: 50 * time.Millisecond})
		_, _ = s.Enqueue(context.Background(), "q", "c1", 0, "gw1")
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := s.WaitForAgent(ctx, "q", "", "c1", "gw1"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitForAgent() = %v, want DeadlineExceeded", err)
		}
		if _, err := s.Position(context.Background(), "q", "c1"); !errors.Is(err, ErrNotQueued) {
			t.Errorf("Position(c1) after cancelled wait = %v, want ErrNotQueued", err)
		}
	})
}

func TestEstimatedWait(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		ctx := context.Background()
		s := newStore(t, b, Options{DefaultHandleTime: 2 * time.Minute})
		if _, err := s.EstimatedWait(ctx, "q", "", 1); !errors.Is(err, ErrNoAgent) {
			t.Errorf("EstimatedWait(no agents) = %v, want ErrNoAgent", err)
		}
		register(t, s, "1001", hour, "sales")
		register(t, s, "1002", hour, "sales")
		register(t, s, "1003", hour, "support")
		register(t, s, "1004", hour, "sales")
		_ = s.Pause(ctx, "1004", "away")      // not on duty
		mustClaim(t, s, "sales", "busy-call") // ringing counts as on duty

		tests := []struct {
			name    string
			record  []time.Duration
			skill   string
			pos     int
			want    time.Duration
			wantErr error
		}{
			{"no history uses default", nil, "sales", 1, time.Minute, nil},                                                // 2m*1/2
			{"mean of history", []time.Duration{60 * time.Second, 120 * time.Second}, "sales", 3, 135 * time.Second, nil}, // 90s*3/2
			{"any skill counts all on duty", nil, "", 3, 90 * time.Second, nil},                                           // 90s*3/3
			{"nobody with skill", nil, "de", 1, 0, ErrNoAgent},
		}
		for _, tt := range tests {
			for _, d := range tt.record {
				if err := s.RecordHandleTime(ctx, "q", d); err != nil {
					t.Fatalf("RecordHandleTime() = %v", err)
				}
			}
			got, err := s.EstimatedWait(ctx, "q", tt.skill, tt.pos)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("%s: EstimatedWait(%q, %d) = %v, %v, want %v, %v", tt.name, tt.skill, tt.pos, got, err, tt.want, tt.wantErr)
			}
		}
		for range 60 {
			_ = s.RecordHandleTime(ctx, "q", time.Second)
		}
		if n, _ := s.rdb.LLen(ctx, s.prefix+"ht:q").Result(); n != handleTimes {
			t.Errorf("handle time list length = %d, want %d", n, handleTimes)
		}
	})
}
