package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// TestShutdownHangsUpCalls: on SIGINT the gateway says BYE to the calls still
// up and exits cleanly (status 0) within a few seconds.
func TestShutdownHangsUpCalls(t *testing.T) {
	g := startGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "late-caller", To: "support"})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if err := c.WaitForSpeech(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := g.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHangup(ctx); err != nil {
		t.Fatalf("no BYE from a stopping gateway: %v", err)
	}
	select {
	case err := <-g.waitErr:
		if err != nil {
			t.Errorf("gateway exit = %v, want status 0", err)
		}
		g.waitErr <- err // for the harness's own stop
	case <-time.After(12 * time.Second):
		t.Fatal("gateway still running 12 s after SIGINT")
	}
}
