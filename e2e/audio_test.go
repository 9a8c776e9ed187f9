package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/media/g711"
	"github.com/ivrgw/ivrgw/prompts"
	"github.com/ivrgw/ivrgw/sip/testphone"
)

// promptSet is the embedded prompt set the gateway plays from.
func promptSet(t *testing.T) *prompts.Set {
	t.Helper()
	set, err := prompts.Default()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// signature is a run of a prompt's frames, decoded, starting at its first
// loud frame: hearing it proves that prompt (not just "some audio") played.
type signature struct {
	name   string
	frames [][]int16
}

const sigFrames = 15 // 300 ms of audio

func promptSignature(t *testing.T, set *prompts.Set, lang, name string, pt uint8) signature {
	t.Helper()
	clip, ok := set.Clip(lang, name)
	if !ok {
		t.Fatalf("no prompt %s/%s", lang, name)
	}
	frames := clip.Frames(pt)
	start := -1
	for i, f := range frames {
		pcm := g711.Decode(make([]int16, len(f)), f, pt)
		if testphone.RMS(pcm) > 1000 {
			start = i
			break
		}
	}
	if start < 0 || start+sigFrames > len(frames) {
		t.Fatalf("prompt %s/%s has no loud run of %d frames", lang, name, sigFrames)
	}
	sig := signature{name: lang + "/" + name}
	for _, f := range frames[start : start+sigFrames] {
		sig.frames = append(sig.frames, g711.Decode(make([]int16, len(f)), f, pt))
	}
	return sig
}

// heard reports whether audio (decoded, frame-aligned) contains sig.
func (s signature) heardIn(audio []int16) bool {
	n := len(audio) / 160
	for i := 0; i+len(s.frames) <= n; i++ {
		match := true
		for j, f := range s.frames {
			got := audio[(i+j)*160 : (i+j+1)*160]
			for k := range f {
				if got[k] != f[k] {
					match = false
					break
				}
			}
			if !match {
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// waitPrompt waits until the phone has heard sig since t0.
func waitPrompt(ctx context.Context, c *testphone.Call, since time.Time, sig signature) error {
	for {
		if sig.heardIn(c.AudioSince(since)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("prompt %s not heard: %w", sig.name, ctx.Err())
		case <-time.After(40 * time.Millisecond):
		}
	}
}
