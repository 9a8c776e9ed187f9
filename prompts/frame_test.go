package prompts

import (
	"bytes"
	"testing"

	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/media/g711"
)

func TestNewClipFraming(t *testing.T) {
	tests := []struct {
		samples, frames int
	}{
		{0, 0}, {1, 1}, {159, 1}, {160, 1}, {161, 2}, {320, 2}, {321, 3},
	}
	for _, tt := range tests {
		pcm := make([]int16, tt.samples)
		for i := range pcm {
			pcm[i] = 1000 // encodes to a code distinct from either silence byte
		}
		c := NewClip("x", pcm)
		if len(c.ULaw) != tt.frames || len(c.ALaw) != tt.frames {
			t.Errorf("NewClip(%d samples) = %d PCMU / %d PCMA frames, want %d", tt.samples, len(c.ULaw), len(c.ALaw), tt.frames)
			continue
		}
		checkFrames(t, c, g711.LinearToULaw(1000), g711.LinearToALaw(1000), tt.samples)
	}
}

// checkFrames asserts every frame is exactly one ptime long with no spare
// capacity, the first n samples are the signal and the rest is silence.
func checkFrames(t *testing.T, c *media.Clip, u, a byte, n int) {
	t.Helper()
	for law, frames := range map[string][][]byte{"ulaw": c.ULaw, "alaw": c.ALaw} {
		sig, sil := u, g711.SilenceULaw
		if law == "alaw" {
			sig, sil = a, g711.SilenceALaw
		}
		for i, f := range frames {
			if len(f) != media.FrameSamples || cap(f) != media.FrameSamples {
				t.Fatalf("%s frame %d: len %d cap %d, want %d and %d", law, i, len(f), cap(f), media.FrameSamples, media.FrameSamples)
			}
			for j, b := range f {
				want := sil
				if i*media.FrameSamples+j < n {
					want = sig
				}
				if b != want {
					t.Fatalf("%s frame %d byte %d = %#x, want %#x (n=%d)", law, i, j, b, want, n)
				}
			}
		}
	}
}

func TestClipFromAudioKeepsLawBytes(t *testing.T) {
	// Every code of the law, then some: 300 bytes, so the second frame is padded.
	raw := make([]byte, 300)
	for i := range raw {
		raw[i] = byte(i)
	}
	tests := []struct {
		name     string
		enc      Encoding
		same     func(*media.Clip) [][]byte
		other    func(*media.Clip) [][]byte
		convert  func(dst, src []byte) []byte
		sameSil  byte
		otherSil byte
	}{
		{"ulaw", EncodingULaw, func(c *media.Clip) [][]byte { return c.ULaw }, func(c *media.Clip) [][]byte { return c.ALaw }, g711.ULawToALaw, g711.SilenceULaw, g711.SilenceALaw},
		{"alaw", EncodingALaw, func(c *media.Clip) [][]byte { return c.ALaw }, func(c *media.Clip) [][]byte { return c.ULaw }, g711.ALawToULaw, g711.SilenceALaw, g711.SilenceULaw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ClipFromAudio("x", &Audio{Encoding: tt.enc, Raw: raw})
			same, other := bytes.Join(tt.same(c), nil), bytes.Join(tt.other(c), nil)
			if len(same) != 320 || len(other) != 320 {
				t.Fatalf("ClipFromAudio(300 %s bytes) = %d and %d bytes, want 320 each", tt.name, len(same), len(other))
			}
			if !bytes.Equal(same[:300], raw) {
				t.Errorf("ClipFromAudio(%s) changed the source bytes of its own law", tt.name)
			}
			if want := tt.convert(make([]byte, 300), raw); !bytes.Equal(other[:300], want) {
				t.Errorf("ClipFromAudio(%s) other law is not the law-to-law conversion", tt.name)
			}
			if want := bytes.Repeat([]byte{tt.sameSil}, 20); !bytes.Equal(same[300:], want) {
				t.Errorf("ClipFromAudio(%s) pad = %x, want %x", tt.name, same[300:], want)
			}
			if want := bytes.Repeat([]byte{tt.otherSil}, 20); !bytes.Equal(other[300:], want) {
				t.Errorf("ClipFromAudio(%s) other pad = %x, want %x", tt.name, other[300:], want)
			}
		})
	}
}

func TestClipFromAudioPCM(t *testing.T) {
	sig := testSignal()
	c := ClipFromAudio("x", &Audio{Encoding: EncodingPCM16, PCM: sig})
	u := bytes.Join(c.ULaw, nil)
	if want := g711.EncodeULaw(make([]byte, len(sig)), sig); !bytes.Equal(u[:len(sig)], want) {
		t.Errorf("ClipFromAudio(pcm16) PCMU frames are not the μ-law encoding of the signal")
	}
	a := bytes.Join(c.ALaw, nil)
	if want := g711.EncodeALaw(make([]byte, len(sig)), sig); !bytes.Equal(a[:len(sig)], want) {
		t.Errorf("ClipFromAudio(pcm16) PCMA frames are not the A-law encoding of the signal")
	}
}
