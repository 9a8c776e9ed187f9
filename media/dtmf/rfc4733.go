package dtmf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// EventClockRate is the RTP clock rate of telephone-event when it rides with
// G.711 audio (RFC 4733 §2.1: the rate of the audio it accompanies).
const EventClockRate = 8000

// ErrShortPayload is returned for a telephone-event payload under 4 bytes.
var ErrShortPayload = errors.New("dtmf: telephone-event payload shorter than 4 bytes")

// Payload is one RFC 4733 §2.3 event block.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Payload struct {
	Event    uint8  // event code; 0-15 are the DTMF keys (RFC 4733 §3.2)
	End      bool   // E bit: this is (a retransmission of) the final packet
	Volume   uint8  // power level in -dBm0, 0-63
	Duration uint16 // in RTP timestamp units since the event's timestamp
}

// Digit returns the key for a DTMF event code, false for other events
// (flash, tones of RFC 4734, ...), which the gateway ignores.
func (p Payload) Digit() (byte, bool) { return DigitForCode(p.Event) }

// ParseEvent decodes the first event block of a telephone-event payload.
// Trailing bytes are ignored: a longer payload is either padding or further
// blocks, and the first block is the one that names the event.
func ParseEvent(payload []byte) (Payload, error) {
	if len(payload) < 4 {
		return Payload{}, fmt.Errorf("parse telephone-event (%d bytes): %w", len(payload), ErrShortPayload)
	}
	return Payload{
		Event:    payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3F, // R bit (0x40) is reserved: ignored on receipt
		Duration: binary.BigEndian.Uint16(payload[2:4]),
	}, nil
}

// AppendEvent encodes p after dst (for tests and the test phone).
func AppendEvent(dst []byte, p Payload) []byte {
	b1 := p.Volume & 0x3F
	if p.End {
		b1 |= 0x80
	}
	return append(dst, p.Event, b1, byte(p.Duration>>8), byte(p.Duration))
}

// lateWindow bounds how far back a timestamp may lie and still be taken as a
// late packet of an earlier event rather than a new timeline (10 s at 8 kHz).
const lateWindow = 10 * EventClockRate

// Detector4733 turns a stream of telephone-event packets into key presses.
//
// RFC 4733 §2.5.1.3: every packet of one event carries the event's start
// timestamp; a new event gets a new timestamp. So the timestamp, not the
// marker bit, identifies a press: the marker may be lost with the first
// packet, and the first packet and the final (E bit) packet are each
// usually sent three times (§2.5.1.4). A press is reported on the first
// packet seen with a new timestamp, so a lost start still yields the press
// and barge-in does not wait for the key to be released.
//
// The zero value is ready to use. It is not safe for concurrent use.
type Detector4733 struct {
	seen bool
	ts   uint32 // timestamp of the last event reported
}

// Reset forgets the last event, for a new SSRC (the timestamp space changed).
func (d *Detector4733) Reset() { *d = Detector4733{} }

// Feed takes one telephone-event packet: its RTP timestamp, marker bit and
// payload. It returns the key press exactly once per event. Packets that do
// not parse or carry a non-DTMF event are ignored.
func (d *Detector4733) Feed(ts uint32, marker bool, payload []byte) (Event, bool) {
	_ = marker // kept in the signature: the timestamp decides, see the type comment
	p, err := ParseEvent(payload)
	if err != nil {
		return Event{}, false
	}
	digit, ok := p.Digit()
	if !ok {
		return Event{}, false
	}
	if d.seen {
		diff := ts - d.ts
		if diff == 0 {
			return Event{}, false // same event: continuation or retransmission
		}
		// A timestamp slightly behind the current event is a late or
		// reordered packet of an earlier event (serial arithmetic, as for
		// RTP sequence numbers); a big jump back is a new timeline.
		if int32(diff) < 0 && d.ts-ts < lateWindow {
			return Event{}, false
		}
	}
	d.seen = true
	d.ts = ts
	return Event{
		Digit:    digit,
		Source:   RFC4733,
		Duration: time.Duration(p.Duration) * time.Second / EventClockRate,
	}, true
}
