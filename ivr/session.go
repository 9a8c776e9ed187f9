package ivr

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Channel is what the menu needs from a live call. The gateway
// implements it over a sip.Call and a media.Stream.
type Channel interface {
	// Play starts prompts in order and returns a channel closed when they
	// have all played. A nil channel means "already done". After
	// StopPlayback the channel may close or not; the Session no longer
	// listens to it.
	Play(ctx context.Context, lang string, prompts []string) (done <-chan struct{})
	StopPlayback()
	// Transfer hands the caller to routing (the human-fallback seam) and
	// returns when routing is done with the call. It owns what the caller
	// hears meanwhile: the hold prompt, and being told when nobody can be
	// reached. A nil error ends the menu. An error gives the call back to
	// the menu: wrap ErrBackToMenu if the caller asked for the menu,
	// ErrEndCall if goodbye was already said; anything else means nobody
	// could take the call (the menu offers itself once more, then hangs up).
	Transfer(ctx context.Context, t Transfer) error
	Hangup(ctx context.Context)
}

// Press is one key from the caller as it reached the call: the digit,
// and how it came (rfc4733, info, inband), for the journey record.
type Press struct {
	Digit byte
	Via   string
}

// Session runs a Machine for one call against a Channel.
type Session struct {
	cfg *Config
	ch  Channel
	log *slog.Logger
	obs func(MenuEvent) // optional, see Observe
	now func() time.Time
}

// SetClock sets the clock the menu reads for opening hours (time.Now by
// default). Set it before Run.
func (s *Session) SetClock(now func() time.Time) { s.now = now }

// NewSession returns a runner for one call on the menu snapshot cfg: a
// reload during the call does not change the menu under the caller.
func NewSession(cfg *Config, ch Channel, log *slog.Logger) *Session {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Session{cfg: cfg, ch: ch, log: log}
}

// Run plays the menu until the call is handed over (Transfer returned
// nil), hung up by the menu, or ended under it (ctx done). keys carries
// the caller's digits; a closed keys channel is not the end of the call.
// One goroutine, the caller's, owns the machine, the timer and the
// channel calls: there is nothing to lock.
func (s *Session) Run(ctx context.Context, keys <-chan Press) Summary {
	m := NewMachine(s.cfg)
	m.SetClock(s.now)
	var (
		playDone <-chan struct{}
		timer    *time.Timer
		timerC   <-chan time.Time
		timerID  TimerID
	)
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
		}
		timer, timerC, timerID = nil, nil, 0
	}
	defer stopTimer()
	// The cap on time in the menu (settings.max_menu_time) runs beside the
	// machine's timer, and only while the menu has the call: time with the
	// router (queued, talking to an agent) does not count.
	var (
		capTimer *time.Timer
		capC     <-chan time.Time
		capLeft  = s.cfg.MaxMenuTime
		capSince time.Time
		capFired bool // once per call: a caller sent back after it is not sent again at once
	)
	capStart := func() {
		if capFired || s.cfg.MaxMenuTime <= 0 {
			return
		}
		if capLeft <= 0 {
			capLeft = time.Millisecond // spent already: say so at once
		}
		capTimer, capSince = time.NewTimer(capLeft), time.Now()
		capC = capTimer.C
	}
	capPause := func() {
		if capTimer != nil {
			capTimer.Stop()
			capLeft -= time.Since(capSince)
			capTimer, capC = nil, nil
		}
	}
	defer capPause()
	capStart()
	done := func() Summary {
		sum := m.Summary()
		// Debug: the gateway's call summary carries the same at info.
		s.log.Debug("ivr done", "outcome", sum.Outcome, "path", sum.Path, "keys", sum.Keys, "tries", sum.Tries)
		return sum
	}

	handle := func(ev Event) []Action {
		before := m.state()
		acts := m.Handle(ev)
		s.observe(m, ev, before)
		return acts
	}
	pending := m.Start()
	s.observeStart(m)
	for {
		for len(pending) > 0 {
			a := pending[0]
			pending = pending[1:]
			switch a := a.(type) {
			case Play:
				playDone = s.ch.Play(ctx, a.Lang, a.Prompts)
				if playDone == nil {
					pending = append(pending, handle(PromptDone{})...)
				}
			case StopPlayback:
				s.ch.StopPlayback()
				playDone = nil
			case StartTimer:
				stopTimer()
				timer = time.NewTimer(a.After)
				timerC, timerID = timer.C, a.ID
			case CancelTimer:
				if a.ID == timerID {
					stopTimer()
				}
			case SetLanguage:
				s.log.Debug("language changed", "lang", a.Lang)
			case Transfer:
				capPause()
				err := s.ch.Transfer(ctx, a)
				if err == nil {
					return done()
				}
				if ctx.Err() != nil {
					handle(HungUp{})
					return done()
				}
				if errors.Is(err, ErrBackToMenu) {
					s.log.Info("caller back in the menu", "queue", a.Queue, "why", err.Error())
				} else {
					s.log.Warn("transfer failed", "queue", a.Queue, "reason", a.Reason, "err", err)
				}
				capStart()
				pending = append(pending, handle(TransferFailed{Err: err})...)
			case Hangup:
				// The BYE must go out even if the call's context is ending.
				s.ch.Hangup(context.WithoutCancel(ctx))
				return done()
			}
		}
		select {
		case <-ctx.Done():
			handle(HungUp{})
			return done()
		case p, ok := <-keys:
			if !ok {
				keys = nil
				continue
			}
			s.observeKey(m, p)
			pending = handle(Key{Digit: p.Digit})
		case <-playDone:
			playDone = nil
			pending = handle(PromptDone{})
		case <-timerC:
			id := timerID
			timer, timerC, timerID = nil, nil, 0
			pending = handle(Timeout{ID: id})
		case <-capC:
			capTimer, capC, capFired = nil, nil, true
			pending = handle(MenuTimeUp{})
		}
	}
}
