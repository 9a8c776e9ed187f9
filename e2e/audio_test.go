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
//
// It is heard when any need consecutive frames of it arrive in order (need
// 0: all of them). A signature longer than need survives one lost or
// skipped packet on a loaded test machine: the windows either side of the
// gap still match, and 300 ms of a prompt's exact samples never appear by
// chance, so "not heard" checks stay as strict.
type signature struct {
	name   string
	frames [][]int16
	need   int
}

const (
	sigFrames = 15 // 300 ms of audio: the run that must match
	sigSpan   = 45 // 900 ms: the part of a prompt that run may come from
)

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
	sig := signature{name: lang + "/" + name, need: sigFrames}
	for _, f := range frames[start:min(start+sigSpan, len(frames))] {
		sig.frames = append(sig.frames, g711.Decode(make([]int16, len(f)), f, pt))
	}
	return sig
}

// heardIn reports whether audio (decoded, frame-aligned) contains sig: a
// run of at least need of its frames, most of them loud, so that a pause
// between words never matches plain silence.
func (s signature) heardIn(audio []int16) bool {
	_, ok := s.match(audio)
	return ok
}

// runNeeded is how many consecutive frames of s must be heard.
func (s signature) runNeeded() int {
	if s.need <= 0 || s.need > len(s.frames) {
		return len(s.frames)
	}
	return s.need
}

// match returns the most consecutive frames of s found in order in audio,
// and whether some run qualifies as hearing s.
func (s signature) match(audio []int16) (longest int, heard bool) {
	need := s.runNeeded()
	loud := make([]int, len(s.frames)+1) // loud[j]: loud frames in s.frames[:j]
	for j, f := range s.frames {
		loud[j+1] = loud[j]
		if testphone.RMS(f) > 200 {
			loud[j+1]++
		}
	}
	n := len(audio) / 160
	frame := func(i int) []int16 { return audio[i*160 : (i+1)*160] }
	for i := 0; i < n; i++ {
		for j := range s.frames {
			run := 0
			for i+run < n && j+run < len(s.frames) && equalPCM(frame(i+run), s.frames[j+run]) {
				run++
			}
			longest = max(longest, run)
			if run >= need && 2*(loud[j+run]-loud[j]) >= run {
				return longest, true
			}
		}
	}
	return longest, false
}

func equalPCM(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// waitPrompt waits until the phone has heard sig since t0.
func waitPrompt(ctx context.Context, c *testphone.Call, since time.Time, sig signature) error {
	for {
		if sig.heardIn(c.AudioSince(since)) {
			return nil
		}
		select {
		case <-ctx.Done():
			audio := c.AudioSince(since)
			longest, _ := sig.match(audio)
			return fmt.Errorf("prompt %s not heard (%d frames since; longest run of its frames %d, need %d): %w",
				sig.name, len(audio)/160, longest, sig.runNeeded(), ctx.Err())
		case <-time.After(40 * time.Millisecond):
		}
	}
}

// TestSignatureMatch pins the matcher the prompt checks rely on: a prompt
// with one packet lost is still heard, another prompt or silence is not.
func TestSignatureMatch(t *testing.T) {
	set := promptSet(t)
	const pt = g711.PayloadPCMU
	sig := promptSignature(t, set, "en", "unavailable", pt)
	clip, _ := set.Clip("en", "unavailable")
	var played []int16
	for i, f := range clip.Frames(pt) {
		if i == 20 { // a packet lost early in the loud part
			continue
		}
		played = append(played, g711.Decode(make([]int16, len(f)), f, pt)...)
	}
	if !sig.heardIn(played) {
		t.Error("unavailable with one frame lost: not heard")
	}
	if !sig.heardIn(append(make([]int16, 160*7), played...)) {
		t.Error("unavailable after 7 frames of silence: not heard")
	}
	other, _ := set.Clip("en", "transfer")
	var wrong []int16
	for _, f := range other.Frames(pt) {
		wrong = append(wrong, g711.Decode(make([]int16, len(f)), f, pt)...)
	}
	if sig.heardIn(wrong) {
		t.Error("transfer matched the unavailable signature")
	}
	if sig.heardIn(make([]int16, 160*200)) {
		t.Error("4 s of silence matched the unavailable signature")
	}
	var short []int16
	for _, f := range sig.frames[:sigFrames-1] {
		short = append(short, f...)
	}
	if sig.heardIn(short) {
		t.Errorf("%d frames matched a signature that needs %d", sigFrames-1, sigFrames)
	}
}
