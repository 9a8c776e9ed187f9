package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip"
)

// CallerHistory remembers recent calls per caller; *routing.Store implements it.
type CallerHistory interface {
	RecordCall(ctx context.Context, caller, callID string, window time.Duration) (routing.RecentCalls, error)
	SetLastAgent(ctx context.Context, caller, ext string, window time.Duration) error
}

var _ CallerHistory = (*routing.Store)(nil)

// RepeatConfig is the repeat-caller fast track: a number that calls Calls
// times within Window skips the menu ("welcome back, connecting you to a
// person") and is offered first to the agent who last spoke with it.
type RepeatConfig struct {
	History  CallerHistory // nil: off
	Calls    int           // calls within Window that make a repeat caller, this one included; 0: off
	Window   time.Duration
	Priority int // queue priority of a fast-tracked caller (0..99)
}

func (r RepeatConfig) on() bool { return r.History != nil && r.Calls > 0 && r.Window > 0 }

// ReasonRepeatCaller is the transfer reason of the fast track: the agent's
// INVITE carries it as X-IVR-Reason.
const ReasonRepeatCaller = "repeat_caller"

// promptWelcomeBack replaces the hold prompt for a fast-tracked caller.
const promptWelcomeBack = "welcome_back"

// repeatLookupTimeout bounds the history lookup at call start: it runs
// while the caller's phone still rings, and a slow or dead Redis must cost
// the caller no more than this (then: no fast track, the menu).
const repeatLookupTimeout = 500 * time.Millisecond

// repeatCall is what one call knows of its caller's history.
type repeatCall struct {
	caller string // the caller as stored (number or keyed hash); "" when not tracked
	calls  int    // calls within the window, this one included
	last   string // the agent who last spoke with the caller
	repeat bool   // calls reached the threshold: fast track
}

// anonymousUsers are From users that carry no caller ID (RFC 3323 §4.1.1.3
// "anonymous", and what carriers write for withheld numbers).
var anonymousUsers = map[string]bool{
	"": true, "anonymous": true, "unknown": true, "unavailable": true,
	"restricted": true, "private": true, "withheld": true,
}

// trackable reports whether user is a caller ID worth counting: present,
// not anonymous, and a plausible number (digits with an optional +, no
// more than 32), so a hostile From cannot make keys of arbitrary text.
func trackable(user string) bool {
	if anonymousUsers[strings.ToLower(user)] || len(user) > 32 {
		return false
	}
	for i, r := range user {
		if !(r >= '0' && r <= '9' || r == '+' && i == 0) {
			return false
		}
	}
	return user != "+"
}

// recordCall notes this call in the caller's history and says whether the
// caller is a repeat caller. It never fails the call: Redis down, slow or
// an anonymous caller all mean no fast track.
func (g *Gateway) recordCall(ctx context.Context, c *sip.Call, log *slog.Logger) *repeatCall {
	r := g.cfg.Repeat
	if !r.on() || !trackable(c.Caller().User) {
		return &repeatCall{}
	}
	key := g.cfg.MaskCaller(c.Caller().User) // the journeys' hash when -mask-callers is set
	lctx, cancel := context.WithTimeout(ctx, repeatLookupTimeout)
	defer cancel()
	h, err := r.History.RecordCall(lctx, key, c.ID(), r.Window)
	if err != nil {
		log.Warn("caller history unavailable; no repeat-caller fast track", "err", err)
		return &repeatCall{}
	}
	return &repeatCall{caller: key, calls: h.Calls, last: h.LastAgent, repeat: h.Calls >= r.Calls}
}

// answeredBy remembers ext as the agent who last spoke with the caller.
func (g *Gateway) answeredBy(ctx context.Context, rc *repeatCall, ext string, log *slog.Logger) {
	if rc == nil || rc.caller == "" {
		return
	}
	rc.last = ext
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), repeatLookupTimeout)
	defer cancel()
	if err := g.cfg.Repeat.History.SetLastAgent(sctx, rc.caller, ext, g.cfg.Repeat.Window); err != nil {
		log.Warn("remember last agent failed", "agent", ext, "err", err)
	}
}

// fastTrack hands a repeat caller straight to a person, before the menu.
// It reports whether the call is over; false means the menu runs as usual
// (not a repeat caller, the person queue closed, nobody reachable, or the
// caller left the queue with its key).
func (g *Gateway) fastTrack(ctx context.Context, ch *channel) bool {
	rc := ch.rep
	if rc == nil || !rc.repeat {
		return false
	}
	menu := ch.menu
	if !personOpen(menu, time.Now()) {
		ch.log.Info("repeat caller, but the person queue is closed: menu")
		return false
	}
	ch.log.Info("repeat caller: fast track to a person", "calls", rc.calls,
		"window", g.cfg.Repeat.Window.String(), "last_agent", rc.last)
	err := ch.transfer(ctx, ivr.Transfer{
		Queue: menu.Person.Queue, Priority: g.cfg.Repeat.Priority, Reason: ReasonRepeatCaller,
		Digits: map[string]string{}, Lang: menu.DefaultLanguage,
	}, promptWelcomeBack)
	switch {
	case err == nil:
		return true
	case ctx.Err() != nil:
		return true // the caller hung up
	case errors.Is(err, ivr.ErrEndCall):
		ch.Hangup(ctx) // the router has said goodbye (maximum wait)
		return true
	}
	ch.log.Info("fast track ended without a person; menu", "err", err)
	return false
}

// personOpen reports whether the menu would let a caller reach the person
// queue now: the start menu and that queue are both within their hours.
// Outside them the menu runs, and says so the way the operator wrote it.
func personOpen(m *ivr.Config, now time.Time) bool {
	open := func(h *ivr.Hours) bool { return h == nil || h.Schedule == nil || h.Schedule.Open(now) }
	if start := m.Menus[m.Start]; start != nil && !open(start.Hours) {
		return false
	}
	return open(m.Queues[m.Person.Queue])
}
