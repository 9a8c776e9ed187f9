package dtmf

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
)

// Errors of ParseInfo; test with errors.Is.
var (
	ErrContentType = errors.New("dtmf: unsupported INFO content type")
	ErrNoSignal    = errors.New("dtmf: INFO body has no Signal")
	ErrBadDigit    = errors.New("dtmf: not a DTMF digit")
	ErrBadDuration = errors.New("dtmf: bad Duration")
)

// maxInfoDuration caps a claimed key press length; nobody holds a key for a minute.
const maxInfoDuration = 60000 // ms

// RelayContentType is the media type of the body FormatRelay writes.
const RelayContentType = "application/dtmf-relay"

// Key press lengths FormatRelay writes. An event reported early (RFC 4733,
// in-band) may carry no length or the length so far; the far end plays
// what we send, so it is kept between the 40 ms a receiver must recognise
// (ITU-T Q.24) and a few seconds.
const (
	DefaultRelayDuration = 100 * time.Millisecond // for a Duration of 0 or less
	MinRelayDuration     = 40 * time.Millisecond
	MaxRelayDuration     = 5 * time.Second
)

// FormatRelay writes a key press as an application/dtmf-relay body, the
// de-facto SIP INFO format ParseInfo reads: "Signal=5\r\nDuration=160\r\n",
// Duration in milliseconds. A Duration of 0 or less becomes
// DefaultRelayDuration; others are kept within MinRelayDuration and
// MaxRelayDuration. A digit other than 0-9 * # A-D is ErrBadDigit and
// writes nothing.
func FormatRelay(ev Event) ([]byte, error) {
	if !ValidDigit(ev.Digit) {
		return nil, fmt.Errorf("format dtmf-relay signal %q: %w", ev.Digit, ErrBadDigit)
	}
	d := ev.Duration
	if d <= 0 {
		d = DefaultRelayDuration
	}
	d = min(max(d, MinRelayDuration), MaxRelayDuration)
	b := make([]byte, 0, len("Signal=5\r\nDuration=5000\r\n"))
	b = append(b, "Signal="...)
	b = append(b, ev.Digit)
	b = append(b, "\r\nDuration="...)
	b = strconv.AppendInt(b, d.Milliseconds(), 10)
	b = append(b, "\r\n"...)
	return b, nil
}

// ParseInfo reads a SIP INFO body carrying a key press. Two bodies are in
// use, neither standardised by the IETF:
//
//   - application/dtmf-relay (Cisco): lines "Signal=5" and "Duration=160"
//     (milliseconds). Keys and spaces are tolerated in any case and with CRLF
//     or LF line ends; Signal may be the key or its event code (10 for *,
//     11 for #, as some phones send).
//   - application/dtmf: the body is just the key (or its event code).
func ParseInfo(contentType string, body []byte) (Event, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return Event{}, fmt.Errorf("parse info content type %q: %w", contentType, ErrContentType)
	}
	switch mt {
	case "application/dtmf-relay":
		return parseRelay(body)
	case "application/dtmf":
		d, err := parseSignal(string(bytes.TrimSpace(body)))
		if err != nil {
			return Event{}, fmt.Errorf("parse application/dtmf body: %w", err)
		}
		return Event{Digit: d, Source: INFO}, nil
	default:
		return Event{}, fmt.Errorf("parse info body of type %q: %w", mt, ErrContentType)
	}
}

func parseRelay(body []byte) (Event, error) {
	ev := Event{Source: INFO}
	haveSignal := false
	for line := range strings.Lines(string(body)) {
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue // blank or unknown line: tolerated
		}
		key = strings.TrimSpace(key)
		val = strings.TrimSpace(val)
		switch {
		case strings.EqualFold(key, "Signal"):
			d, err := parseSignal(val)
			if err != nil {
				return Event{}, fmt.Errorf("parse dtmf-relay Signal: %w", err)
			}
			ev.Digit = d
			haveSignal = true
		case strings.EqualFold(key, "Duration"):
			ms, err := strconv.Atoi(val)
			if err != nil || ms < 0 || ms > maxInfoDuration {
				return Event{}, fmt.Errorf("parse dtmf-relay Duration %q: %w", val, ErrBadDuration)
			}
			ev.Duration = time.Duration(ms) * time.Millisecond
		}
	}
	if !haveSignal {
		return Event{}, fmt.Errorf("parse dtmf-relay body: %w", ErrNoSignal)
	}
	return ev, nil
}

// parseSignal accepts one key (0-9 * # A-D, any case) or an RFC 4733 event
// code 0-15 written in decimal.
func parseSignal(s string) (byte, error) {
	if len(s) == 1 {
		if code, ok := CodeForDigit(s[0]); ok {
			d, _ := DigitForCode(code)
			return d, nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 15 {
		d, _ := DigitForCode(uint8(n))
		return d, nil
	}
	return 0, fmt.Errorf("signal %q: %w", s, ErrBadDigit)
}
