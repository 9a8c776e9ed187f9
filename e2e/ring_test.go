package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/media/g711"
	"github.com/ivrgw/ivrgw/sip/testphone"
	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// TestRingDuringHoldPrompt: the agent's phone rings while the caller hears
// the hold prompt ("transfer"), not after it. Over ten calls to one agent
// who answers after 1 s (the prompt lasts about 2.8 s), each call shows:
// the hold prompt started after the key, the agent's INVITE came before
// the caller could have heard the prompt's end, the prompt was cut (its
// last 300 ms never heard) and the agent's voice reached the caller. The
// latencies are measured and logged, not asserted: key press to INVITE
// (at the agent), answer to bridge (agent's ACK to the first frame of the
// agent's tone at the caller), and the journey's own key to ringing.
func TestRingDuringHoldPrompt(t *testing.T) {
	const calls = 10
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	// An environment variable rather than -wrap-up, so the same test runs
	// (and fails) against a gateway from before the flag.
	t.Setenv("IVRGW_WRAP_UP", "0s")
	file := filepath.Join(t.TempDir(), "journeys.jsonl")
	g := fbGateway(t, "-journey-file", file)
	ag := agentStartConfig(t, agent.Config{Gateway: g.SIP, Ext: "1002", Password: "demo1002", Tone: 700,
		AnswerAfter: time.Second})
	set := promptSet(t)

	var keyToInvite, answerToBridge []time.Duration
	for i := range calls {
		start := time.Now()
		c := fbCaller(ctx, t, g, fmt.Sprintf("55502%02d", i), "")
		pt := c.Media().Codec
		holdStart := promptSignature(t, set, "en", "transfer", pt)
		holdEnd := promptEndSignature(t, "en", "transfer", pt)
		fbAtMenu(ctx, t, c, start)
		keyAt := time.Now()
		if err := c.SendDigit4733('0', 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		ac := fbWaitCall(ctx, t, ag)
		answered := make(chan time.Time, 1)
		go func() {
			select {
			case <-ac.Answered():
				answered <- time.Now()
			case <-ctx.Done():
				answered <- time.Time{}
			}
		}()
		if i == 0 {
			checkScreenPop(t, ac)
		}
		if err := fbWaitTone(ctx, "caller", c.Audio, 700); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		answeredAt := <-answered
		keyToInvite = append(keyToInvite, ac.At().Sub(keyAt))
		if d, ok := firstToneAfter(c, answeredAt, 700); ok {
			answerToBridge = append(answerToBridge, d)
		}

		if !holdStart.heardIn(c.AudioSince(keyAt)) {
			t.Errorf("call %d: the hold prompt's start not heard after the key", i)
		}
		if holdEnd.heardIn(audioBefore(c, keyAt, ac.At())) {
			t.Errorf("call %d: the caller heard the whole hold prompt before the agent's INVITE", i)
		}
		if holdEnd.heardIn(c.AudioSince(keyAt)) {
			t.Errorf("call %d: the hold prompt played to its end; want it cut when the agent answered", i)
		}

		if err := c.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		fbWaitEnded(ctx, t, ac)
		if _, err := fbWaitAgent(ctx, g.HTTP, "1002", fbState("available")); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("key press -> agent INVITE over %d calls: median %v, max %v", len(keyToInvite), median(keyToInvite), slices.Max(keyToInvite))
	if len(answerToBridge) > 0 {
		t.Logf("agent answer -> agent's voice at the caller over %d calls: median %v, max %v (includes the agent's first 20 ms frame)",
			len(answerToBridge), median(answerToBridge), slices.Max(answerToBridge))
	}
	if us := logMicros(g.Log(), "answer_to_bridge_us"); len(us) > 0 {
		t.Logf("gateway's own answer -> bridge (log answer_to_bridge_us) over %d calls: median %v, max %v", len(us), median(us), slices.Max(us))
	}

	// The journeys: key press to ringing, as an operator reads it.
	var fromKey, toRinging []time.Duration
	if err := poll(ctx, "ten journeys in the file", func() bool {
		fromKey, toRinging = ringFigures(file)
		return len(toRinging) >= calls
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("journey key step -> ringing step over %d calls: median %v, max %v; to_ringing_ms median %v, max %v",
		len(fromKey), median(fromKey), slices.Max(fromKey), median(toRinging), slices.Max(toRinging))
}

// checkScreenPop: the INVITE's X-IVR headers, in their order on the wire.
func checkScreenPop(t *testing.T, ac *agent.AgentCall) {
	t.Helper()
	var got []string
	for _, line := range strings.Split(ac.Invite(), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(strings.ToLower(line), "x-ivr-") {
			got = append(got, line)
		}
	}
	want := []string{"X-IVR-Path: main", "X-IVR-Keys: 0", "X-IVR-Reason: caller_request", "X-IVR-Wait: 0",
		"X-IVR-Language: en", "X-IVR-Repeat: 1", "X-IVR-Queue: support"} // repeat detection counts this call too
	if !slices.Equal(got, want) {
		t.Errorf("agent INVITE X-IVR headers =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// promptEndSignature is the last loud 300 ms of a prompt: hearing it means
// the prompt played to its end.
func promptEndSignature(t *testing.T, lang, name string, pt uint8) signature {
	t.Helper()
	clip, ok := promptSet(t).Clip(lang, name)
	if !ok {
		t.Fatalf("no prompt %s/%s", lang, name)
	}
	frames := clip.Frames(pt)
	for end := len(frames); end >= sigFrames; end-- {
		pcm := g711.Decode(make([]int16, len(frames[end-1])), frames[end-1], pt)
		if testphone.RMS(pcm) > 1000 {
			sig := signature{name: lang + "/" + name + " (end)"}
			for _, f := range frames[end-sigFrames : end] {
				sig.frames = append(sig.frames, g711.Decode(make([]int16, len(f)), f, pt))
			}
			return sig
		}
	}
	t.Fatalf("prompt %s/%s has no loud end", lang, name)
	return signature{}
}

// audioPackets are the audio packets received in [from, to).
func audioPackets(c *testphone.Call, from, to time.Time) []testphone.PacketInfo {
	var out []testphone.PacketInfo
	for _, p := range c.Received() {
		if (p.PT == 0 || p.PT == 8) && !p.Arrival.Before(from) && (to.IsZero() || p.Arrival.Before(to)) {
			out = append(out, p)
		}
	}
	return out
}

// audioBefore is the audio received from from until to.
func audioBefore(c *testphone.Call, from, to time.Time) []int16 {
	a := c.AudioSince(from)
	n := len(audioPackets(c, from, to)) * 160
	return a[:min(n, len(a))]
}

// firstToneAfter is how long after t the first 20 ms frame mostly at hz
// arrived.
func firstToneAfter(c *testphone.Call, t time.Time, hz float64) (time.Duration, bool) {
	if t.IsZero() {
		return 0, false
	}
	a := c.AudioSince(t)
	pk := audioPackets(c, t, time.Time{})
	for i := 0; (i+1)*160 <= len(a) && i < len(pk); i++ {
		f := a[i*160 : (i+1)*160]
		if testphone.DetectTone(f, hz) > 0.8 && testphone.RMS(f) > 1000 {
			return pk[i].Arrival.Sub(t), true
		}
	}
	return 0, false
}

// ringFigures reads the journeys of answered calls: the key press ("0")
// to the ringing step, and to_ringing_ms.
func ringFigures(file string) (fromKey, toRinging []time.Duration) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var j journey.Journey
		if json.Unmarshal(sc.Bytes(), &j) != nil || j.Agent == "" {
			continue
		}
		var key time.Duration = -1
		for _, s := range j.Steps {
			switch {
			case s.Kind == journey.StepKey && s.Key == "0" && key < 0:
				key = time.Duration(s.At)
			case s.Kind == journey.StepRinging && key >= 0:
				fromKey = append(fromKey, time.Duration(s.At)-key)
				key = 1 << 62 // once per journey
			}
		}
		toRinging = append(toRinging, time.Duration(j.ToRinging))
	}
	return fromKey, toRinging
}

// logMicros collects a microseconds attribute from the gateway's log lines.
func logMicros(log, key string) []time.Duration {
	var out []time.Duration
	for _, m := range regexp.MustCompile(key+`=(\d+)`).FindAllStringSubmatch(log, -1) {
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			out = append(out, time.Duration(n)*time.Microsecond)
		}
	}
	return out
}
