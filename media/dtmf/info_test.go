package dtmf

import (
	"errors"
	"testing"
	"time"
)

func TestParseInfo(t *testing.T) {
	tests := []struct {
		name    string
		ct      string
		body    string
		want    Event
		wantErr error
	}{
		{"relay CRLF", "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", Event{'5', INFO, 160 * time.Millisecond}, nil},
		{"relay LF spaces case", "Application/DTMF-Relay", "signal = #\nDURATION= 250\n", Event{'#', INFO, 250 * time.Millisecond}, nil},
		{"relay code 10 is star", "application/dtmf-relay", "Signal=10\r\nDuration=100", Event{'*', INFO, 100 * time.Millisecond}, nil},
		{"relay code 11 is hash", "application/dtmf-relay", "Signal=11", Event{'#', INFO, 0}, nil},
		{"relay lower-case letter", "application/dtmf-relay", "Signal=b\r\n", Event{'B', INFO, 0}, nil},
		{"relay with params and blank lines", "application/dtmf-relay; charset=utf-8", "\r\nSignal=0\r\n\r\nDuration=80\r\n", Event{'0', INFO, 80 * time.Millisecond}, nil},
		{"relay no signal", "application/dtmf-relay", "Duration=160", Event{}, ErrNoSignal},
		{"relay empty", "application/dtmf-relay", "", Event{}, ErrNoSignal},
		{"relay bad signal", "application/dtmf-relay", "Signal=X", Event{}, ErrBadDigit},
		{"relay signal 16", "application/dtmf-relay", "Signal=16", Event{}, ErrBadDigit},
		{"relay two chars", "application/dtmf-relay", "Signal=55", Event{}, ErrBadDigit},
		{"relay bad duration", "application/dtmf-relay", "Signal=1\nDuration=abc", Event{}, ErrBadDuration},
		{"relay negative duration", "application/dtmf-relay", "Signal=1\nDuration=-5", Event{}, ErrBadDuration},
		{"dtmf digit", "application/dtmf", "7", Event{'7', INFO, 0}, nil},
		{"dtmf digit with newline", "application/dtmf", " * \r\n", Event{'*', INFO, 0}, nil},
		{"dtmf code", "application/dtmf", "11", Event{'#', INFO, 0}, nil},
		{"dtmf empty", "application/dtmf", "", Event{}, ErrBadDigit},
		{"other type", "application/sdp", "v=0", Event{}, ErrContentType},
		{"broken type", "application/", "5", Event{}, ErrContentType},
		{"no type", "", "Signal=5", Event{}, ErrContentType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseInfo(tt.ct, []byte(tt.body))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseInfo(%q, %q) error = %v, want %v", tt.ct, tt.body, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseInfo(%q, %q) = %+v, want %+v", tt.ct, tt.body, got, tt.want)
			}
		})
	}
}

func TestFormatRelay(t *testing.T) {
	tests := []struct {
		name    string
		ev      Event
		want    string
		wantErr error
	}{
		{"digit", Event{Digit: '5', Duration: 160 * time.Millisecond}, "Signal=5\r\nDuration=160\r\n", nil},
		{"star", Event{Digit: '*', Duration: 250 * time.Millisecond}, "Signal=*\r\nDuration=250\r\n", nil},
		{"hash", Event{Digit: '#', Duration: 80 * time.Millisecond}, "Signal=#\r\nDuration=80\r\n", nil},
		{"letter", Event{Digit: 'D', Duration: 100 * time.Millisecond}, "Signal=D\r\nDuration=100\r\n", nil},
		{"no duration", Event{Digit: '0'}, "Signal=0\r\nDuration=100\r\n", nil},
		{"negative duration", Event{Digit: '1', Duration: -time.Second}, "Signal=1\r\nDuration=100\r\n", nil},
		{"too short", Event{Digit: '2', Duration: 5 * time.Millisecond}, "Signal=2\r\nDuration=40\r\n", nil},
		{"too long", Event{Digit: '3', Duration: time.Minute}, "Signal=3\r\nDuration=5000\r\n", nil},
		{"sub-millisecond part", Event{Digit: '4', Duration: 160*time.Millisecond + 900*time.Microsecond}, "Signal=4\r\nDuration=160\r\n", nil},
		{"lower-case letter", Event{Digit: 'a'}, "", ErrBadDigit},
		{"not a key", Event{Digit: 'X'}, "", ErrBadDigit},
		{"zero byte", Event{}, "", ErrBadDigit},
		{"CR", Event{Digit: '\r'}, "", ErrBadDigit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FormatRelay(tt.ev)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FormatRelay(%+v) error = %v, want %v", tt.ev, err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("FormatRelay(%+v) = %q, want %q", tt.ev, got, tt.want)
			}
		})
	}
}

// Every key, formatted then parsed, comes back with its length.
func TestFormatRelayRoundTrip(t *testing.T) {
	for _, d := range []byte(digits) {
		for _, dur := range []time.Duration{MinRelayDuration, 160 * time.Millisecond, MaxRelayDuration} {
			in := Event{Digit: d, Source: RFC4733, Duration: dur}
			body, err := FormatRelay(in)
			if err != nil {
				t.Fatalf("FormatRelay(%+v) error = %v", in, err)
			}
			got, err := ParseInfo(RelayContentType, body)
			if want := (Event{Digit: d, Source: INFO, Duration: dur}); err != nil || got != want {
				t.Errorf("ParseInfo(FormatRelay(%+v)) = %+v, %v, want %+v", in, got, err, want)
			}
		}
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Add("application/dtmf-relay; x=y", []byte("signal = 11\n"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		ev, err := ParseInfo(ct, body)
		if err != nil {
			return
		}
		if !ValidDigit(ev.Digit) || ev.Source != INFO || ev.Duration < 0 {
			t.Fatalf("ParseInfo(%q, %q) = %+v, want a valid INFO digit", ct, body, ev)
		}
		// What we read, we can pass on: the same key, its length kept
		// within the bounds FormatRelay writes.
		relay, err := FormatRelay(ev)
		if err != nil {
			t.Fatalf("FormatRelay(%+v) error = %v, want nil", ev, err)
		}
		back, err := ParseInfo(RelayContentType, relay)
		want := ev
		switch {
		case ev.Duration == 0:
			want.Duration = DefaultRelayDuration
		case ev.Duration < MinRelayDuration:
			want.Duration = MinRelayDuration
		case ev.Duration > MaxRelayDuration:
			want.Duration = MaxRelayDuration
		}
		if err != nil || back != want {
			t.Fatalf("ParseInfo(FormatRelay(%+v)) = %+v, %v, want %+v", ev, back, err, want)
		}
	})
}
