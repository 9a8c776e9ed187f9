package dtmf

import (
	"errors"
	"testing"
	"time"
)

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Payload
		wantErr error
	}{
		{"digit 5 start", []byte{5, 10, 0, 0}, Payload{Event: 5, Volume: 10}, nil},
		{"end bit, duration", []byte{11, 0x80 | 7, 0x03, 0x20}, Payload{Event: 11, End: true, Volume: 7, Duration: 800}, nil},
		{"reserved bit ignored", []byte{1, 0x40 | 63, 0xFF, 0xFF}, Payload{Event: 1, Volume: 63, Duration: 65535}, nil},
		{"trailing bytes", []byte{9, 0, 0, 160, 1, 2, 3, 4}, Payload{Event: 9, Duration: 160}, nil},
		{"short", []byte{1, 2, 3}, Payload{}, ErrShortPayload},
		{"empty", nil, Payload{}, ErrShortPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseEvent(%v) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseEvent(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestPayloadDigit(t *testing.T) {
	for code := range 20 {
		d, ok := Payload{Event: uint8(code)}.Digit()
		wantOK := code < 16
		if ok != wantOK {
			t.Fatalf("Payload{Event: %d}.Digit() ok = %v, want %v", code, ok, wantOK)
		}
		if ok && d != "0123456789*#ABCD"[code] {
			t.Errorf("Payload{Event: %d}.Digit() = %q, want %q", code, d, "0123456789*#ABCD"[code])
		}
	}
}

// pkt is one telephone-event packet as the detector sees it.
type pkt struct {
	ts     uint32
	marker bool
	p      Payload
}

// press returns the packets a typical sender emits for one key press
// (RFC 4733 §2.5.1.2, §2.5.1.4): the start sent three times with the
// marker, continuations every 50 ms, and the end sent three times.
func press(code uint8, ts uint32) []pkt {
	var out []pkt
	for range 3 {
		out = append(out, pkt{ts, true, Payload{Event: code, Volume: 10}})
	}
	for d := uint16(400); d <= 1200; d += 400 {
		out = append(out, pkt{ts, false, Payload{Event: code, Volume: 10, Duration: d}})
	}
	for range 3 {
		out = append(out, pkt{ts, false, Payload{Event: code, End: true, Volume: 10, Duration: 1360}})
	}
	return out
}

func concat(ps ...[]pkt) []pkt {
	var out []pkt
	for _, p := range ps {
		out = append(out, p...)
	}
	return out
}

func TestDetector4733(t *testing.T) {
	tests := []struct {
		name string
		in   []pkt
		want string
	}{
		{"one press", press(5, 1000), "5"},
		{"lost start packets", press(5, 1000)[3:], "5"},
		{"only end packets", press(11, 1000)[6:], "#"},
		{"no marker at all", func() []pkt {
			p := press(1, 1000)
			for i := range p {
				p[i].marker = false
			}
			return p
		}(), "1"},
		{"same digit twice", concat(press(7, 1000), press(7, 3000)), "77"},
		{"three digits", concat(press(1, 1000), press(2, 3000), press(10, 5000)), "12*"},
		{"late end of previous press", concat(press(3, 1000), press(4, 3000)[:3], press(3, 1000)[6:], press(4, 3000)[3:]), "34"},
		{"timestamp wraps", concat(press(8, 0xFFFFFF00), press(8, 0x40)), "88"},
		{"new timeline far back", concat(press(6, 1_000_000), press(6, 5000)), "66"},
		{"flash event ignored", press(16, 1000), ""},
		{"A-D keys", concat(press(12, 1), press(15, 2000)), "AD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Detector4733
			var got []byte
			for _, p := range tt.in {
				if ev, ok := d.Feed(p.ts, p.marker, AppendEvent(nil, p.p)); ok {
					if ev.Source != RFC4733 {
						t.Errorf("Feed() source = %v, want %v", ev.Source, RFC4733)
					}
					got = append(got, ev.Digit)
				}
			}
			if string(got) != tt.want {
				t.Errorf("Feed(%s) digits = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestDetector4733Duration(t *testing.T) {
	var d Detector4733
	ev, ok := d.Feed(100, false, AppendEvent(nil, Payload{Event: 2, Duration: 800}))
	if !ok || ev.Duration != 100*time.Millisecond {
		t.Errorf("Feed(duration 800) = %+v, %v, want 100ms, true", ev, ok)
	}
	if _, ok := d.Feed(100, false, []byte{2}); ok {
		t.Error("Feed(short payload) reported a press, want none")
	}
}

func TestDetector4733Reset(t *testing.T) {
	var d Detector4733
	d.Feed(5000, true, AppendEvent(nil, Payload{Event: 1}))
	if _, ok := d.Feed(4000, true, AppendEvent(nil, Payload{Event: 1})); ok {
		t.Fatal("Feed(earlier ts) reported before Reset, want late packet ignored")
	}
	d.Reset()
	if _, ok := d.Feed(4000, true, AppendEvent(nil, Payload{Event: 1})); !ok {
		t.Error("Feed(after Reset) = no press, want press")
	}
}

func TestDetector4733Allocs(t *testing.T) {
	var d Detector4733
	payload := AppendEvent(nil, Payload{Event: 5, Duration: 160})
	ts := uint32(0)
	if n := testing.AllocsPerRun(1000, func() { ts += 800; d.Feed(ts, true, payload) }); n != 0 {
		t.Errorf("Detector4733.Feed allocs = %v, want 0", n)
	}
}

func TestSourceString(t *testing.T) {
	for s, want := range map[Source]string{RFC4733: "rfc4733", INFO: "info", Inband: "inband", 9: "source(9)"} {
		if got := s.String(); got != want {
			t.Errorf("Source(%d).String() = %q, want %q", uint8(s), got, want)
		}
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte{5, 10, 0, 160})
	f.Add([]byte{11, 0x8A, 0x05, 0x00})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseEvent(b)
		if err != nil {
			if len(b) >= 4 {
				t.Fatalf("ParseEvent(%v) error = %v for a 4-byte payload", b, err)
			}
			return
		}
		// Re-encoding gives the first block back, less the reserved bit.
		enc := AppendEvent(nil, p)
		want := []byte{b[0], b[1] &^ 0x40, b[2], b[3]}
		if string(enc) != string(want) {
			t.Fatalf("AppendEvent(ParseEvent(%v)) = %v, want %v", b, enc, want)
		}
		var d Detector4733
		if ev, ok := d.Feed(1, true, b); ok && !ValidDigit(ev.Digit) {
			t.Fatalf("Feed(%v) digit = %q, not a DTMF key", b, ev.Digit)
		}
	})
}
