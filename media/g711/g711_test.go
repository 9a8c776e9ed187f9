package g711

import (
	"math"
	"testing"
)

// Known code points from ITU-T G.711 tables.
func TestKnownCodes(t *testing.T) {
	tests := []struct {
		name string
		in   int16
		u, a byte
	}{
		{"zero", 0, 0xFF, 0xD5},
		{"max", 32767, 0x80, 0xAA},
		{"min", -32768, 0x00, 0x2A},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LinearToULaw(tt.in); got != tt.u {
				t.Errorf("LinearToULaw(%d) = %#x, want %#x", tt.in, got, tt.u)
			}
			if got := LinearToALaw(tt.in); got != tt.a {
				t.Errorf("LinearToALaw(%d) = %#x, want %#x", tt.in, got, tt.a)
			}
		})
	}
}

// Every code decodes and re-encodes to itself (except μ-law's negative zero 0x7F,
// which re-encodes to positive zero 0xFF).
func TestRoundTripCodes(t *testing.T) {
	for i := 0; i < 256; i++ {
		u := byte(i)
		if got := LinearToULaw(ULawToLinear(u)); got != u && !(u == 0x7F && got == 0xFF) {
			t.Errorf("LinearToULaw(ULawToLinear(%#x)) = %#x", u, got)
		}
		if got := LinearToALaw(ALawToLinear(u)); got != u {
			t.Errorf("LinearToALaw(ALawToLinear(%#x)) = %#x", u, got)
		}
	}
}

// The quantisation error stays within G.711's segment step for a sweep of samples.
func TestQuantisationError(t *testing.T) {
	for v := -32768; v <= 32767; v += 7 {
		s := int16(v)
		for name, dec := range map[string]int16{
			"ulaw": ULawToLinear(LinearToULaw(s)),
			"alaw": ALawToLinear(LinearToALaw(s)),
		} {
			err := math.Abs(float64(dec) - float64(s))
			limit := math.Max(16, math.Abs(float64(s))/16+16)
			if err > limit {
				t.Fatalf("%s round trip of %d = %d, error %.0f over %.0f", name, s, dec, err, limit)
			}
		}
	}
}

func TestTranscodeKeepsSignal(t *testing.T) {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*1000*float64(i)/8000))
	}
	u := EncodeULaw(make([]byte, 160), pcm)
	a := Transcode(make([]byte, 160), u, PayloadPCMU, PayloadPCMA)
	back := DecodeALaw(make([]int16, 160), a)
	for i := range pcm {
		if d := math.Abs(float64(back[i]) - float64(pcm[i])); d > 600 {
			t.Fatalf("sample %d: μ-law→A-law→linear = %d, want near %d", i, back[i], pcm[i])
		}
	}
	if testing.AllocsPerRun(100, func() { Transcode(a, u, PayloadPCMU, PayloadPCMA) }) != 0 {
		t.Error("Transcode allocates")
	}
}

func BenchmarkTranscode(b *testing.B) {
	src := make([]byte, 160)
	dst := make([]byte, 160)
	b.ReportAllocs()
	for b.Loop() {
		ULawToALaw(dst, src)
	}
}
