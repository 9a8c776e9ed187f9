package prompts

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ivrgw/ivrgw/media"
)

// FuzzDecodeWAV checks that no input panics or hangs the decoder, that
// every failure is one of the two documented kinds, and that whatever
// decodes also frames correctly.
func FuzzDecodeWAV(f *testing.F) {
	f.Add(riff(chunk("fmt ", fmtBody(7, 1, 8000, 8)), chunk("data", []byte{1, 2, 3})))
	f.Add(riff(chunk("fmt ", extBody(1, 1, 8000, 16)), chunk("LIST", []byte("INFO!")), chunk("data", []byte{1, 2, 3, 4})))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeWAV(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("DecodeWAV() error = %v, want ErrMalformed or ErrUnsupported", err)
			}
			return
		}
		per := 1
		if a.Encoding == EncodingPCM16 {
			per = 2
		}
		if len(a.PCM) == 0 || len(a.PCM)*per != len(a.Raw) {
			t.Fatalf("DecodeWAV() = %d samples from %d %v bytes", len(a.PCM), len(a.Raw), a.Encoding)
		}
		c := ClipFromAudio("fuzz", a)
		want := (len(a.PCM) + media.FrameSamples - 1) / media.FrameSamples
		if len(c.ULaw) != want || len(c.ALaw) != want {
			t.Fatalf("ClipFromAudio(%d samples) = %d/%d frames, want %d", len(a.PCM), len(c.ULaw), len(c.ALaw), want)
		}
	})
}
