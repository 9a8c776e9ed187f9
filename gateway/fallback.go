package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/prompts"
	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip"
)

// AgentPool is the agents' shared state; *routing.Store implements it.
type AgentPool interface {
	Enqueue(ctx context.Context, queue, callID string, priority int, gatewayID string) (int, error)
	Position(ctx context.Context, queue, callID string) (int, error)
	Leave(ctx context.Context, queue, callID string) error
	ClaimForQueue(ctx context.Context, queue, skill, callID, gatewayID string) (routing.Claim, error)
	ClaimForQueuePreferring(ctx context.Context, queue, skill, callID, gatewayID, prefer string) (routing.Claim, error)
	Renew(ctx context.Context, c routing.Claim) error
	RenewAll(ctx context.Context, claims []routing.Claim) []error
	Answered(ctx context.Context, c routing.Claim) error
	Release(ctx context.Context, c routing.Claim, o routing.Outcome) error
	Heartbeat(ctx context.Context, queue, callID string) error
	EstimatedWait(ctx context.Context, queue, skill string, position int) (time.Duration, error)
	RecordHandleTime(ctx context.Context, queue string, d time.Duration) error
	Subscribe(ctx context.Context) <-chan struct{}
	SaveDialogs(ctx context.Context, c routing.Claim, data []byte) error
}

// AgentDialer places the second leg to an agent; *sip.Server implements it.
type AgentDialer interface {
	DialAgent(ctx context.Context, r sip.DialRequest) (*sip.Outbound, error)
}

var (
	_ AgentPool   = (*routing.Store)(nil)
	_ AgentDialer = (*sip.Server)(nil)
	_ Router      = (*Fallback)(nil)
)

// headPriority puts a caller whose agent did not answer back at the head of
// the queue (routing orders by priority, then arrival).
const headPriority = 99

// Errors the fallback ends with; the menu decides what follows.
var (
	ErrLeftQueue    = fmt.Errorf("caller left the queue: %w", ivr.ErrBackToMenu)
	ErrQueueTimeout = fmt.Errorf("maximum queue wait reached: %w", ivr.ErrEndCall)
)

// FallbackConfig configures the human fallback.
type FallbackConfig struct {
	Pool          AgentPool
	Dialer        AgentDialer
	Ports         *media.PortPool
	Shared        []*media.Mux // -rtp-shared: sockets the legs of phones not behind a NAT share; none: a port each
	Pacer         *media.Pacer // sends what the gateway plays on legs it dials (whisper, callbacks)
	Prompts       *prompts.Set
	BindIP        netip.Addr
	PublicIP      netip.Addr
	GatewayID     string
	DefaultQueue  string        // queue for the person key when the menu names none ("support")
	RingTimeout   time.Duration // ring-no-answer after this (15 s)
	AnnounceEvery time.Duration // position and wait announcements (30 s)
	MaxWait       time.Duration // then a message and goodbye (10 min)
	LeaveKey      byte          // leaves the queue back to the menu ('*')
	RenewEvery    time.Duration // lease renewal period (5 s)
	// InbandBridged keeps the caller's in-band DTMF detector running while
	// bridged (-inband-dtmf always); otherwise it is paused for the bridge.
	InbandBridged bool
	// Whisper plays the agent a short summary of the caller before the
	// bridge (whisper.go).
	Whisper bool
	// Callback offers long waiters a call back that keeps their place
	// (callback.go); its Store nil: none offered.
	Callback CallbackConfig
	Logger   *slog.Logger
}

// Fallback connects callers to agents: queue, claim, ring, bridge, release.
type Fallback struct {
	cfg FallbackConfig

	mu   sync.Mutex
	live map[string]routing.Claim // claims held by calls on this gateway, by agent

	cbStats callbackCounters
}

// NewFallback fills in defaults.
func NewFallback(cfg FallbackConfig) *Fallback {
	if cfg.DefaultQueue == "" {
		cfg.DefaultQueue = "support"
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 15 * time.Second
	}
	if cfg.AnnounceEvery <= 0 {
		cfg.AnnounceEvery = 30 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 10 * time.Minute
	}
	if cfg.LeaveKey == 0 {
		cfg.LeaveKey = '*'
	}
	if cfg.RenewEvery <= 0 {
		cfg.RenewEvery = 5 * time.Second
	}
	cfg.Callback = cfg.Callback.withDefaults()
	return &Fallback{cfg: cfg, live: map[string]routing.Claim{}}
}

// LiveClaims returns the claims this gateway's calls hold now: after the
// agents' store was emptied they are renewed first (which restores them)
// so no agent on a call here is offered another.
func (f *Fallback) LiveClaims() []routing.Claim {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]routing.Claim, 0, len(f.live))
	for _, c := range f.live {
		out = append(out, c)
	}
	return out
}

func (f *Fallback) hold(c routing.Claim) func() {
	f.mu.Lock()
	f.live[c.Ext] = c
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		if f.live[c.Ext].Token == c.Token {
			delete(f.live, c.Ext)
		}
		f.mu.Unlock()
	}
}

// Connect implements Router. It returns nil once the caller was bridged to an
// agent and that conversation is over.
//
// The caller is queued and an agent claimed the moment they ask: the hold
// prompt ("transfer") starts without being waited for, and the agent's
// phone rings while it plays. An answer cuts it (the bridge replaces it);
// with nobody free the caller hears it to its end, then the queue's music
// and announcements.
func (f *Fallback) Connect(ctx context.Context, leg *Leg, t ivr.Transfer) error {
	queue := t.Queue
	if queue == "" {
		queue = f.cfg.DefaultQueue
	}
	log := leg.Log.With("queue", queue)
	id := leg.ID
	intro := "transfer"
	if leg.Intro != "" {
		intro = leg.Intro
	}
	pos, err := f.cfg.Pool.Enqueue(ctx, queue, id, t.Priority, f.cfg.GatewayID)
	if err != nil {
		log.Error("cannot queue caller", "err", err)
		return f.unavailable(ctx, leg, t, err)
	}
	queued := time.Now()
	leg.note(journey.Step{Kind: journey.StepQueued, Queue: queue})
	log.Info("caller queued", "position", pos, "priority", t.Priority)
	defer func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = f.cfg.Pool.Leave(lctx, queue, id)
	}()
	leg.note(journey.Step{Kind: journey.StepPrompt, Prompt: intro})
	hold := leg.Stream.Play(leg.Clips(t.Lang, intro)...)
	holding := hold.Done() // nil once the hold prompt is over

	// The queue entry lives while its heartbeat does: keep it beating while
	// announcements play, so a dead gateway's callers drop out but ours don't.
	hbCtx, hbCancel := context.WithCancel(ctx)
	defer hbCancel()
	leg.goSafe("queue heartbeat", func() error { f.heartbeat(hbCtx, queue, id); return nil })

	wake := f.cfg.Pool.Subscribe(ctx)
	poll := time.NewTicker(2 * time.Second) // fallback for a lost notification
	defer poll.Stop()
	maxWait := time.NewTimer(f.cfg.MaxWait)
	defer maxWait.Stop()
	var nextAnnounce time.Time
	var announcing <-chan struct{} // the announcement playing now, or nil
	music := f.holdMusic(leg)
	music.leg = leg
	music.after = hold // the music waits for the hold prompt's end
	defer music.stop()

	prefer := leg.PreferAgent // a repeat caller's last agent, tried first while free
	offered := false          // a callback was offered: its key books one
	for {
		claim, err := f.claim(ctx, leg, queue, t.Lang, id, prefer)
		switch {
		case err == nil:
			if announcing != nil {
				leg.Stream.StopPlayback() // an agent is free: the announcement can stop
				announcing = nil
			}
			music.start() // the caller hears the hold prompt, then music, while the agent's phone rings
			done, err := f.ring(ctx, leg, claim, queue, t, ringing{music: music, queued: queued}, log)
			if done {
				return err
			}
			// The preferred agent did not take the call: the usual order
			// from now on, or a caller would ring them again and again.
			prefer = ""
			// ClaimForQueue took the caller off the queue; they were its
			// head, so they go back at the head for the next agent.
			if _, err := f.cfg.Pool.Enqueue(ctx, queue, id, headPriority, f.cfg.GatewayID); err != nil {
				return f.unavailable(ctx, leg, t, err)
			}
			continue
		case errors.Is(err, routing.ErrNoAgent), errors.Is(err, routing.ErrNotHead):
		case errors.Is(err, routing.ErrNotQueued):
			// The entry is gone while the caller waits: the store lost its
			// data (restarted empty) or our heartbeat lapsed. Queue again
			// rather than drop a caller who is still on the line.
			log.Warn("queue entry lost; queued again")
			if _, err := f.cfg.Pool.Enqueue(ctx, queue, id, t.Priority, f.cfg.GatewayID); err != nil {
				return f.unavailable(ctx, leg, t, err)
			}
		default:
			log.Error("claim failed", "err", err)
			return f.unavailable(ctx, leg, t, err)
		}

		// Announcements play, once the hold prompt is over, while the loop
		// keeps listening: an agent coming free or the leave key cuts them
		// short.
		if now := time.Now(); holding == nil && announcing == nil && now.After(nextAnnounce) {
			music.stop()
			var offer bool
			announcing, offer = f.announce(ctx, leg, queue, t.Lang, now.Sub(queued))
			if offer && !offered {
				offered = true
				f.cbStats.offered.Add(1)
				leg.note(journey.Step{Kind: journey.StepCallback, Queue: queue, Reason: "offered"})
			}
			nextAnnounce = now.Add(f.cfg.AnnounceEvery)
		}
		if announcing == nil {
			music.start()
		}
		select {
		case <-ctx.Done():
			log.Info("caller abandoned the queue", "waited", time.Since(queued).Round(time.Second).String())
			return ctx.Err()
		case <-holding:
			holding = nil
		case <-announcing:
			announcing = nil
		case <-wake:
		case <-poll.C:
		case p := <-leg.Keys:
			if leg.Note != nil {
				leg.Note(journey.Step{Kind: journey.StepKey, Key: string(p.Digit), Method: p.Via})
			}
			if offered && p.Digit == f.cfg.Callback.Key {
				music.stop()
				leg.Stream.StopPlayback()
				if err := f.bookCallback(ctx, leg, queue, t, queued, log); err != nil {
					return err
				}
				continue // not booked: the caller keeps waiting
			}
			if k := p.Digit; k == f.cfg.LeaveKey {
				music.stop()
				leg.Stream.StopPlayback()
				log.Info("caller left the queue", "key", string(k))
				return ErrLeftQueue
			}
		case <-maxWait.C:
			music.stop()
			log.Info("queue wait limit reached", "max_wait", f.cfg.MaxWait.String())
			_ = leg.Play(ctx, t.Lang, "queue_timeout")
			return ErrQueueTimeout
		}
	}
}

// claim asks for the head-of-queue agent. A caller who switched the menu to
// another language and asked for "a person" (the default queue) is offered
// an agent with that language as a skill first, and anyone on duty when no
// such agent is free: a person who shares the language is better, but any
// person is better than waiting.
//
// prefer (a repeat caller's last agent, or "") is offered the caller first
// in each attempt when it is free with that attempt's skill.
func (f *Fallback) claim(ctx context.Context, leg *Leg, queue, lang, id, prefer string) (routing.Claim, error) {
	skill := skillFor(queue, f.cfg.DefaultQueue)
	if skill == "" && lang != "" && leg.Menu != nil && lang != leg.Menu.DefaultLanguage {
		c, err := f.cfg.Pool.ClaimForQueuePreferring(ctx, queue, lang, id, f.cfg.GatewayID, prefer)
		if !errors.Is(err, routing.ErrNoAgent) {
			return c, err
		}
	}
	return f.cfg.Pool.ClaimForQueuePreferring(ctx, queue, skill, id, f.cfg.GatewayID, prefer)
}

func skillFor(queue, defaultQueue string) string {
	if queue == defaultQueue {
		return "" // the person key: anyone on duty
	}
	return queue
}

// unavailable tells the caller honestly that no person can be reached.
func (f *Fallback) unavailable(ctx context.Context, leg *Leg, t ivr.Transfer, cause error) error {
	leg.note(journey.Step{Kind: journey.StepNoAgent, Reason: cause.Error()})
	_ = leg.Play(ctx, t.Lang, "unavailable")
	return fmt.Errorf("%w: %w", ErrNoHuman, cause)
}

// announce starts saying the caller's position and the estimated wait, and
// returns when that announcement ends (nil when there is nothing to say).
// When the wait so far or the estimate is long, the announcement ends with
// the callback offer, and offer is true.
func (f *Fallback) announce(ctx context.Context, leg *Leg, queue, lang string, waited time.Duration) (done <-chan struct{}, offer bool) {
	pos, err := f.cfg.Pool.Position(ctx, queue, leg.ID)
	if err != nil || pos < 1 {
		return nil, false // an announcement is a courtesy; never fail the call for it
	}
	names := []string{"all_busy", "queue_position", numberPrompt(pos)}
	wait, err := f.cfg.Pool.EstimatedWait(ctx, queue, skillFor(queue, f.cfg.DefaultQueue), pos)
	if err == nil && wait > 0 {
		mins := int((wait + time.Minute - 1) / time.Minute)
		names = append(names, "queue_wait", numberPrompt(mins), "minutes")
	}
	if f.offersCallback(leg, waited, wait) {
		names = append(names, "callback_offer")
		offer = true
	}
	names = append(names, "queue_leave_hint")
	return leg.Stream.Play(leg.Clips(lang, names...)...).Done(), offer
}

// numberPrompt names the prompt that says n; the prompt set has 1 to 20.
func numberPrompt(n int) string {
	n = min(max(n, 1), 20)
	return fmt.Sprintf("num_%d", n)
}

// ring dials the claimed agent. done reports whether the caller's time in the
// fallback is over (bridged and finished, or the caller hung up); when it is
// false the next agent is tried.
// ringing is what ring needs of the wait around it.
type ringing struct {
	music  *music    // the hold prompt, then music: cut when the agent answers
	queued time.Time // when the caller was queued, for the screen pop's wait
}

func (f *Fallback) ring(ctx context.Context, leg *Leg, claim routing.Claim, queue string, t ivr.Transfer, rg ringing, log *slog.Logger) (done bool, err error) {
	log = log.With("agent", claim.Ext)
	defer f.hold(claim)()
	release := func(o routing.Outcome) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := f.cfg.Pool.Release(rctx, claim, o); err != nil {
			log.Warn("release agent failed", "outcome", o.String(), "err", err)
		}
	}
	legCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	leg.note(journey.Step{Kind: journey.StepRinging, Agent: claim.Ext, Queue: queue})
	callerLaw := leg.Stream.Codec() // offered first: no transcoding when the agent agrees
	waited := time.Since(rg.queued)
	pop := f.screenPop(leg, t, queue, waited)
	al, err := f.dial(legCtx, leg.goSafe, sip.DialRequest{
		Contact: claim.Binding.Contact, Source: claim.Binding.Source, Transport: claim.Binding.Transport,
		FromUser: leg.Caller.User, FromDisplay: leg.Caller.Display,
		Headers: pop.headers(), HeaderOrder: screenPopOrder,
		RingTimeout: f.cfg.RingTimeout,
	}, callerLaw, log)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			log.Info("caller hung up while the agent's phone rang")
			release(routing.Abandoned)
			return true, ctx.Err()
		case errors.Is(err, errLegPort):
			release(routing.Failed)
			return true, f.unavailable(ctx, leg, t, err)
		}
		release(f.notAnswered(err, log))
		return false, nil
	}
	defer al.close()
	defer cancel() // ends the agent leg's reader before close waits for it
	out, agent := al.out, al.stream
	answered := time.Now()
	leg.note(journey.Step{Kind: journey.StepAnswered, Agent: claim.Ext, Queue: queue})
	if err := f.cfg.Pool.Answered(ctx, claim); err != nil { // on_call from the answer, whisper included
		log.Warn("mark agent on call failed", "err", err)
	}
	if f.cfg.Whisper {
		lang, names := f.summary(leg.Menu, pop, waited)
		f.whisper(legCtx, leg.Note, al, lang, names, log)
	}
	rg.music.stop() // cuts the hold prompt or the music: the agent is there
	media.Bridge(leg.Stream, agent)
	if !f.cfg.InbandBridged {
		leg.Stream.SetInband(false) // the caller's tones reach the agent in the audio
	}
	log.Info("caller bridged to agent", "agent_codec", codecName(agent.Codec()), "caller_codec", codecName(callerLaw), "agent_srtp", out.Media().SRTP != nil,
		"answer_to_bridge_us", time.Since(answered).Microseconds())
	f.saveBridge(ctx, leg.Call.Dialog(), out, claim, log)
	leg.answered(claim.Ext)
	stopDigits := f.bridgeDigits(legCtx, leg, agent, out, log)

	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer hcancel()
	select {
	case <-ctx.Done(): // the caller hung up
		_ = out.Hangup(hctx)
		leg.note(journey.Step{Kind: journey.StepBridged, Agent: claim.Ext, By: "caller"})
		log.Info("caller ended the bridged call")
	case <-out.Done(): // the agent hung up; the gateway then says goodbye to the caller
		leg.note(journey.Step{Kind: journey.StepBridged, Agent: claim.Ext, By: "agent"})
		log.Info("agent ended the bridged call")
	}
	stopDigits()
	media.Unbridge(leg.Stream, agent)
	leg.Stream.SetInband(true)
	release(routing.Completed)
	_ = f.cfg.Pool.RecordHandleTime(hctx, queue, time.Since(answered))
	return true, nil
}

// notAnswered logs why an agent's leg did not come up, and returns the
// outcome the agent is released with.
func (f *Fallback) notAnswered(err error, log *slog.Logger) routing.Outcome {
	var se *sip.StatusError
	switch {
	case errors.Is(err, sip.ErrNoAnswer):
		log.Info("agent did not answer", "ring_timeout", f.cfg.RingTimeout.String())
		return routing.Missed
	case errors.As(err, &se):
		log.Info("agent declined", "status", se.Code)
		return routing.Declined
	}
	log.Warn("dialling agent failed", "err", err)
	return routing.Failed
}

// bridgeDigits passes key presses across the bridge, both ways, until the
// returned stop is called (see passDigits).
func (f *Fallback) bridgeDigits(ctx context.Context, leg *Leg, agent *media.Stream, out *sip.Outbound, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	restore := func() {}
	if leg.Divert != nil {
		fromCaller := make(chan dtmf.Event, 16)
		restore = leg.Divert(fromCaller)
		wg.Add(1)
		leg.goSafe("digits to agent", func() error {
			defer wg.Done()
			passDigits(ctx, fromCaller, nil, agent, out.SendDigit, log.With("to", "agent"))
			return nil
		})
	}
	wg.Add(1)
	leg.goSafe("digits to caller", func() error {
		defer wg.Done()
		passDigits(ctx, out.Digits(), agent.Events(), leg.Stream, leg.Call.SendDigit, log.With("to", "caller"))
		return nil
	})
	return func() {
		restore()
		cancel()
		wg.Wait()
	}
}

// heartbeat keeps the caller's queue entry alive.
func (f *Fallback) heartbeat(ctx context.Context, queue, id string) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = f.cfg.Pool.Heartbeat(ctx, queue, id)
		}
	}
}

// RunRenewals renews the leases of every claim this gateway's calls hold
// (ringing, bridged, callbacks), all in one pipeline every RenewEvery, until
// ctx ends: one timer and one round trip per gateway, not per call. A claim
// whose lease is lost is logged; its call goes on, and the agent may be
// offered another call (the orphan reaper's case for a dead gateway).
func (f *Fallback) RunRenewals(ctx context.Context) {
	t := time.NewTicker(f.cfg.RenewEvery)
	defer t.Stop()
	log := f.log()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		claims := f.LiveClaims()
		for i, err := range f.cfg.Pool.RenewAll(ctx, claims) {
			if err != nil && ctx.Err() == nil {
				log.Warn("lease renewal failed", "call_id", claims[i].CallID, "agent", claims[i].Ext, "err", err)
			}
		}
	}
}

// music loops the hold music on the caller's stream while they wait.
type music struct {
	leg    *Leg
	stream *media.Stream
	clip   *media.Clip
	after  *media.Playback // the hold prompt: the music waits for its end; nil: none
	stopc  chan struct{}
	done   chan struct{}
}

func (f *Fallback) holdMusic(leg *Leg) *music {
	clip, _ := f.cfg.Prompts.Music("hold")
	return &music{stream: leg.Stream, clip: clip}
}

func (m *music) start() {
	if m.stopc != nil {
		select {
		case <-m.done: // something else's Play interrupted the loop: restart it
			m.stopc, m.done = nil, nil
		default:
			return // playing
		}
	}
	if m.clip == nil {
		return
	}
	m.stopc, m.done = make(chan struct{}), make(chan struct{})
	stop, done, after := m.stopc, m.done, m.after
	m.leg.goSafe("hold music", func() error {
		defer close(done)
		if after != nil {
			select {
			case <-stop:
				return nil
			case <-after.Done():
			}
			if after.Interrupted() {
				return nil // cut: the bridge or the caller's leaving took over
			}
		}
		for {
			select {
			case <-stop:
				return nil
			default:
			}
			pb := m.stream.Play(m.clip)
			select {
			case <-stop:
				return nil
			case <-pb.Done():
				if pb.Interrupted() {
					return nil
				}
			}
		}
	})
}

// stop ends the music and waits for its goroutine, so nothing plays after it returns.
func (m *music) stop() {
	if m.stopc == nil {
		return
	}
	close(m.stopc)
	<-m.done
	m.stopc, m.done = nil, nil
	m.stream.StopPlayback()
}
