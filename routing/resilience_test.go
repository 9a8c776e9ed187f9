package routing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRedisDownAndBack: a dead Redis turns into ErrUnavailable quickly, and
// the same client works again once Redis is back (go-redis reconnects).
func TestRedisDownAndBack(t *testing.T) {
	srv := startRedisServer(t, 0)
	b := &backend{name: "redis", url: srv.url()}
	ctx := context.Background()
	s := newStore(t, b, Options{OpTimeout: 500 * time.Millisecond})
	register(t, s, "1001", hour)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping() = %v", err)
	}

	srv.kill()
	calls := []struct {
		name string
		do   func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"Claim", func() error { _, err := s.Claim(ctx, "", "c1", "gw1"); return err }},
		{"SetBinding", func() error { return s.SetBinding(ctx, "1001", binding("1001"), hour) }},
		{"Enqueue", func() error { _, err := s.Enqueue(ctx, "q", "c1", 0, "gw1"); return err }},
		{"Agents", func() error { _, err := s.Agents(ctx); return err }},
	}
	for _, c := range calls {
		start := time.Now()
		err := c.do()
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s() with Redis down = %v, want ErrUnavailable", c.name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s() with Redis down took %v, want < 2s", c.name, d)
		}
	}

	startRedisServer(t, srv.port) // same address, empty data set
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("Ping() still failing 10s after Redis came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// the state died with the server (no persistence): agents register again
	register(t, s, "1001", hour)
	if c := mustClaim(t, s, "", "c2"); c.Ext != "1001" {
		t.Errorf("Claim() after restart = %s, want 1001", c.Ext)
	}
}

// TestThreeGatewaysRace is the concurrency test of issue 3: three
// independent Stores (three gateways) on one real Redis race thousands of
// claims and releases; no agent may be held by two calls at once, and at the
// end no agent may be stuck.
func TestThreeGatewaysRace(t *testing.T) {
	const (
		agents   = 20
		gateways = 3
		workers  = 8
		rounds   = 200 // per worker: 3*8*200 = 4,800 claim attempts
		lease    = 300 * time.Millisecond
	)
	b := newReal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := Options{LeaseTTL: lease, WrapUp: 5 * time.Millisecond, MaxMisses: 1 << 30}
	stores := []*Store{newStore(t, b, opts)}
	opts.Pool = stores[0].opts.Pool
	for range gateways - 1 {
		stores = append(stores, newStore(t, b, opts))
	}
	for i := range agents {
		register(t, stores[0], fmt.Sprint(1001+i), hour, []string{"a", "b"}[i%2])
	}

	var (
		mu      sync.Mutex
		holder  = map[string]string{} // ext -> call currently holding it
		doubles atomic.Int64
		claims  atomic.Int64
		dead    atomic.Int64
		stale   []Claim // claims of "dead" gateways, released late
		wg      sync.WaitGroup
	)
	for g, s := range stores {
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), uint64(w)))
				for r := range rounds {
					if ctx.Err() != nil {
						return
					}
					call := fmt.Sprintf("g%d-w%d-r%d", g, w, r)
					skill := []string{"", "a", "b"}[rng.IntN(3)]
					// half the claims prefer an agent (a repeat caller's
					// last one), which must not weaken the guarantees
					prefer := ""
					if rng.IntN(2) == 0 {
						prefer = fmt.Sprint(1001 + rng.IntN(agents))
					}
					c, err := s.claim(ctx, "", skill, call, fmt.Sprint("gw", g), prefer)
					if errors.Is(err, ErrNoAgent) {
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						t.Errorf("Claim() = %v", err)
						return
					}
					claims.Add(1)
					mu.Lock()
					if other, ok := holder[c.Ext]; ok {
						doubles.Add(1)
						t.Errorf("agent %s claimed by %s while held by %s", c.Ext, call, other)
					}
					holder[c.Ext] = call
					mu.Unlock()

					if rng.IntN(2) == 0 {
						if err := s.Answered(ctx, c); err != nil {
							t.Errorf("Answered(%s) = %v", call, err)
						}
					}
					// Un-hold before Release: once released, another claim may
					// legitimately take the agent at once.
					kill := rng.IntN(100) == 0
					mu.Lock()
					delete(holder, c.Ext)
					if kill {
						stale = append(stale, c)
					}
					mu.Unlock()
					if kill {
						// this "gateway" dies holding the agent: its lease
						// must free it; its late release must change nothing
						dead.Add(1)
						continue
					}
					o := []Outcome{Completed, Missed, Declined, Failed, Abandoned}[rng.IntN(5)]
					if err := s.Release(ctx, c, o); err != nil {
						t.Errorf("Release(%s) = %v", call, err)
					}
				}
			})
		}
	}
	// Late releases of dead gateways' claims race with everything else.
	workersDone := make(chan struct{})
	var lateWG sync.WaitGroup
	lateWG.Go(func() {
		for {
			var finished bool
			select {
			case <-workersDone:
				finished = true
			case <-time.After(lease + 50*time.Millisecond):
			}
			mu.Lock()
			late := stale
			stale = nil
			mu.Unlock()
			for _, c := range late {
				if err := stores[0].Release(ctx, c, Completed); err != nil {
					t.Errorf("late Release(%s) = %v", c.CallID, err)
				}
			}
			if finished || ctx.Err() != nil {
				return
			}
		}
	})
	wg.Wait()
	close(workersDone)
	lateWG.Wait()
	if ctx.Err() != nil {
		t.Fatalf("race did not finish within 20s: %v", ctx.Err())
	}
	t.Logf("%d claims, %d dead-gateway claims, %d double bookings", claims.Load(), dead.Load(), doubles.Load())
	if claims.Load() < 1000 {
		t.Errorf("only %d successful claims, want >= 1000 for a meaningful race", claims.Load())
	}

	// nobody stuck: leases and wrap-ups run out, a sweep settles them
	time.Sleep(lease + 100*time.Millisecond)
	if _, err := stores[1].Sweep(ctx); err != nil {
		t.Fatalf("Sweep() = %v", err)
	}
	all, err := stores[2].Agents(ctx)
	if err != nil {
		t.Fatalf("Agents() = %v", err)
	}
	if len(all) != agents {
		t.Errorf("Agents() = %d agents, want %d", len(all), agents)
	}
	for _, a := range all {
		if a.State != Available {
			t.Errorf("Agent(%s) = %s call %q, want available (stuck)", a.Ext, a.State, a.CallID)
		}
	}
}
