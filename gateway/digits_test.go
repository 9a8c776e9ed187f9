package gateway

import (
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/media/dtmf"
)

func TestPressFilter(t *testing.T) {
	type press struct {
		at     time.Duration
		digit  byte
		source dtmf.Source
	}
	ms := time.Millisecond
	tests := []struct {
		name    string
		presses []press
		want    string
	}{
		{"one source, repeated key", []press{{0, '0', dtmf.RFC4733}, {150 * ms, '0', dtmf.RFC4733}, {300 * ms, '0', dtmf.INFO}}, "00"},
		{"INFO and RFC 4733 for each press", []press{
			{0, '1', dtmf.RFC4733}, {10 * ms, '1', dtmf.INFO},
			{400 * ms, '2', dtmf.INFO}, {405 * ms, '2', dtmf.RFC4733},
			{900 * ms, '2', dtmf.RFC4733}, {910 * ms, '2', dtmf.INFO},
		}, "122"},
		{"same key from another source after the window", []press{{0, '5', dtmf.INFO}, {1500 * ms, '5', dtmf.RFC4733}}, "55"},
		{"different keys from two sources", []press{{0, '5', dtmf.INFO}, {50 * ms, '3', dtmf.RFC4733}}, "53"},
		{"in-band leak after RFC 4733", []press{{0, '4', dtmf.RFC4733}, {60 * ms, '4', dtmf.Inband}, {5 * time.Second, '9', dtmf.Inband}}, "4"},
		{"in-band only trunk", []press{{0, '4', dtmf.Inband}, {300 * ms, '4', dtmf.Inband}, {600 * ms, '#', dtmf.Inband}}, "44#"},
		{"in-band before the first RFC 4733 of the same press", []press{{0, '7', dtmf.Inband}, {30 * ms, '7', dtmf.RFC4733}, {500 * ms, '8', dtmf.Inband}}, "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f pressFilter
			t0 := time.Unix(1_700_000_000, 0)
			var got []byte
			for _, p := range tt.presses {
				if f.keep(dtmf.Event{Digit: p.digit, Source: p.source}, t0.Add(p.at)) {
					got = append(got, p.digit)
				}
			}
			if string(got) != tt.want {
				t.Errorf("keys kept = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDigitTap(t *testing.T) {
	var tap digitTap
	ev := dtmf.Event{Digit: '5', Source: dtmf.INFO}
	if tap.take(ev) {
		t.Fatalf("take() before divert = true, want false (the menu gets the key)")
	}
	sink := make(chan dtmf.Event, 1)
	restore := tap.divert(sink)
	if !tap.take(ev) {
		t.Fatalf("take() while diverted = false, want true")
	}
	if got := <-sink; got != ev {
		t.Errorf("sink got %+v, want %+v", got, ev)
	}
	tap.take(ev) // fills the sink
	if !tap.take(dtmf.Event{Digit: '6'}) {
		t.Errorf("take() with the sink full = false, want true (dropped, not blocking, not to the menu)")
	}
	restore()
	if tap.take(ev) {
		t.Errorf("take() after restore = true, want false")
	}
}
