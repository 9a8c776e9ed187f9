package e2e

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// drainCall dials the gateway and waits for the greeting.
func drainCall(ctx context.Context, t *testing.T, g *gw, from string) *testphone.Call {
	t.Helper()
	c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: from, To: "support"})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(c.Close)
	if err := c.WaitForSpeech(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	return c
}

// startDrain sends SIGTERM and waits until the gateway says it drains.
func startDrain(ctx context.Context, t *testing.T, g *gw) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := g.waitLog(ctx, "gateway draining"); err != nil {
		t.Fatal(err)
	}
}

// waitExit waits for the gateway to exit and wants status 0.
func waitExit(t *testing.T, g *gw, within time.Duration) {
	t.Helper()
	select {
	case err := <-g.waitErr:
		if err != nil {
			t.Errorf("gateway exit = %v, want status 0", err)
		}
		g.waitErr <- err // for the harness's own stop
	case <-time.After(within):
		t.Fatalf("gateway still running %v later\n%s", within, g.Log())
	}
}

// TestDrainKeepsLiveCalls: SIGTERM takes the gateway out of service
// (readyz 503, OPTIONS and new INVITEs 503 with Retry-After) while the call
// already up goes on being served (its menu still answers keys); when the
// caller hangs up the gateway exits by itself, status 0.
func TestDrainKeepsLiveCalls(t *testing.T) {
	g := startGateway(t, "-drain-timeout", "5m")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := drainCall(ctx, t, g, "live-caller")
	if code := fbReady(t, g.HTTP); code != 200 {
		t.Fatalf("GET /readyz before the drain = %d, want 200", code)
	}
	startDrain(ctx, t, g)

	if code := fbReady(t, g.HTTP); code != 503 {
		t.Errorf("GET /readyz while draining = %d, want 503", code)
	}
	raw := newRawSIP(t, g.SIP)
	raw.send(raw.options("drain-probe"))
	res, err := raw.wait(5*time.Second, "SIP/2.0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res, "SIP/2.0 503") || !strings.Contains(res, "\r\nRetry-After: ") {
		t.Errorf("OPTIONS while draining = %q, want 503 with Retry-After", firstLine(res))
	}
	raw.invite("drain-new-call", "newcomer", sdpOffer)
	res, err = raw.wait(5*time.Second, "SIP/2.0 5")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res, "SIP/2.0 503") || !strings.Contains(res, "\r\nRetry-After: ") {
		t.Errorf("new INVITE while draining = %q, want 503 with Retry-After", firstLine(res))
	}

	// The live call is still served: a key still moves its menu.
	set := promptSet(t)
	t1 := time.Now()
	if err := c.SendDigit4733('3', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitPrompt(ctx, c, t1, promptSignature(t, set, "en", "order_status", c.Media().Codec)); err != nil {
		t.Fatalf("live call during the drain: %v", err)
	}
	select {
	case <-c.Done():
		t.Fatal("the live call was hung up by the drain")
	default:
	}

	if err := c.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	waitExit(t, g, 15*time.Second)
	for _, want := range [][]string{{"call summary", c.CallID(), "ended=remote_bye"}, {"gateway drained"}} {
		if !logHas(g, want...) {
			t.Errorf("log has no line with %q", want)
		}
	}
}

// TestDrainTimeoutEndsCalls: calls still up when -drain-timeout runs out get
// a BYE, and their summary says shutdown.
func TestDrainTimeoutEndsCalls(t *testing.T) {
	g := startGateway(t, "-drain-timeout", "2s")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := drainCall(ctx, t, g, "slow-caller")
	startDrain(ctx, t, g)
	select {
	case <-c.Done():
		t.Fatal("the call was hung up as the drain started, want it kept until the timeout")
	default:
	}
	if err := c.WaitHangup(ctx); err != nil {
		t.Fatalf("no BYE at the drain timeout: %v", err)
	}
	waitExit(t, g, 15*time.Second)
	for _, want := range [][]string{{"drain timeout"}, {"call summary", c.CallID(), "ended=shutdown", "outcome=ended:shutdown"}} {
		if !logHas(g, want...) {
			t.Errorf("log has no line with %q", want)
		}
	}
	if !logBefore(g, "drain timeout", "sip call ended") {
		t.Errorf("the call ended before the drain timeout")
	}
}

// TestSecondSignalEndsCalls: a second SIGTERM/SIGINT during the drain hangs
// up at once.
func TestSecondSignalEndsCalls(t *testing.T) {
	g := startGateway(t, "-drain-timeout", "5m")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := drainCall(ctx, t, g, "impatient-operator")
	startDrain(ctx, t, g)
	if err := g.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	byeCtx, byeCancel := context.WithTimeout(ctx, 15*time.Second)
	defer byeCancel()
	if err := c.WaitHangup(byeCtx); err != nil {
		t.Fatalf("no BYE after the second signal: %v", err)
	}
	waitExit(t, g, 15*time.Second)
	if !logHas(g, "second signal") || !logHas(g, "call summary", c.CallID(), "ended=shutdown") {
		t.Errorf("log lacks the second signal or the shutdown summary:\n%s", g.Log())
	}
}

// logHas reports whether one log line contains every part.
func logHas(g *gw, parts ...string) bool {
	for _, line := range strings.Split(g.Log(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// logBefore reports whether the first line with a comes before the first with b.
func logBefore(g *gw, a, b string) bool {
	log := g.Log()
	i, j := strings.Index(log, a), strings.Index(log, b)
	return i >= 0 && j >= 0 && i < j
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}
