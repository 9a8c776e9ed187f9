package dtmf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// signal builds 8 kHz test audio piece by piece.
type signal struct {
	s   []float64
	rng *rand.Rand
}

func newSignal(seed uint64) *signal { return &signal{rng: rand.New(rand.NewPCG(seed, 1))} }

func (g *signal) silence(ms int) *signal {
	g.s = append(g.s, make([]float64, ms*8)...)
	return g
}

// samples appends n raw samples of silence (to shift the tone's phase
// against the detector's windows).
func (g *signal) samples(n int) *signal {
	g.s = append(g.s, make([]float64, n)...)
	return g
}

// tones appends the sum of sines (freq, amplitude pairs) for ms milliseconds,
// each with a random phase.
func (g *signal) tones(ms int, fa ...float64) *signal {
	start := len(g.s)
	g.s = append(g.s, make([]float64, ms*8)...)
	for i := 0; i+1 < len(fa); i += 2 {
		f, a, ph := fa[i], fa[i+1], g.rng.Float64()*2*math.Pi
		for n := start; n < len(g.s); n++ {
			g.s[n] += a * math.Sin(2*math.Pi*f*float64(n-start)/8000+ph)
		}
	}
	return g
}

func (g *signal) key(d byte, ms int, ampRow, ampCol float64) *signal {
	r, c := keyFreqs(d)
	return g.tones(ms, r, ampRow, c, ampCol)
}

// noise adds white noise over the whole signal so far at snr dB below the
// signal's mean power over its non-silent samples.
func (g *signal) noise(snrDB float64) *signal {
	var p float64
	var n int
	for _, x := range g.s {
		if x != 0 {
			p += x * x
			n++
		}
	}
	sigma := math.Sqrt(p / float64(n) / math.Pow(10, snrDB/10))
	for i := range g.s {
		g.s[i] += g.rng.NormFloat64() * sigma
	}
	return g
}

func (g *signal) pcm() []int16 {
	out := make([]int16, len(g.s))
	for i, x := range g.s {
		out[i] = int16(max(-32768, min(32767, math.Round(x))))
	}
	return out
}

func keyFreqs(d byte) (row, col float64) {
	for r := range 4 {
		for c := range 4 {
			if keypad[r][c] == d {
				return rowFreqs[r], colFreqs[c]
			}
		}
	}
	panic(fmt.Sprintf("no key %q", d))
}

// detect feeds pcm in 160-sample frames and returns the digits reported.
func detect(pcm []int16) string {
	d := NewInband()
	var got []byte
	for len(pcm) > 0 {
		n := min(160, len(pcm))
		if digit, ok := d.Process(pcm[:n]); ok {
			got = append(got, digit)
		}
		pcm = pcm[n:]
	}
	// Flush with silence so a tone at the very end is judged.
	for range 5 {
		if digit, ok := d.Process(make([]int16, 160)); ok {
			got = append(got, digit)
		}
	}
	return string(got)
}

const allKeys = "123A456B789C*0#D"

func TestInbandEveryDigit(t *testing.T) {
	for _, amp := range []float64{700, 2000, 6000, 14000} {
		for _, off := range []int{0, 37, 80, 121} {
			for i := range len(allKeys) {
				k := allKeys[i]
				pcm := newSignal(uint64(i)).silence(60).samples(off).key(k, 80, amp, amp).silence(60).pcm()
				if got := detect(pcm); got != string(k) {
					t.Errorf("detect(%q amp %v offset %d) = %q, want %q", k, amp, off, got, string(k))
				}
			}
		}
	}
}

func TestInbandTwist(t *testing.T) {
	tests := []struct {
		name         string
		rowDB, colDB float64
		want         bool
	}{
		{"equal", 0, 0, true},
		{"normal twist -6 dB (high tone weaker)", 0, -6, true},
		{"reverse twist -3 dB (low tone weaker)", -3, 0, true},
		{"normal twist -12 dB", 0, -12, false},
		{"reverse twist -8 dB", -8, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range len(allKeys) {
				k := allKeys[i]
				ar, ac := 8000*math.Pow(10, tt.rowDB/20), 8000*math.Pow(10, tt.colDB/20)
				got := detect(newSignal(uint64(i)).silence(40).key(k, 100, ar, ac).silence(40).pcm())
				want := ""
				if tt.want {
					want = string(k)
				}
				if got != want {
					t.Errorf("detect(%q row %v dB col %v dB) = %q, want %q", k, tt.rowDB, tt.colDB, got, want)
				}
			}
		})
	}
}

func TestInbandNoise(t *testing.T) {
	for _, snr := range []float64{15, 20} {
		for _, twist := range []float64{0, -6} {
			for i := range len(allKeys) {
				k := allKeys[i]
				for seed := range uint64(3) {
					g := newSignal(seed*100+uint64(i)).silence(50).key(k, 60, 4000, 4000*math.Pow(10, twist/20)).silence(50)
					if got := detect(g.noise(snr).pcm()); got != string(k) {
						t.Errorf("detect(%q at %v dB SNR, twist %v dB, seed %d) = %q, want %q", k, snr, twist, seed, got, string(k))
					}
				}
			}
		}
	}
}

func TestInbandDuration(t *testing.T) {
	// 40 ms must be accepted whatever its phase against the 10 ms hop.
	for off := 0; off < 160; off += 10 {
		pcm := newSignal(uint64(off)).silence(30).samples(off).key('5', 40, 5000, 5000).silence(40).pcm()
		if got := detect(pcm); got != "5" {
			t.Errorf("detect(40 ms '5' at offset %d) = %q, want %q", off, got, "5")
		}
		// 20 ms is too short to be a key press (ITU-T Q.24 rejects < 20-25 ms).
		pcm = newSignal(uint64(off)).silence(30).samples(off).key('5', 20, 5000, 5000).silence(40).pcm()
		if got := detect(pcm); got != "" {
			t.Errorf("detect(20 ms '5' at offset %d) = %q, want none", off, got)
		}
	}
}

func TestInbandPresses(t *testing.T) {
	tests := []struct {
		name string
		sig  *signal
		want string
	}{
		{"long press reported once", newSignal(1).silence(20).key('9', 1500, 5000, 5000).silence(40), "9"},
		{"same digit twice with 50 ms gap", newSignal(2).key('0', 60, 5000, 5000).silence(50).key('0', 60, 5000, 5000).silence(40), "00"},
		{"sequence", newSignal(3).key('1', 60, 5000, 5000).silence(45).key('2', 60, 5000, 5000).silence(45).key('#', 60, 5000, 5000).silence(45).key('D', 60, 5000, 5000).silence(40), "12#D"},
		{"digit change without gap", newSignal(4).key('4', 80, 5000, 5000).key('6', 80, 5000, 5000).silence(40), "46"},
		{"5 ms drop-out is one press", newSignal(5).key('3', 100, 5000, 5000).silence(5).key('3', 100, 5000, 5000).silence(40), "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detect(tt.sig.pcm()); got != tt.want {
				t.Errorf("detect(%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestInbandRejects(t *testing.T) {
	vowel := func(f0 float64, tilt float64) *signal {
		var fa []float64
		for h := 1; float64(h)*f0 < 3600; h++ {
			fa = append(fa, float64(h)*f0, 3000*math.Pow(float64(h), -tilt))
		}
		return newSignal(7).tones(1000, fa...)
	}
	sweep := func(from, to float64, ms int) *signal {
		g := newSignal(8)
		n := ms * 8
		var ph float64
		for i := range n {
			f := from + (to-from)*float64(i)/float64(n)
			ph += 2 * math.Pi * f / 8000
			g.s = append(g.s, 10000*math.Sin(ph))
		}
		return g
	}
	noise := newSignal(9).tones(1000, 1, 1e-9) // 1 s of near zero, then noise
	noise.s = noise.s[:0]
	for range 8000 {
		noise.s = append(noise.s, noise.rng.NormFloat64()*6000)
	}

	tests := []struct {
		name string
		sig  *signal
	}{
		{"silence", newSignal(1).silence(1000)},
		{"white noise", noise},
		{"3-tone chord", newSignal(2).tones(500, 697, 5000, 1209, 5000, 1336, 5000)},
		{"two rows one column", newSignal(3).tones(500, 697, 5000, 770, 5000, 1209, 5000)},
		{"key 5 under louder music", newSignal(10).tones(500, 770, 3000, 1336, 3000, 392, 4000, 2200, 4000, 2800, 3000)},
		{"key 5 in 0 dB SNR noise", newSignal(11).key('5', 500, 3000, 3000).noise(-1)},
		{"dial tone 350+440", newSignal(4).tones(500, 350, 8000, 440, 8000)},
		{"sweep 300-3400 Hz", sweep(300, 3400, 1000)},
		{"slow sweep 600-1700 Hz", sweep(600, 1700, 2000)},
		{"vowel 120 Hz flat", vowel(120, 0)},
		{"vowel 120 Hz -6 dB/oct", vowel(120, 1)},
		{"vowel 100 Hz", vowel(100, 0.5)},
		{"vowel 175 Hz", vowel(175, 0.5)},
	}
	// Every single DTMF frequency alone, and with its column's second harmonic.
	for _, f := range append(rowFreqs[:], colFreqs[:]...) {
		tests = append(tests, struct {
			name string
			sig  *signal
		}{fmt.Sprintf("single tone %v Hz", f), newSignal(5).tones(300, f, 8000)})
	}
	tests = append(tests, struct {
		name string
		sig  *signal
	}{"key 5 with strong harmonic", newSignal(6).tones(300, 770, 5000, 1336, 5000, 2672, 3000)})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detect(tt.sig.pcm()); got != "" {
				t.Errorf("detect(%s) = %q, want none", tt.name, got)
			}
		})
	}
}

func TestInbandAllocs(t *testing.T) {
	d := NewInband()
	frame := newSignal(1).key('5', 20, 5000, 5000).pcm()
	if n := testing.AllocsPerRun(1000, func() { d.Process(frame) }); n != 0 {
		t.Errorf("InbandDetector.Process allocs = %v, want 0", n)
	}
}

func BenchmarkInbandFrame(b *testing.B) {
	d := NewInband()
	frame := newSignal(1).key('5', 20, 5000, 5000).pcm()
	b.ReportAllocs()
	for b.Loop() {
		d.Process(frame)
	}
}

func FuzzInband(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 320))
	tone := newSignal(1).key('1', 60, 9000, 9000).pcm()
	b := make([]byte, 2*len(tone))
	for i, s := range tone {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm := make([]int16, len(b)/2)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		d := NewInband()
		// Feed in uneven pieces to exercise the window bookkeeping.
		for step := 1; len(pcm) > 0; step = step*3%200 + 1 {
			n := min(step, len(pcm))
			if digit, ok := d.Process(pcm[:n]); ok && !ValidDigit(digit) {
				t.Fatalf("Process() = %q, not a DTMF key", digit)
			}
			pcm = pcm[n:]
		}
	})
}
