package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// startTrunk is the gateways' outbound trunk: a test phone on loopback
// that takes calls without registering, answering as mode with a tone of hz.
func startTrunk(t *testing.T, mode agent.Mode, hz float64) *agent.Agent {
	t.Helper()
	// Gateway is only where a trunk's own requests would go; it sends none.
	return agentStartConfig(t, agent.Config{Gateway: "127.0.0.1:9", Ext: "trunk", Trunk: true, Mode: mode, Tone: hz})
}

// bookCallback calls gateway g as number from with no agent on duty, asks
// for a person, waits for the callback offer, presses 1, hears it booked,
// and waits for the gateway to end the call.
func bookCallback(ctx context.Context, t *testing.T, g *gw, from string) *testphone.Call {
	t.Helper()
	set := promptSet(t)
	start := time.Now()
	c := fbCaller(ctx, t, g, from, "")
	fbAskForPerson(ctx, t, c, start)
	if err := waitPrompt(ctx, c, start, promptSignature(t, set, "en", "callback_offer", c.Media().Codec)); err != nil {
		t.Fatalf("callback offer: %v", err)
	}
	offered := time.Now()
	if err := c.SendDigit4733('1', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitPrompt(ctx, c, offered, promptSignature(t, set, "en", "callback_booked", c.Media().Codec)); err != nil {
		t.Fatalf("callback booked: %v", err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("gateway did not end the call after booking the callback")
	}
	return c
}

// metricLine returns the value of the exposition line that starts with
// name (labels included), or "" when there is none.
func metricLine(body, name string) string {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestCallbackEndToEnd: with nobody on duty, a caller is offered a
// callback, books it and hangs up; the gateway that took it dies (SIGKILL).
// The callback keeps its place in Redis: when an agent registers with a
// second gateway, that gateway calls the agent first, then the caller's
// number through the trunk, and bridges them (each hears the other's
// tone). A caller who queued after the callback waits behind it.
func TestCallbackEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := fbRealRedis(t)
	trunk := startTrunk(t, agent.AutoAnswer, 1100)
	cb := []string{"-redis", url, "-ring-timeout", "3s", "-trunk", "sip:" + trunk.Addr().String(),
		"-callback-offer-after", "1s", "-lease-ttl", "3s"}
	ga := startGateway(t, append(cb, "-gateway-id", "gw-a")...)
	bookCallback(ctx, t, ga, "+15550142")
	if err := ga.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-ga.waitErr

	gb := startGateway(t, append(cb, "-gateway-id", "gw-b")...)
	// A live caller queues behind the callback before any agent is on duty.
	start := time.Now()
	late := fbCaller(ctx, t, gb, "5550143", "")
	fbAskForPerson(ctx, t, late, start)
	if _, err := gb.waitLog(ctx, "caller queued", late.CallID()); err != nil {
		t.Fatal(err)
	}

	ag := agentStart(t, gb, "1002", agent.AutoAnswer)
	ac := fbWaitCall(ctx, t, ag)
	if user, _ := ac.From(); user != "+15550142" {
		t.Errorf("agent's first call is from %q, want the callback's number +15550142", user)
	}
	if h := ac.Header("X-IVR-Callback"); h != "yes" {
		t.Errorf("agent's INVITE X-IVR-Callback = %q, want yes", h)
	}
	if h := ac.Header("X-IVR-Reason"); h != "caller_request" {
		t.Errorf("agent's INVITE X-IVR-Reason = %q, want the booking call's caller_request", h)
	}
	fbWaitAnswered(ctx, t, ac, "agent")
	// The agent learns what this is before the customer is called.
	if err := waitHeard(ctx, ac.Audio, promptSignature(t, promptSet(t), "en", "callback_agent", ac.Media().Codec)); err != nil {
		t.Errorf("agent: %v", err)
	}
	tc := fbWaitCall(ctx, t, trunk)
	if tc.Dialled() != "+15550142" {
		t.Errorf("trunk call to %q, want +15550142", tc.Dialled())
	}
	if tc.At().Before(ac.At()) {
		t.Errorf("caller called at %v, before the agent (%v)", tc.At(), ac.At())
	}
	if tc.Audio() != nil && promptSignature(t, promptSet(t), "en", "callback_agent", tc.Media().Codec).heardIn(tc.Audio()) {
		t.Error("the customer heard what was said to the agent")
	}
	fbWaitAnswered(ctx, t, tc, "customer")
	if err := fbWaitTone(ctx, "agent hears the customer", ac.Audio, 1100); err != nil {
		t.Error(err)
	}
	if err := fbWaitTone(ctx, "customer hears the agent", tc.Audio, 700); err != nil {
		t.Error(err)
	}
	// The agent is busy with the callback: the live caller still waits.
	if n := len(ag.Calls()); n != 1 {
		t.Errorf("agent got %d calls during the callback, want 1", n)
	}
	hctx, hcancel := context.WithTimeout(ctx, 5*time.Second)
	defer hcancel()
	if err := tc.Hangup(hctx); err != nil {
		t.Fatal(err)
	}
	fbWaitEnded(ctx, t, ac)
	body := getBody(ctx, t, "http://"+gb.HTTP+"/metrics")
	if v := metricLine(body, `ivrgw_callbacks_total{outcome="connected"}`); v != "1" {
		t.Errorf("gw-b connected callbacks = %q, want 1:\n%s", v, grepLines(body, "callback"))
	}
	// After the agent's wrap-up, the live caller who queued behind is next.
	ac2 := fbWaitCall(ctx, t, ag)
	if user, _ := ac2.From(); user != "5550143" {
		t.Errorf("agent's second call from %q, want the live caller 5550143", user)
	}
}

// TestCallbackRetriesThenAbandoned: the caller's phone is busy (486) at
// every try: the gateway frees the agent each time, tries again after
// -callback-retry-after, and after -callback-retries gives up and counts
// the callback abandoned; the agent then takes ordinary calls.
func TestCallbackRetriesThenAbandoned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := fbRealRedis(t)
	trunk := startTrunk(t, agent.Reject(486), 1100)
	g := startGateway(t, "-redis", url, "-ring-timeout", "3s", "-trunk", "sip:"+trunk.Addr().String(),
		"-callback-offer-after", "1s", "-callback-retries", "1", "-callback-retry-after", "2s", "-wrap-up", "0")
	bookCallback(ctx, t, g, "5550150")
	ag := agentStart(t, g, "1002", agent.AutoAnswer)
	var tries []time.Time
	for i := range 2 {
		ac := fbWaitCall(ctx, t, ag)
		if ac.Header("X-IVR-Callback") != "yes" {
			t.Fatalf("agent call %d is not the callback: %v", i+1, ac.Headers())
		}
		tc := fbWaitCall(ctx, t, trunk)
		fbWaitEnded(ctx, t, tc)
		if tc.Dialled() != "5550150" || tc.Status() != 486 {
			t.Errorf("trunk call %d to %q answered %d, want 5550150 and 486", i+1, tc.Dialled(), tc.Status())
		}
		tries = append(tries, tc.At())
		fbWaitEnded(ctx, t, ac) // the gateway hangs the agent up
	}
	if gap := tries[1].Sub(tries[0]); gap < 2*time.Second {
		t.Errorf("second try %v after the first, want at least -callback-retry-after 2s", gap)
	}
	var body string
	for range 50 {
		body = getBody(ctx, t, "http://"+g.HTTP+"/metrics")
		if metricLine(body, `ivrgw_callbacks_total{outcome="abandoned"}`) == "1" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for outcome, want := range map[string]string{"offered": "1", "booked": "1", "retried": "1", "abandoned": "1", "connected": "0"} {
		if v := metricLine(body, fmt.Sprintf(`ivrgw_callbacks_total{outcome=%q}`, outcome)); v != want {
			t.Errorf("callbacks %s = %q, want %s", outcome, v, want)
		}
	}
	// No third try, and the agent is free for the next ordinary caller.
	start := time.Now()
	c := fbCaller(ctx, t, g, "5550151", "")
	fbAskForPerson(ctx, t, c, start)
	ac := fbWaitCall(ctx, t, ag)
	if user, _ := ac.From(); user != "5550151" || ac.Header("X-IVR-Callback") != "" {
		t.Errorf("agent's next call from %q (callback %q), want the ordinary caller 5550151", user, ac.Header("X-IVR-Callback"))
	}
	if n := len(trunk.Calls()); n != 2 {
		t.Errorf("trunk got %d calls, want 2 (1 + 1 retry)", n)
	}
}
