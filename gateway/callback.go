package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip"
)

// Callbacks that keep the caller's place. A caller who has waited long (or
// whose estimated wait is long) hears, after "all our people are busy",
// "press 1 to keep your place and have us call you back". Pressing it books
// the callback in Redis on the caller's queue entry, which from then on
// lives as long as the callback, not as long as the caller's call: the
// caller hangs up and keeps their place. When the entry reaches the head of
// its queue, any gateway with a trunk claims an agent for it, calls the
// agent first (who hears "callback, calling the customer now" and the
// caller's summary), then the caller through the trunk, and bridges them.
// An unanswered caller is tried again after RetryAfter, at the head of the
// queue, up to Retries more times; then, or when TTL passes unserved, the
// callback is dropped and counted.

// CallbackStore is the callbacks' shared state; *routing.Store implements it.
type CallbackStore interface {
	BookCallback(ctx context.Context, cb routing.Callback, ttl time.Duration) (int, error)
	GetCallback(ctx context.Context, id string) (routing.Callback, error)
	DueCallbacks(ctx context.Context, max int) ([]routing.Callback, error)
	RenewCallback(ctx context.Context, id, gatewayID string) error
	RequeueCallback(ctx context.Context, id, gatewayID string) error
	RetryCallback(ctx context.Context, id, gatewayID string, delay time.Duration, maxTries int) (int, bool, error)
	FinishCallback(ctx context.Context, id string) error
	SweepCallbacks(ctx context.Context, max int) ([]string, error)
}

var _ CallbackStore = (*routing.Store)(nil)

// CallbackConfig configures callbacks; Store nil or no Trunk: none offered.
type CallbackConfig struct {
	Store       CallbackStore
	Trunk       netip.AddrPort // where calls to callers go (an IP literal: no name is ever resolved)
	OfferAfter  time.Duration  // offered once the wait, so far or estimated, reaches this (60 s)
	Key         byte           // books it while offered ('1')
	Retries     int            // further calls to a caller who did not answer (2)
	RetryAfter  time.Duration  // between those calls (60 s)
	RingTimeout time.Duration  // the caller's phone rings this long (30 s)
	TTL         time.Duration  // a callback not served by then is dropped (2 h)
	From        string         // the From user of calls to callers ("support")
	Every       time.Duration  // how often the queue heads are checked without a notification (1 s)
}

func (c CallbackConfig) withDefaults() CallbackConfig {
	if c.OfferAfter <= 0 {
		c.OfferAfter = time.Minute
	}
	if c.Key == 0 {
		c.Key = '1'
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = time.Minute
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.TTL <= 0 {
		c.TTL = 2 * time.Hour
	}
	if c.From == "" {
		c.From = "support"
	}
	if c.Every <= 0 {
		c.Every = time.Second
	}
	return c
}

func (c CallbackConfig) enabled() bool { return c.Store != nil && c.Trunk.IsValid() }

// ErrCallbackBooked ends the caller's call: they will be called back, and
// have heard so.
var ErrCallbackBooked = fmt.Errorf("callback booked: %w", ivr.ErrEndCall)

// CallbackStats count callbacks by outcome since start.
type CallbackStats struct {
	Offered, Booked, Connected, Retried, Abandoned, Expired uint64
	Active                                                  int64 // callback calls in progress
}

type callbackCounters struct {
	offered, booked, connected, retried, abandoned, expired atomic.Uint64
	active                                                  atomic.Int64
}

// CallbackStats returns the callback counters.
func (f *Fallback) CallbackStats() CallbackStats {
	c := &f.cbStats
	return CallbackStats{Offered: c.offered.Load(), Booked: c.booked.Load(), Connected: c.connected.Load(),
		Retried: c.retried.Load(), Abandoned: c.abandoned.Load(), Expired: c.expired.Load(), Active: c.active.Load()}
}

// offersCallback reports whether a caller who waited so far (or is
// estimated to wait estimate) is offered a callback.
func (f *Fallback) offersCallback(leg *Leg, waited, estimate time.Duration) bool {
	cb := f.cfg.Callback
	if !cb.enabled() || !routing.ValidNumber(leg.Caller.User) {
		return false
	}
	return waited >= cb.OfferAfter || estimate >= cb.OfferAfter
}

// bookCallback turns the caller's queue entry into a callback. It returns
// ErrCallbackBooked once the caller heard so, or nil when it could not be
// booked (the caller keeps waiting on the line, and hears nothing new).
func (f *Fallback) bookCallback(ctx context.Context, leg *Leg, queue string, t ivr.Transfer, queued time.Time, log *slog.Logger) error {
	cfg := f.cfg.Callback
	pop := f.screenPop(leg, t, queue, time.Since(queued))
	pos, err := cfg.Store.BookCallback(ctx, routing.Callback{ID: leg.ID, Queue: queue, Number: leg.Caller.User,
		Lang: t.Lang, Fields: pop.fields()}, cfg.TTL)
	if err != nil {
		log.Warn("callback not booked; the caller keeps waiting", "err", err)
		leg.note(journey.Step{Kind: journey.StepCallback, Queue: queue, Reason: "refused"})
		return nil
	}
	f.cbStats.booked.Add(1)
	leg.note(journey.Step{Kind: journey.StepCallback, Queue: queue, Reason: "booked"})
	log.Info("callback booked", "position", pos, "ttl", cfg.TTL.String())
	_ = leg.Play(ctx, t.Lang, "callback_booked")
	return ErrCallbackBooked
}

// fields are the screen pop kept with a callback, by the names of
// routing.Callback.Fields (the queue and language are kept apart).
func (p screenPop) fields() map[string]string {
	return map[string]string{"path": p.Path, "keys": p.Keys, "reason": p.Reason, "wait": strconv.Itoa(p.Wait),
		"repeat": strconv.Itoa(p.Repeat), "digits": p.Digits}
}

// callbackPop is the screen pop of a callback's agent leg.
func callbackPop(cb routing.Callback, lang string) screenPop {
	p := screenPop{Path: cb.Fields["path"], Keys: cb.Fields["keys"], Reason: cb.Fields["reason"],
		Language: lang, Queue: cb.Queue, Digits: cb.Fields["digits"], Callback: true}
	p.Wait, _ = strconv.Atoi(cb.Fields["wait"])
	if !cb.Booked.IsZero() {
		p.Wait += int(time.Since(cb.Booked) / time.Second)
	}
	p.Repeat, _ = strconv.Atoi(cb.Fields["repeat"])
	return p
}

// RunCallbacks serves the callbacks at the head of their queues until ctx
// ends, then waits for the callback calls in progress (which end with it).
// While paused reports true (a draining gateway) no new one is started.
// It does nothing unless callbacks are configured.
func (f *Fallback) RunCallbacks(ctx context.Context, paused func() bool) {
	cfg := f.cfg.Callback
	if !cfg.enabled() {
		return
	}
	log := f.log()
	calls, _ := newGroup(ctx, log) // every callback call in progress
	defer func() { _ = calls.Wait() }()
	wake := f.cfg.Pool.Subscribe(ctx)
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	// Notifications come with every change in the pool's agents and queues:
	// at most ten looks a second for them, so a busy pool does not turn
	// into Redis load here; the tick catches what a skipped one missed.
	var last time.Time
	for {
		sweep := false
		select {
		case <-ctx.Done():
			return
		case <-wake:
			if time.Since(last) < 100*time.Millisecond {
				continue
			}
		case <-tick.C:
			sweep = true
		}
		last = time.Now()
		if paused != nil && paused() {
			continue
		}
		if sweep {
			expired, err := cfg.Store.SweepCallbacks(ctx, 100)
			if err == nil {
				for _, id := range expired {
					f.cbStats.expired.Add(1)
					log.Warn("callback expired unserved", "call_id", id, "ttl", cfg.TTL.String())
				}
			}
		}
		due, err := cfg.Store.DueCallbacks(ctx, 100)
		if err != nil {
			continue // the store's own logs say it is down
		}
		for _, cb := range due {
			claim, err := f.cfg.Pool.ClaimForQueue(ctx, cb.Queue, skillFor(cb.Queue, f.cfg.DefaultQueue), cb.ID, f.cfg.GatewayID)
			if err != nil {
				continue // nobody free, or another gateway took it
			}
			f.cbStats.active.Add(1)
			calls.Go("callback", func() error {
				defer f.cbStats.active.Add(-1)
				clog := log.With("call_id", cb.ID, "callback", true, "queue", cb.Queue, "agent", claim.Ext)
				g, gctx := newGroup(ctx, clog)
				g.Go("callback", func() error { f.serveCallback(gctx, g, cb, claim, clog); return nil })
				_ = g.Wait() // a panic is logged and ends that callback only
				return nil
			})
		}
	}
}

// clips resolves prompt names in lang, leaving out what the set lacks.
func (f *Fallback) clips(lang string, names []string) []*media.Clip {
	out := make([]*media.Clip, 0, len(names))
	for _, n := range names {
		if c, ok := f.cfg.Prompts.Clip(lang, n); ok {
			out = append(out, c)
		}
	}
	return out
}

func (f *Fallback) log() *slog.Logger {
	if f.cfg.Logger != nil {
		return f.cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// serveCallback runs one callback whose agent is claimed: the agent's leg,
// then the caller's through the trunk, then the bridge until either hangs up.
func (f *Fallback) serveCallback(ctx context.Context, g *group, due routing.Callback, claim routing.Claim, log *slog.Logger) {
	cfg := f.cfg.Callback
	defer f.hold(claim)()
	bg := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	}
	release := func(o routing.Outcome) {
		rctx, cancel := bg()
		defer cancel()
		if err := f.cfg.Pool.Release(rctx, claim, o); err != nil {
			log.Warn("release agent failed", "outcome", o.String(), "err", err)
		}
	}
	requeue := func() {
		rctx, cancel := bg()
		defer cancel()
		if err := cfg.Store.RequeueCallback(rctx, due.ID, f.cfg.GatewayID); err != nil {
			log.Warn("callback not put back at the head of its queue", "err", err)
		}
	}
	cb, err := cfg.Store.GetCallback(ctx, due.ID)
	if err != nil {
		log.Warn("callback vanished after its agent was claimed", "err", err)
		release(routing.Abandoned)
		return
	}
	lang := f.cfg.Prompts.DefaultLanguage()
	legCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.Go("callback ownership renewal", func() error { f.renewCallback(legCtx, cb.ID, log); return nil })

	pop := callbackPop(cb, cb.Lang)
	if pop.Language == "" {
		pop.Language = lang
	}
	agent, err := f.dial(legCtx, g.Go, sip.DialRequest{
		Contact: claim.Binding.Contact, Source: claim.Binding.Source, Transport: claim.Binding.Transport,
		FromUser: cb.Number, Headers: pop.headers(), HeaderOrder: callbackPopOrder, RingTimeout: f.cfg.RingTimeout,
	}, 0, log)
	if err != nil {
		if ctx.Err() != nil {
			release(routing.Abandoned)
		} else {
			release(f.notAnswered(err, log))
		}
		requeue()
		return
	}
	defer agent.close()
	defer cancel()
	answered := time.Now()
	if err := f.cfg.Pool.Answered(ctx, claim); err != nil {
		log.Warn("mark agent on call failed", "err", err)
	}
	// The agent hears what this is before the caller's phone rings (they
	// may skip it with a key), so the caller who answers hears a person
	// at once, never a gap while the agent is being told.
	names := []string{"callback_agent"}
	if f.cfg.Whisper {
		_, names = f.summary(nil, pop, time.Duration(pop.Wait)*time.Second)
	}
	f.whisper(legCtx, nil, agent, lang, names, log)
	if isDone(agent.out.Done()) || ctx.Err() != nil {
		if !isDone(agent.out.Done()) { // this gateway is stopping
			hctx, hcancel := bg()
			_ = agent.out.Hangup(hctx)
			hcancel()
		}
		log.Info("customer not called: the agent hung up or the gateway is stopping; callback back at the head")
		release(routing.Abandoned)
		requeue()
		return
	}
	// The agent hanging up while the caller's phone rings cancels that call.
	custCtx, custCancel := context.WithCancel(legCtx)
	defer custCancel()
	g.Go("callback agent watch", func() error {
		select {
		case <-agent.out.Done():
			custCancel()
		case <-custCtx.Done():
		}
		return nil
	})
	log.Info("callback: agent answered; calling the customer", "trunk", cfg.Trunk.String(), "try", cb.Tries+1)
	cust, err := f.dial(custCtx, g.Go, sip.DialRequest{
		Contact: "sip:" + cb.Number + "@" + cfg.Trunk.String(), Source: cfg.Trunk, Transport: "udp",
		FromUser: cfg.From, RingTimeout: cfg.RingTimeout,
	}, agent.stream.Codec(), log)
	if err != nil {
		agentGone := isDone(agent.out.Done())
		hctx, hcancel := bg()
		defer hcancel()
		if !agentGone {
			_ = agent.out.Hangup(hctx)
		}
		release(routing.Abandoned) // the agent did their part: free them
		switch {
		case ctx.Err() != nil:
			requeue() // this gateway is stopping: another serves it
			return
		case agentGone:
			log.Info("agent hung up before the customer answered; callback back at the head")
			requeue()
			return
		}
		tries, abandoned, rerr := cfg.Store.RetryCallback(hctx, cb.ID, f.cfg.GatewayID, cfg.RetryAfter, cfg.Retries+1)
		switch {
		case rerr != nil:
			log.Warn("callback retry not recorded", "err", rerr)
		case abandoned:
			f.cbStats.abandoned.Add(1)
			log.Warn("callback abandoned: the customer never answered", "tries", tries, "last_err", err.Error())
		default:
			f.cbStats.retried.Add(1)
			log.Info("customer did not answer the callback; trying again later", "tries", tries, "retry_after", cfg.RetryAfter.String(), "err", err.Error())
		}
		return
	}
	defer cust.close()
	// Served: from here a crash is the orphan reaper's (the dialogs below),
	// not a reason to call the customer a second time.
	if err := cfg.Store.FinishCallback(ctx, cb.ID); err != nil {
		log.Warn("callback not marked done", "err", err)
	}
	f.cbStats.connected.Add(1)
	media.Bridge(agent.stream, cust.stream)
	log.Info("callback bridged", "waited_s", pop.Wait)
	f.saveBridge(ctx, cust.out.Dialog(), agent.out, claim, log)
	dctx, dcancel := context.WithCancel(legCtx)
	var wg sync.WaitGroup
	wg.Add(2)
	g.Go("digits to customer", func() error {
		defer wg.Done()
		passDigits(dctx, agent.out.Digits(), agent.stream.Events(), cust.stream, cust.out.SendDigit, log.With("to", "customer"))
		return nil
	})
	g.Go("digits to agent", func() error {
		defer wg.Done()
		passDigits(dctx, cust.out.Digits(), cust.stream.Events(), agent.stream, agent.out.SendDigit, log.With("to", "agent"))
		return nil
	})
	hctx, hcancel := bg()
	defer hcancel()
	select {
	case <-ctx.Done():
		_ = cust.out.Hangup(hctx)
		_ = agent.out.Hangup(hctx)
		log.Info("callback ended: gateway stopping")
	case <-agent.out.Done():
		_ = cust.out.Hangup(hctx)
		log.Info("agent ended the callback")
	case <-cust.out.Done():
		_ = agent.out.Hangup(hctx)
		log.Info("customer ended the callback")
	}
	dcancel()
	wg.Wait()
	media.Unbridge(agent.stream, cust.stream)
	release(routing.Completed)
	_ = f.cfg.Pool.RecordHandleTime(hctx, cb.Queue, time.Since(answered))
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// renewCallback keeps this gateway's ownership of the callback alive while
// it is being served (the agent's lease is renewed with the others, by
// RunRenewals).
func (f *Fallback) renewCallback(ctx context.Context, id string, log *slog.Logger) {
	t := time.NewTicker(f.cfg.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// After the bridge the callback is finished: gone is expected.
			if err := f.cfg.Callback.Store.RenewCallback(ctx, id, f.cfg.GatewayID); err != nil &&
				!errors.Is(err, routing.ErrCallbackGone) && ctx.Err() == nil {
				log.Warn("callback ownership renewal failed", "err", err)
			}
		}
	}
}
