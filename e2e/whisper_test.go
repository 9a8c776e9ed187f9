package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// whisperCall: a caller goes main > billing, asks for a person there and
// then speaks (a 1100 Hz tone) without pause; agent 1002 answers.
func whisperCall(ctx context.Context, t *testing.T, g *gw) (*testphone.Call, *agent.AgentCall) {
	t.Helper()
	ag := agentStart(t, g, "1002", agent.AutoAnswer)
	set := promptSet(t)
	start := time.Now()
	c := fbCaller(ctx, t, g, "5550160", "")
	fbAtMenu(ctx, t, c, start)
	if err := c.SendDigit4733('1', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitPrompt(ctx, c, start, promptSignature(t, set, "en", "billing_menu", c.Media().Codec)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendDigit4733('0', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.SendTone(1100, 40*time.Second) }()
	ac := fbWaitCall(ctx, t, ag)
	if p := ac.Header("X-IVR-Path"); p != "main>billing" {
		t.Fatalf("agent's X-IVR-Path = %q, want main>billing", p)
	}
	fbWaitAnswered(ctx, t, ac, "agent")
	return c, ac
}

// waitHeard waits until audio() holds sig.
func waitHeard(ctx context.Context, audio func() []int16, sig signature) error {
	for {
		if sig.heardIn(audio()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not heard: %w", sig.name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestWhisperBeforeBridge: the agent hears "Caller from ... Billing" from
// the gateway before the caller: up to the end of the whisper, none of the
// caller's voice (sent all along) reached the agent; then it does. The
// caller never hears the whisper.
func TestWhisperBeforeBridge(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := fbGateway(t, "-whisper", "on")
	c, ac := whisperCall(ctx, t, g)
	set := promptSet(t)
	law := ac.Media().Codec
	for _, name := range []string{"whisper_caller", "topic_billing"} {
		if err := waitHeard(ctx, ac.Audio, promptSignature(t, set, "en", name, law)); err != nil {
			t.Fatalf("agent: %v", err)
		}
	}
	// The whole whisper is in: the caller's tone must not be in it yet.
	before := ac.Audio()
	if share := testphone.DetectTone(before, 1100); share > 0.2 {
		t.Errorf("caller's voice reached the agent during the whisper (1100 Hz share %.2f of %d samples)", share, len(before))
	}
	if err := fbWaitTone(ctx, "agent hears the caller after the whisper", ac.Audio, 1100); err != nil {
		t.Fatal(err)
	}
	if sig := promptSignature(t, set, "en", "whisper_caller", c.Media().Codec); sig.heardIn(c.Audio()) {
		t.Error("the caller heard the whisper")
	}
	if _, err := g.waitLog(ctx, "whisper to agent", `outcome=heard`, c.CallID()); err != nil {
		t.Error(err)
	}
}

// TestWhisperSkipped: the agent presses a key (SIP INFO) as the whisper
// starts: the rest is not played, the bridge follows at once, and the key
// is not passed on to the caller.
func TestWhisperSkipped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := fbGateway(t, "-whisper", "on")
	c, ac := whisperCall(ctx, t, g)
	if err := ac.SendDigitINFO(ctx, '5', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := fbWaitTone(ctx, "agent hears the caller after skipping", ac.Audio, 1100); err != nil {
		t.Fatal(err)
	}
	if _, err := g.waitLog(ctx, "whisper to agent", `outcome="skipped by 5"`, c.CallID()); err != nil {
		t.Error(err)
	}
	if sig := promptSignature(t, promptSet(t), "en", "topic_billing", ac.Media().Codec); sig.heardIn(ac.Audio()) {
		t.Error("the agent heard the whole whisper though they skipped it")
	}
	time.Sleep(300 * time.Millisecond) // a relayed key would have arrived by now
	if n := len(c.Infos()); n != 0 {
		t.Errorf("caller got %d INFOs, want none (the skip key stays with the gateway)", n)
	}
	for _, ev := range c.Events() {
		t.Errorf("caller got telephone-event %+v, want none", ev)
	}
}
