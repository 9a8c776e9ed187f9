package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// TestFailoverKill9MidBridge: two gateways share a real Redis; a caller is
// bridged to an agent through gateway A, and A is killed with SIGKILL. When
// A's lease lapses, gateway B sends BYE to both legs (the caller's phone and
// the agent's), and only after the agent's BYE is the agent offered the
// next call: a caller already waiting at B.
func TestFailoverKill9MidBridge(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := fbRealRedis(t)
	flags := []string{"-redis", url, "-lease-ttl", "3s", "-ring-timeout", "5s"}
	a := startGateway(t, flags...)
	b := startGateway(t, flags...)
	ag := agentStart(t, a, "1002", agent.AutoAnswer)

	start := time.Now()
	c1 := fbCaller(ctx, t, a, "5550101", "First Caller")
	fbAskForPerson(ctx, t, c1, start)
	ac1 := fbWaitCall(ctx, t, ag)
	fbWaitAnswered(ctx, t, ac1, "agent")
	if err := fbWaitTone(ctx, "caller", c1.Audio, 700); err != nil { // bridged: the agent's voice reaches the caller
		t.Fatal(err)
	}

	// Gateway A dies without a word.
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-a.waitErr
	a.waitErr <- nil

	// A second caller, at B, asks for a person: the agent is still on the
	// phone (nobody has hung it up), so they wait.
	start2 := time.Now()
	c2 := fbCaller(ctx, t, b, "5550102", "Second Caller")
	fbAskForPerson(ctx, t, c2, start2)

	// B hangs up both legs of the orphaned call.
	byeCtx, byeCancel := context.WithTimeout(ctx, 30*time.Second)
	defer byeCancel()
	if err := c1.WaitHangup(byeCtx); err != nil {
		t.Fatalf("the first caller got no BYE after gateway A died: %v\n%s", err, b.Log())
	}
	fbWaitEnded(byeCtx, t, ac1)
	agentBye := ac1.EndedAt()
	t.Logf("orphaned call ended %v after the kill (lease 3s + grace 3s + sweep 1s)", agentBye.Sub(killed).Round(100*time.Millisecond))
	if ac1.EndReason() != "remote_bye" {
		t.Errorf("agent's first call ended by %q, want remote_bye (B's BYE)", ac1.EndReason())
	}
	if _, err := b.waitLog(ctx, "orphaned call hung up", c1.CallID()); err != nil {
		t.Error(err)
	}

	// Then, and only then, the agent gets the waiting caller.
	ac2 := fbWaitCall(ctx, t, ag)
	if !ac2.At().After(agentBye) {
		t.Errorf("agent offered the next call at %v, before its last call's BYE at %v", ac2.At(), agentBye)
	}
	if user, _ := ac2.From(); user != "5550102" {
		t.Errorf("agent's next call is from %q, want the caller waiting at B (5550102)", user)
	}
	fbWaitAnswered(ctx, t, ac2, "agent")
}
