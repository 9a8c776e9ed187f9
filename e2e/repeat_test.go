package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/sip/testphone"
	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// rcTalkAndHangUp waits until the caller is bridged to ac, then the caller
// hangs up and the agent's leg ends.
func rcTalkAndHangUp(ctx context.Context, t *testing.T, c *testphone.Call, ac *agent.AgentCall) {
	t.Helper()
	fbWaitAnswered(ctx, t, ac, "agent")
	if err := fbWaitTone(ctx, "caller", c.Audio, 700); err != nil {
		t.Fatal(err)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatalf("caller Hangup = %v", err)
	}
	fbWaitEnded(ctx, t, ac)
}

// rcFirstRung waits until one of the agents has a call it had not before,
// and returns that agent (nil when ctx ends first).
func rcFirstRung(ctx context.Context, before []int, agents ...*agent.Agent) *agent.Agent {
	for {
		for i, a := range agents {
			if len(a.Calls()) > before[i] {
				return a
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestRepeatCallerFastTrack: with -repeat-calls 3, a number's first two
// calls get the menu and talk to agent A (1002). Agent B (1003) registers
// during the second call, so once A's wrap-up ends B has been idle longest
// and would take the next caller. The third call from the same number
// hears "welcome back" instead of the menu and rings A, not B. A different
// number on the same gateway still gets the menu. Numbers are masked
// (-mask-callers): Redis holds the journeys' hash, never the number.
func TestRepeatCallerFastTrack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	url := fbRealRedis(t)
	const secret, number = "s3cret", "5550123"
	g := startGateway(t, "-redis", url, "-ring-timeout", "5s", "-repeat-calls", "3", "-repeat-window", "10m",
		"-repeat-priority", "60", "-mask-callers", secret)
	set := promptSet(t)
	// A rings 1.5 s before answering: the fallback rings during the
	// greeting and cuts it on the answer, so an agent answering at once
	// would leave too little of welcome_back to recognise.
	a := agentStartConfig(t, agent.Config{Gateway: g.SIP, Ext: "1002", Password: "demo1002", Mode: agent.AutoAnswer,
		Tone: 700, AnswerAfter: 1500 * time.Millisecond})
	var b *agent.Agent

	for i := 1; i <= 2; i++ {
		if _, err := fbWaitAgent(ctx, g.HTTP, "1002", fbState("available")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c := fbCaller(ctx, t, g, number, "")
		fbAskForPerson(ctx, t, c, start) // the menu, as for anyone
		ac := fbWaitCall(ctx, t, a)
		if got := ac.Header("X-IVR-Reason"); got != "caller_request" {
			t.Errorf("call %d: agent's X-IVR-Reason = %q, want caller_request", i, got)
		}
		if got := ac.Header("X-IVR-Repeat"); got != strconv.Itoa(i) {
			t.Errorf("call %d: agent's X-IVR-Repeat = %q, want %d", i, got, i)
		}
		if i == 2 {
			fbWaitAnswered(ctx, t, ac, "A")
			b = agentStart(t, g, "1003", agent.AutoAnswer)
		}
		rcTalkAndHangUp(ctx, t, c, ac)
	}
	if _, err := fbWaitAgent(ctx, g.HTTP, "1002", fbState("available")); err != nil {
		t.Fatal(err)
	}
	// B is now first in the idle order: the usual claim would ring B.
	if got := redisCommand(t, url, "ZRANGE ivr:{ivr}:idle 0 0"); !strings.Contains(got, "1003") {
		t.Fatalf("longest idle agent before the third call = %q, want 1003 (B)", got)
	}
	hashed := journey.Hashed(secret)(number)
	if got := redisCommand(t, url, "EXISTS ivr:{ivr}:calls:"+hashed); got != ":1\r\n" {
		t.Errorf("EXISTS calls key of the hashed number = %q, want :1", got)
	}
	if got := redisCommand(t, url, "KEYS *"+number+"*"); got != "*0\r\n" {
		t.Errorf("KEYS *%s* = %q, want none: numbers are stored hashed", number, got)
	}
	if got := redisCommand(t, url, "GET ivr:{ivr}:lastagent:"+hashed); !strings.Contains(got, "1002") {
		t.Errorf("last agent of the hashed number = %q, want 1002", got)
	}

	// The third call: welcome back, then A. The agent is rung while
	// welcome_back plays, so count calls from before the dial.
	before := []int{len(a.Calls()), len(b.Calls())}
	start := time.Now()
	c := fbCaller(ctx, t, g, number, "")
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := waitPrompt(wctx, c, start, promptSignature(t, set, "en", "welcome_back", c.Media().Codec)); err != nil {
		t.Fatal(err)
	}
	if first := rcFirstRung(wctx, before, a, b); first != a {
		name := "nobody"
		if first != nil {
			name = first.Ext()
		}
		t.Fatalf("third call rang %s first, want A (1002), the last agent", name)
	}
	ac := fbWaitCall(ctx, t, a)
	for _, p := range []string{"main_menu", "welcome", "transfer"} {
		if promptSignature(t, set, "en", p, c.Media().Codec).heardIn(c.AudioSince(start)) {
			t.Errorf("repeat caller heard %s before the agent rang, want only welcome_back", p)
		}
	}
	if n := len(b.Calls()); n != 0 {
		t.Errorf("B got %d calls, want none: A, the last agent, was free", n)
	}
	for name, want := range map[string]string{"X-IVR-Reason": "repeat_caller", "X-IVR-Queue": "support", "X-IVR-Repeat": "3"} {
		if got := ac.Header(name); got != want {
			t.Errorf("agent's INVITE %s = %q, want %q\n%s", name, got, want, ac.Invite())
		}
	}
	fbWaitAnswered(ctx, t, ac, "A")
	if _, err := g.waitLog(ctx, "repeat caller: fast track to a person", "calls=3", "last_agent=1002"); err != nil {
		t.Error(err)
	}

	// Another number on the same gateway: the menu, and B (A is busy).
	start = time.Now()
	other := fbCaller(ctx, t, g, "5550999", "")
	fbAskForPerson(ctx, t, other, start)
	bc := fbWaitCall(ctx, t, b)
	if got := bc.Header("X-IVR-Reason"); got != "caller_request" {
		t.Errorf("other caller's X-IVR-Reason = %q, want caller_request", got)
	}
	if promptSignature(t, set, "en", "welcome_back", other.Media().Codec).heardIn(other.AudioSince(start)) {
		t.Error("a first-time caller heard welcome_back")
	}
}

// TestRepeatCallerRedisDown: with Redis unreachable there is no history:
// every call gets the menu as usual, however often the number calls.
func TestRepeatCallerRedisDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dead := fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t)) // nothing listens there
	g := startGateway(t, "-redis", dead, "-repeat-calls", "2")
	for i := 0; i < 2; i++ {
		start := time.Now()
		c := fbCaller(ctx, t, g, "5550124", "")
		fbAtMenu(ctx, t, c, start)
		if err := c.Hangup(ctx); err != nil {
			t.Fatalf("Hangup = %v", err)
		}
	}
	if _, err := g.waitLog(ctx, "caller history unavailable; no repeat-caller fast track"); err != nil {
		t.Error(err)
	}
}

// TestRepeatCallerAnonymous: calls without a caller ID are never counted:
// "anonymous" calling again and again always gets the menu.
func TestRepeatCallerAnonymous(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := fbRealRedis(t)
	g := startGateway(t, "-redis", url, "-repeat-calls", "2")
	for i := 0; i < 3; i++ {
		start := time.Now()
		c := fbCaller(ctx, t, g, "anonymous", "Anonymous")
		fbAtMenu(ctx, t, c, start)
		if err := c.Hangup(ctx); err != nil {
			t.Fatalf("Hangup = %v", err)
		}
	}
	if got := redisCommand(t, url, "KEYS ivr:{ivr}:calls:*"); got != "*0\r\n" {
		t.Errorf("KEYS calls:* after anonymous calls = %q, want none", got)
	}
}
