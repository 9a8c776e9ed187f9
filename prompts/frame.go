package prompts

import (
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/media/g711"
)

// NewClip cuts linear 8 kHz PCM into 20 ms frames for both laws. The last
// frame is padded with the law's silence code so every frame is exactly
// media.FrameSamples bytes (ptime 20, RFC 3551 §4.5.14). Empty input gives
// a clip with no frames.
func NewClip(name string, pcm []int16) *media.Clip {
	u := padded(len(pcm), g711.SilenceULaw)
	a := padded(len(pcm), g711.SilenceALaw)
	g711.EncodeULaw(u, pcm)
	g711.EncodeALaw(a, pcm)
	return &media.Clip{Name: name, ULaw: split(u), ALaw: split(a)}
}

// ClipFromAudio frames decoded audio. A μ-law source keeps its bytes exactly
// in the PCMU frames (no decode/re-encode loss) and its PCMA frames are made
// by the direct law-to-law table; an A-law source the other way round.
func ClipFromAudio(name string, a *Audio) *media.Clip {
	switch a.Encoding {
	case EncodingULaw:
		u := padded(len(a.Raw), g711.SilenceULaw)
		copy(u, a.Raw)
		al := padded(len(a.Raw), g711.SilenceALaw)
		g711.ULawToALaw(al, a.Raw)
		return &media.Clip{Name: name, ULaw: split(u), ALaw: split(al)}
	case EncodingALaw:
		al := padded(len(a.Raw), g711.SilenceALaw)
		copy(al, a.Raw)
		u := padded(len(a.Raw), g711.SilenceULaw)
		g711.ALawToULaw(u, a.Raw)
		return &media.Clip{Name: name, ULaw: split(u), ALaw: split(al)}
	}
	return NewClip(name, a.PCM)
}

// padded returns one backing array for n samples rounded up to whole
// frames, filled with silence: one allocation a law, however long the clip.
func padded(n int, silence byte) []byte {
	frames := (n + media.FrameSamples - 1) / media.FrameSamples
	b := make([]byte, frames*media.FrameSamples)
	for i := range b {
		b[i] = silence
	}
	return b
}

// split slices b into frames. Each frame's capacity ends at its own end, so
// an append by a careless reader reallocates instead of overwriting the next
// frame that other calls are playing.
func split(b []byte) [][]byte {
	frames := make([][]byte, len(b)/media.FrameSamples)
	for i := range frames {
		lo := i * media.FrameSamples
		frames[i] = b[lo : lo+media.FrameSamples : lo+media.FrameSamples]
	}
	return frames
}
