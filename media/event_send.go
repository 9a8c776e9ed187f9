package media

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ivrgw/ivrgw/media/dtmf"
)

// Errors of SendEvent, wrapped: test with errors.Is.
var (
	// ErrNoEvents: the leg did not negotiate telephone-event, so a key
	// press cannot go in its RTP; the caller may fall back to SIP INFO.
	ErrNoEvents = errors.New("media: telephone-event not negotiated")
	// ErrBadDigit: not one of the keys 0-9 * # A-D.
	ErrBadDigit = errors.New("media: not a dtmf key")
	// ErrNotSending: the stream is on hold or has no address, so nothing
	// may be sent (RFC 3264 §8.4) and the key press is not sent.
	ErrNotSending = errors.New("media: stream is not sending")
)

const (
	// eventUpdate is the interval of an event's update packets and of the
	// retransmissions of its end (RFC 4733 §2.5.1.2, §2.5.1.4): 50 ms,
	// the interval the RFC names, rather than the audio's 20 ms, which
	// would only send more packets saying the same.
	eventUpdate = 50 * time.Millisecond
	// eventEndPackets: the final packet is sent three times (RFC 4733
	// §2.5.1.4), so that losing one does not lose the end of the press.
	eventEndPackets = 3
	// eventVolume is the volume field (RFC 4733 §2.3.4): -10 dBm0, the
	// usual level of each tone of a DTMF key.
	eventVolume = 10
	// defaultEventDuration is used for d <= 0: a short, ordinary press.
	defaultEventDuration = 100 * time.Millisecond
	// minEventDuration: a far end that turns the event back into tones
	// must hear at least 40 ms of tone to recognise a key (ITU-T Q.24).
	minEventDuration = 40 * time.Millisecond
	// eventPause is the least silence, in media time, between the end of
	// one event and the start of the next on a stream: a far end that
	// regenerates tones must hear a pause to count two presses of one key
	// as two (ITU-T Q.24 asks receivers for 40 ms).
	eventPause = 40 * time.Millisecond
	// maxEventDuration keeps the duration within its 16-bit field
	// (8.19 s at 8 kHz), so an event never needs the long-event segments
	// of RFC 4733 §2.5.1.3.
	maxEventDuration = 5 * time.Second
)

// SendEvent sends one key press (0-9 * # A-D; a-d are taken as A-D) as RFC
// 4733 telephone-events out of the stream, lasting d, and returns when its
// last packet has gone: about d + 100 ms later. d <= 0 means 100 ms; d is
// kept within 40 ms and 5 s. This is how a digit the gateway learned
// another way (SIP INFO from the other leg of a bridged call) reaches this
// leg in its RTP.
//
// The packets are the stream's own: its SSRC and sequence numbers, between
// the audio the pacer or a bridge relay is sending, which goes on
// meanwhile. The event starts at the timestamp just after the last audio
// sent, so it falls where the far end's playout is.
//
// It returns ErrBadDigit or ErrNoEvents, sending nothing. On hold, or with
// no address to send to, it sends nothing either (RFC 3264 §8.4: the peer
// asked for no media) and returns ErrNotSending: the press is dropped, and
// the caller decides whether that is worth a log line. If the stream goes
// on hold during the event, the rest of the event is not sent and
// SendEvent returns nil.
//
// Calls on one stream never overlap: a second waits for the first, or
// until its ctx ends. If ctx ends before d has run, the event is cut short
// but still ended properly (its end packets are sent at once, with the
// duration reached) and ctx's error is returned, wrapped; if it ends only
// during the end's retransmissions, they go at once and the result is nil.
// A stream carries one event at a time (its packets share one timestamp,
// RFC 4733 §2.2.1, so two at once would be one garbled event): while this one
// is sent, telephone-events relayed from a bridge peer are dropped, so a
// phone that reports one press both as SIP INFO and as RFC 4733 is heard
// once, not as two overlapping events.
func (s *Stream) SendEvent(ctx context.Context, digit byte, d time.Duration) error {
	code, ok := dtmf.CodeForDigit(digit)
	if !ok {
		return fmt.Errorf("send telephone-event %q: %w", digit, ErrBadDigit)
	}
	if !s.hasEvents {
		return fmt.Errorf("send telephone-event: %w", ErrNoEvents)
	}
	d = eventDuration(d)

	select {
	case s.eventSlot <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("send telephone-event: wait for the previous one: %w", ctx.Err())
	}
	defer func() { <-s.eventSlot }()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send telephone-event: %w", err)
	}

	ev := dtmf.Payload{Event: code, Volume: eventVolume}
	start := time.Now()
	ts, ok := s.startEvent(ev)
	if !ok {
		return fmt.Errorf("send telephone-event: %w", ErrNotSending)
	}
	s.stats.eventsSent.Add(1)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// until waits for the deadline at since the start; false if ctx ended.
	// Absolute deadlines: a late wake-up does not delay the rest.
	until := func(at time.Duration) bool {
		timer.Reset(time.Until(start.Add(at)))
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}

	// Updates every 50 ms, each with the duration so far (RFC 4733
	// §2.3.5, §2.5.1.2). One that wakes up at or past the end is not sent:
	// the end packets say the same.
	final := samples(d)
	ev.Duration = FrameSamples
	cut := false
	for at := eventUpdate; at < d; at += eventUpdate {
		if !until(at) {
			cut = true
			break
		}
		now := samples(time.Since(start))
		if now >= final {
			break
		}
		ev.Duration = max(ev.Duration, now)
		s.continueEvent(ts, ev)
	}
	if !cut && !until(d) {
		cut = true
	}
	if cut {
		// Cut short: the end says how long the key was really down.
		final = min(max(ev.Duration, samples(time.Since(start))), final)
	}

	// The end, three times, 50 ms apart (RFC 4733 §2.5.1.4), each a new
	// packet with its own sequence number (RFC 3550 §5.1). Once ctx has
	// ended they go at once: the caller is done waiting.
	ev.End, ev.Duration = true, final
	hurry := cut
	for i := range eventEndPackets {
		if i > 0 && !hurry && !until(d+time.Duration(i)*eventUpdate) {
			hurry = true
		}
		s.continueEvent(ts, ev)
	}
	s.endEvent(ts, final)
	if cut {
		return fmt.Errorf("send telephone-event: cut short: %w", ctx.Err())
	}
	return nil
}

// eventDuration applies SendEvent's default and bounds to d.
func eventDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return defaultEventDuration
	}
	return min(max(d, minEventDuration), maxEventDuration)
}

// maxEventSamples is the longest event in timestamp units.
var maxEventSamples = uint32(samples(maxEventDuration))

// samples converts d to 8 kHz timestamp units, saturating at the 16-bit
// duration field's limit.
func samples(d time.Duration) uint16 {
	n := d * dtmf.EventClockRate / time.Second
	return uint16(min(max(n, 0), 0xFFFF))
}

// startEvent sends the first packet of an event and returns the event's
// timestamp, or false if the stream may not send.
//
// The timestamp is tx.ts, the one after the last audio sent: the pacer
// moves it on every 20 ms tick, sent or not, and the relay sets it just past
// each relayed audio packet (relay.go), so either way the event begins
// where the far end's playout is. All of the event's packets carry it (RFC
// 4733 §2.2.1), and the first has the marker bit (§2.2.2). Its duration is
// one frame, not zero: zero is reserved for state events and a receiver
// ignores a DTMF report with it (§2.3.5).
//
// With no audio going out (a bridge peer that is silent) tx.ts stands
// still, and a second event would get the first one's timestamp, which a
// receiver takes for a repeat of the first (§2.2.1: the timestamp tells
// events apart). So an event starts no earlier than tx.nextEvent, set by
// endEvent; the audio clock itself is left alone.
func (s *Stream) startEvent(ev dtmf.Payload) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.canSend() {
		return 0, false
	}
	ts := s.tx.ts
	// Serial arithmetic: the floor counts only a little ahead of the
	// clock; far ahead means the clock has long passed it and wrapped.
	if ahead := s.tx.nextEvent - ts; ahead > 0 && ahead <= maxEventSamples+uint32(samples(eventPause)) {
		ts = s.tx.nextEvent
	}
	ev.Duration = FrameSamples
	s.writePacket(s.eventPT, ts, true, dtmf.AppendEvent(s.tx.evbuf[:0], ev))
	s.tx.ownEvent = true
	return ts, true
}

// continueEvent sends an update or end packet of the event at ts, unless
// the stream went on hold meanwhile.
func (s *Stream) continueEvent(ts uint32, ev dtmf.Payload) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.canSend() {
		s.writePacket(s.eventPT, ts, false, dtmf.AppendEvent(s.tx.evbuf[:0], ev))
	}
}

// endEvent records where the next event may start at the earliest: a
// pause after the end of this one, at ts and lasting length.
func (s *Stream) endEvent(ts uint32, length uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tx.nextEvent = ts + uint32(length) + uint32(samples(eventPause))
	s.tx.ownEvent = false
}
