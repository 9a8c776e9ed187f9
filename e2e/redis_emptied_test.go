package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// redisCommand sends one inline command to the Redis at redisURL and
// returns its first reply line.
func redisCommand(t *testing.T, redisURL, cmd string) string {
	t.Helper()
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		t.Fatalf("dial redis: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("redis %s: %v", cmd, err)
	}
	return string(buf[:n])
}

// TestRedisEmptiedBindingsRewritten: Redis loses all its data (FLUSHALL
// stands for a restart without persistence) while one agent is on a
// bridged call and another is idle. The gateway notices within a few
// seconds and writes back both registrations and the busy agent's claim:
// the idle agent takes the next caller without re-registering, and the
// busy one is not offered a second call.
func TestRedisEmptiedBindingsRewritten(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := fbRealRedis(t)
	g := startGateway(t, "-redis", url, "-lease-ttl", "3s", "-ring-timeout", "5s")
	busy := agentStart(t, g, "1002", agent.AutoAnswer)

	start := time.Now()
	c1 := fbCaller(ctx, t, g, "5550101", "First Caller")
	fbAskForPerson(ctx, t, c1, start)
	ac1 := fbWaitCall(ctx, t, busy)
	fbWaitAnswered(ctx, t, ac1, "agent")
	free := agentStart(t, g, "1003", agent.AutoAnswer)
	if _, err := fbWaitAgent(ctx, g.HTTP, "1003", fbState("available")); err != nil {
		t.Fatal(err)
	}
	regs := free.Registrations()

	if got := redisCommand(t, url, "FLUSHALL"); got != "+OK\r\n" {
		t.Fatalf("FLUSHALL = %q", got)
	}
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if _, err := fbWaitAgent(wctx, g.HTTP, "1003", func(a fbAgentInfo) bool { return a.Registered && a.State == "available" }); err != nil {
		t.Fatalf("idle agent not back after Redis was emptied: %v\n%s", err, g.Log())
	}
	if _, err := fbWaitAgent(wctx, g.HTTP, "1002", func(a fbAgentInfo) bool { return a.Registered && a.State == "on_call" }); err != nil {
		t.Fatalf("busy agent not back on_call after Redis was emptied: %v", err)
	}
	if _, err := g.waitLog(wctx, "agent store lost its data"); err != nil {
		t.Error(err)
	}

	start2 := time.Now()
	c2 := fbCaller(ctx, t, g, "5550102", "Second Caller")
	fbAskForPerson(ctx, t, c2, start2)
	ac2 := fbWaitCall(ctx, t, free)
	fbWaitAnswered(ctx, t, ac2, "agent")
	if n := len(busy.Calls()); n != 1 {
		t.Errorf("busy agent was offered %d calls, want 1 (its claim was written back)", n)
	}
	if n := free.Registrations(); n != regs {
		t.Errorf("idle agent registered %d times after the flush, want 0 (the gateway wrote its binding back)", n-regs)
	}
	if ac1.EndedAt() != (time.Time{}) {
		t.Errorf("the first call ended at %v; Redis losing its data must not end calls", ac1.EndedAt())
	}
}

// TestRedisEmptiedQueuedCallerKeepsWaiting: a caller waiting in the queue
// when Redis loses its data is queued again (not told "no one can take
// your call"), and reaches the agent once the agent's current call ends.
func TestRedisEmptiedQueuedCallerKeepsWaiting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	url := fbRealRedis(t)
	g := startGateway(t, "-redis", url, "-lease-ttl", "3s", "-ring-timeout", "5s")
	ag := agentStart(t, g, "1002", agent.AutoAnswer)

	start := time.Now()
	c1 := fbCaller(ctx, t, g, "5550101", "First Caller")
	fbAskForPerson(ctx, t, c1, start)
	ac1 := fbWaitCall(ctx, t, ag)
	fbWaitAnswered(ctx, t, ac1, "agent")

	start2 := time.Now()
	c2 := fbCaller(ctx, t, g, "5550102", "Second Caller")
	fbAskForPerson(ctx, t, c2, start2)
	if _, err := g.waitLog(ctx, "caller queued", c2.CallID()); err != nil {
		t.Fatal(err)
	}
	if got := redisCommand(t, url, "FLUSHALL"); got != "+OK\r\n" {
		t.Fatalf("FLUSHALL = %q", got)
	}
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if _, err := g.waitLog(wctx, "queue entry lost; queued again", c2.CallID()); err != nil {
		t.Fatalf("%v\n%s", err, g.Log())
	}
	if _, err := fbWaitAgent(wctx, g.HTTP, "1002", func(a fbAgentInfo) bool { return a.Registered && a.State == "on_call" }); err != nil {
		t.Fatal(err)
	}

	if err := ac1.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	ac2 := fbWaitCall(ctx, t, ag)
	if user, _ := ac2.From(); user != "5550102" {
		t.Errorf("agent's next call is from %q, want the queued caller 5550102", user)
	}
	fbWaitAnswered(ctx, t, ac2, "agent")
	if n := fbLogCount(g, "claim failed", c2.CallID()); n != 0 {
		t.Errorf("queued caller's claim failed %d times, want 0 (queued again instead)", n)
	}
}
