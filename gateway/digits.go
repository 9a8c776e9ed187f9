package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/media/dtmf"
)

// digitTap decides where a caller's key presses go: to the menu, or, while
// the call is bridged to an agent, to the bridge.
type digitTap struct {
	mu   sync.Mutex
	sink chan<- dtmf.Event
}

// divert sends every press to sink until restore is called.
func (d *digitTap) divert(sink chan<- dtmf.Event) (restore func()) {
	d.mu.Lock()
	d.sink = sink
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		d.sink = nil
		d.mu.Unlock()
	}
}

// take hands ev to the diverted sink and reports whether it did; a full
// sink drops the press rather than block the caller's digit pump.
func (d *digitTap) take(ev dtmf.Event) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sink == nil {
		return false
	}
	select {
	case d.sink <- ev:
	default:
	}
	return true
}

// echoWindow is how close together the same key from two different sources
// counts as one press reported twice (see pressFilter).
const echoWindow = time.Second

// pressFilter keeps one key per press from a phone that reports a press
// more than once: one that leaks the tone into the audio besides its RFC
// 4733 events (once a call has shown RFC 4733, in-band detections are
// ignored), and one set to send both RFC 4733 and SIP INFO (the same key
// from another source within echoWindow of the last one kept is the same
// press). Keys from one source are never merged: "00" is two presses.
type pressFilter struct {
	seen4733 bool
	last     dtmf.Event
	lastAt   time.Time
}

// keep reports whether ev, arriving at now, is a new press.
func (f *pressFilter) keep(ev dtmf.Event, now time.Time) bool {
	switch {
	case ev.Source == dtmf.RFC4733:
		f.seen4733 = true
	case ev.Source == dtmf.Inband && f.seen4733:
		return false
	}
	if !f.lastAt.IsZero() && ev.Source != f.last.Source && ev.Digit == f.last.Digit && now.Sub(f.lastAt) < echoWindow {
		return false
	}
	f.last, f.lastAt = ev, now
	return true
}

// infoTimeout bounds one SIP INFO passed across a bridge.
const infoTimeout = 4 * time.Second

// passDigits passes one side's key presses across a bridge to the other
// side, the way a B2BUA with per-peer DTMF modes does (Asterisk's
// dtmf_mode): as RFC 4733 telephone-events to a side that negotiated them,
// else as SIP INFO. What is already in the relayed media is not sent twice:
// RFC 4733 events are relayed by media.Bridge to a side that has them, and
// in-band tones travel in the audio. A press reported twice (pressFilter)
// is passed on once. It returns when ctx ends.
func passDigits(ctx context.Context, in, alsoIn <-chan dtmf.Event, to *media.Stream, info func(context.Context, dtmf.Event) error, log *slog.Logger) {
	var filter pressFilter
	for {
		var ev dtmf.Event
		select {
		case <-ctx.Done():
			return
		case ev = <-in:
		case ev = <-alsoIn:
		}
		if !filter.keep(ev, time.Now()) {
			continue
		}
		var err error
		var via string
		switch {
		case ev.Source == dtmf.Inband:
			continue
		case to.HasEvents():
			if ev.Source == dtmf.RFC4733 {
				continue
			}
			via = "rfc4733"
			err = to.SendEvent(ctx, ev.Digit, ev.Duration)
		default:
			via = "info"
			ictx, cancel := context.WithTimeout(ctx, infoTimeout)
			err = info(ictx, ev)
			cancel()
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Info("key not passed on", "via", via, "err", err)
		default:
			log.Debug("key passed on", "via", via, "source", ev.Source.String())
		}
	}
}

// InbandMode says where the gateway listens for DTMF tones in a caller's
// audio (RFC 4733 events and SIP INFO are always taken).
type InbandMode string

const (
	// InbandAuto, the default: only callers whose SDP did not negotiate
	// telephone-event (RFC 4733), and not while bridged to an agent (the
	// tones then travel in the audio). What Asterisk's dtmf_mode=auto does;
	// detection costs CPU on every audio packet.
	InbandAuto InbandMode = "auto"
	// InbandAlways: every caller, all call long, for phones that negotiate
	// events yet send tones. Once a call has shown an RFC 4733 event its
	// in-band detections are ignored (phones that send both).
	InbandAlways InbandMode = "always"
	// InbandOff: never.
	InbandOff InbandMode = "off"
)

// ParseInbandMode reads auto, always or off.
func ParseInbandMode(s string) (InbandMode, error) {
	switch m := InbandMode(s); m {
	case InbandAuto, InbandAlways, InbandOff:
		return m, nil
	}
	return "", fmt.Errorf("in-band dtmf mode %q: want auto, always or off", s)
}

// listens reports whether a caller's stream runs the in-band detector at
// answer: hasEvents is whether its SDP negotiated telephone-event.
func (m InbandMode) listens(hasEvents bool) bool {
	switch m {
	case InbandAlways:
		return true
	case InbandOff:
		return false
	}
	return !hasEvents
}
