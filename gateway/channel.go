package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/sip"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// Leg is what the human fallback gets of a caller's call: enough to play to
// the caller, hear their keys, and bridge their media to an agent.
type Leg struct {
	Call   *sip.Call
	ID     string    // the caller's Call-ID
	Caller sip.Party // the caller's number and name, shown on the agent's phone
	// MenuKeys are the keys the caller pressed in the menu so far (menu
	// choices and invalid keys, as the journey writes them); nil: none.
	MenuKeys func() string
	Stream   *media.Stream
	Menu     *ivr.Config
	Log      *slog.Logger
	// Keys are the caller's digits while the fallback has the call (the menu
	// is not reading them then).
	Keys <-chan ivr.Press
	// Divert sends the caller's key presses, with their source, to sink
	// instead of Keys until restore is called (while bridged to an agent).
	Divert func(sink chan<- dtmf.Event) (restore func())
	// Play plays the named prompts in lang and waits until they finish or ctx ends.
	Play func(ctx context.Context, lang string, names ...string) error
	// Clips resolves prompt names in lang, for playing without waiting.
	Clips func(lang string, names ...string) []*media.Clip
	// Note records a step of the caller's journey (queued, ringing,
	// answered...); nil records nothing.
	Note func(journey.Step)
	// Go runs a goroutine of the call in the call's errgroup, under a
	// recover; it must return once ctx given to it ends. nil: a plain
	// goroutine with a recover (tests).
	Go func(name string, fn func() error)
	// Intro is the prompt played before queueing; "" plays "transfer".
	// A fast-tracked repeat caller hears "welcome_back" instead.
	Intro string
	// PreferAgent is offered the caller first when free: the agent who
	// last spoke with a repeat caller. "" prefers nobody.
	PreferAgent string
	// RepeatCalls is how many times the caller called within the repeat
	// window, this call included; 0 when not tracked.
	RepeatCalls int
	// Answered is told which agent answered the caller; nil: nobody is.
	Answered func(ext string)
}

// answered tells the leg's owner that ext answered, if it listens.
func (l *Leg) answered(ext string) {
	if l.Answered != nil {
		l.Answered(ext)
	}
}

// goSafe starts fn as one of the call's goroutines.
func (l *Leg) goSafe(name string, fn func() error) {
	if l.Go != nil {
		l.Go(name, fn)
		return
	}
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g, _ := newGroup(context.Background(), log)
	g.Go(name, fn)
}

// note records s in the journey, if the leg keeps one.
func (l *Leg) note(s journey.Step) {
	if l.Note != nil {
		l.Note(s)
	}
}

// Router is the seam to the human fallback: it connects a caller who asked
// for a person (or ran out of tries) and returns when that part of the call
// is over. An error means no person could be reached; the menu then tells the
// caller so honestly.
type Router interface {
	Connect(ctx context.Context, leg *Leg, t ivr.Transfer) error
}

// ErrNoHuman is returned by a Router that cannot reach any person.
var ErrNoHuman = errors.New("no person can be reached")

// Unavailable is the Router used when no human fallback is configured: it
// says "please hold while I connect you", then honestly that nobody can be
// reached now, and reports ErrNoHuman so the menu is offered again.
type Unavailable struct{}

// Connect implements Router.
func (Unavailable) Connect(ctx context.Context, leg *Leg, t ivr.Transfer) error {
	intro := "transfer"
	if leg.Intro != "" {
		intro = leg.Intro
	}
	if err := leg.Play(ctx, t.Lang, intro, "unavailable"); err != nil {
		return err
	}
	return ErrNoHuman
}

// channel is the ivr.Channel of one live call.
type channel struct {
	g      *Gateway
	call   *sip.Call
	stream *media.Stream
	log    *slog.Logger
	menu   *ivr.Config
	keys   <-chan ivr.Press
	tap    *digitTap
	tr     *tracker
	grp    *group      // the call's goroutines
	rep    *repeatCall // the caller's recent calls; nil: not tracked
	ended  string      // set by the session goroutine only
}

var _ ivr.Channel = (*channel)(nil)

// clips resolves prompt names in lang, falling back to the default language
// (the menu validator makes sure that never happens for shipped prompts).
func (ch *channel) clips(lang string, names []string) []*media.Clip {
	out := make([]*media.Clip, 0, len(names))
	for _, n := range names {
		c, ok := ch.g.cfg.Prompts.Clip(lang, n)
		if !ok {
			ch.log.Warn("prompt missing", "lang", lang, "prompt", n)
			continue
		}
		out = append(out, c)
	}
	return out
}

func (ch *channel) Play(ctx context.Context, lang string, names []string) <-chan struct{} {
	ch.note(names)
	return ch.stream.Play(ch.clips(lang, names)...).Done()
}

func (ch *channel) StopPlayback() { ch.stream.StopPlayback() }

func (ch *channel) Transfer(ctx context.Context, t ivr.Transfer) error {
	return ch.transfer(ctx, t, "")
}

// transfer hands the caller to the router, intro ("" for the usual one)
// played first.
func (ch *channel) transfer(ctx context.Context, t ivr.Transfer, intro string) error {
	leg := &Leg{Call: ch.call, ID: ch.call.ID(), Caller: ch.call.Caller(), Stream: ch.stream, Menu: ch.menu, Log: ch.log, Keys: ch.keys, Play: ch.playWait,
		Divert: ch.tap.divert, Intro: intro,
		Clips: func(lang string, names ...string) []*media.Clip { return ch.clips(lang, names) }}
	if rc := ch.rep; rc != nil && rc.caller != "" {
		leg.RepeatCalls = rc.calls
		if rc.repeat {
			leg.PreferAgent = rc.last
		}
		leg.Answered = func(ext string) { ch.g.answeredBy(ctx, rc, ext, ch.log) }
	}
	if ch.tr != nil {
		leg.Note = ch.tr.step
		leg.MenuKeys = ch.tr.menuKeys
	}
	if ch.grp != nil {
		leg.Go = ch.grp.Go
	}
	if ch.tr != nil {
		ch.tr.step(journey.Step{Kind: journey.StepEscalate, Reason: t.Reason, Queue: t.Queue})
	}
	err := ch.g.cfg.Router.Connect(ctx, leg, t)
	switch {
	case err == nil:
		ch.ended = "transferred"
	case errors.Is(err, ErrCallbackBooked):
		ch.ended = "callback_booked"
	}
	return err
}

func (ch *channel) Hangup(ctx context.Context) {
	ch.ended = "menu_hangup"
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := ch.call.Hangup(hctx); err != nil {
		ch.log.Warn("bye failed", "err", err)
	}
}

// note records prompts in the journey.
func (ch *channel) note(names []string) {
	if ch.tr != nil {
		ch.tr.prompts(names)
	}
}

func (ch *channel) playWait(ctx context.Context, lang string, names ...string) error {
	ch.note(names)
	pb := ch.stream.Play(ch.clips(lang, names)...)
	select {
	case <-pb.Done():
		return nil
	case <-ctx.Done():
		ch.stream.StopPlayback()
		return ctx.Err()
	}
}

// pumpDigits merges the three digit sources into the menu's key channel,
// one key per press (pressFilter). While the call is bridged, the tap takes
// them instead.
func (g *Gateway) pumpDigits(ctx context.Context, c *sip.Call, s *media.Stream, keys chan<- ivr.Press, tap *digitTap, sum *summary) {
	var filter pressFilter
	for {
		var ev dtmf.Event
		select {
		case <-ctx.Done():
			return
		case ev = <-s.Events():
		case ev = <-c.Digits():
		}
		if !filter.keep(ev, time.Now()) {
			continue
		}
		sum.addDigit(ev)
		if tap.take(ev) {
			// Bridged: the agent hears it; the journey notes it here, as
			// the menu and the queue note the keys they read.
			sum.tr.key(ev)
			continue
		}
		select {
		case keys <- ivr.Press{Digit: ev.Digit, Via: ev.Source.String()}:
		default:
			c.Logger().Warn("key dropped, menu busy", "digit", string(ev.Digit))
		}
	}
}

// watchMedia applies re-INVITE changes and ends a call whose caller has sent
// no RTP for NoRTPTimeout. While the media is inactive (hold with nothing
// flowing either way) silence is expected and the timer does not run.
func (g *Gateway) watchMedia(ctx context.Context, c *sip.Call, s *media.Stream, m sdp.Media, cancel context.CancelCauseFunc, log *slog.Logger) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastActive := time.Now()
	inactive := m.Direction == sdp.Inactive
	for {
		select {
		case <-ctx.Done():
			return
		case nm := <-c.MediaUpdates():
			if nm.Remote != m.Remote {
				s.SetRemote(nm.Remote)
			}
			s.SetSending(!nm.Hold)
			inactive = nm.Direction == sdp.Inactive || !nm.Remote.Addr().IsValid() || nm.Remote.Addr().IsUnspecified()
			log.Info("media updated", "remote_rtp", nm.Remote.String(), "direction", nm.Direction.String(), "hold", nm.Hold)
			m = nm
			lastActive = time.Now()
		case now := <-tick.C:
			if inactive {
				lastActive = now
				continue
			}
			last := s.LastReceived()
			if last.After(lastActive) {
				lastActive = last
			}
			if now.Sub(lastActive) > g.cfg.NoRTPTimeout {
				log.Warn("no rtp from caller, hanging up", "silent_for", now.Sub(lastActive).Round(time.Second).String())
				cancel(errNoRTP)
				return
			}
		}
	}
}
