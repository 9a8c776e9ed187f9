// Package dtmf turns the three ways a caller's key press reaches the gateway
// into one Event: RFC 4733 telephone-event RTP payloads, SIP INFO bodies
// (application/dtmf-relay and application/dtmf) and in-band DTMF tones found
// by a Goertzel detector on 8 kHz linear PCM.
//
// It is the one place that decides what a digit is. It imports only the
// standard library: no RTP, no SIP, no network code.
package dtmf

import (
	"fmt"
	"strings"
	"time"
)

// Source says how a digit reached us.
type Source uint8

// The digit sources.
const (
	RFC4733 Source = iota + 1 // RTP telephone-event (RFC 4733)
	INFO                      // SIP INFO body
	Inband                    // DTMF tones in the audio
)

// String names the source for logs.
func (s Source) String() string {
	switch s {
	case RFC4733:
		return "rfc4733"
	case INFO:
		return "info"
	case Inband:
		return "inband"
	default:
		return fmt.Sprintf("source(%d)", uint8(s))
	}
}

// Event is one key press.
type Event struct {
	Digit  byte // one of 0-9 * # A-D
	Source Source
	// Duration is what was known of the press when it was reported. Digits
	// are reported as early as possible (barge-in), so for RFC 4733 and
	// in-band digits this is usually the duration so far, not the total.
	Duration time.Duration
}

// digits maps RFC 4733 §3.2 event codes 0-15 to their keys.
const digits = "0123456789*#ABCD"

// DigitForCode returns the key for RFC 4733 event code 0-15.
func DigitForCode(code uint8) (byte, bool) {
	if int(code) >= len(digits) {
		return 0, false
	}
	return digits[code], true
}

// CodeForDigit is the inverse of DigitForCode; lower-case a-d are accepted.
func CodeForDigit(d byte) (uint8, bool) {
	if d >= 'a' && d <= 'd' {
		d -= 'a' - 'A'
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] == d {
			return uint8(i), true
		}
	}
	return 0, false
}

// ValidDigit reports whether d is one of 0-9 * # A-D.
func ValidDigit(d byte) bool { return strings.IndexByte(digits, d) >= 0 }
