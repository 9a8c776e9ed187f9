package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestLoadSmoke: ivrload places 50 menu calls on the production build for
// 10 s each, once per RTP mode; every call must be answered, stay up,
// receive its menu with no RTP packet lost, and hear the order status
// prompt after pressing 3 during the menu. Timings are reported, never
// judged: figures are docs/performance.md's business, measured on a quiet
// machine.
func TestLoadSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("load smoke test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	load := filepath.Join(t.TempDir(), "ivrload")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", load, "../cmd/ivrload").CombinedOutput(); err != nil {
		t.Fatalf("build ivrload: %v\n%s", err, out)
	}
	t.Run("bridged", func(t *testing.T) { loadSmokeBridged(ctx, t, load) })
	// One source places every call: the per-source INVITE limit is for
	// callers, not for a trunk or a load tool. Both RTP modes: a port per
	// leg, and the shared sockets of -rtp-shared.
	for _, mode := range []struct {
		name  string
		flags []string
	}{{"ports", nil}, {"shared", []string{"-rtp-shared", "2"}}} {
		t.Run(mode.name, func(t *testing.T) {
			args := append([]string{"-sip-limit-invite", "off", "-log-level", "warn", "-rtp-ports", rtpRangeN(t, 200)}, mode.flags...)
			g := startBinary(t, plainBinary, args...)
			cmd := exec.CommandContext(ctx, load, "-target", g.SIP, "-calls", "50", "-ramp", "25", "-duration", "10s",
				"-key", "3", "-key-after", "4s", "-key-reply", "../prompts/audio/en/order_status.wav",
				"-pid", strconv.Itoa(g.cmd.Process.Pid), "-strict")
			out, err := cmd.CombinedOutput()
			t.Logf("ivrload:\n%s", out)
			if err != nil {
				t.Fatalf("ivrload -strict: %v", err)
			}
			if !regexp.MustCompile(`calls: attempted 50, answered 50, failed 0, ended early by the gateway 0`).Match(out) {
				t.Errorf("ivrload did not report 50 clean calls")
			}
			if !regexp.MustCompile(`lost 0 \(`).Match(out) {
				t.Errorf("ivrload reports lost packets")
			}
			if !regexp.MustCompile(`keys: pressed 50, reply heard 50, none 0`).Match(out) {
				t.Errorf("ivrload did not hear the reply to every key")
			}
		})
	}
}

// loadSmokeBridged: ivrload registers 20 agents (digest auth, accounts from
// "ivrload agents"), and 20 callers press 0 and are each bridged to one for
// the rest of the call; every call must reach a person and lose nothing.
func loadSmokeBridged(ctx context.Context, t *testing.T, load string) {
	file := filepath.Join(t.TempDir(), "agents.yaml")
	out, err := exec.CommandContext(ctx, load, "agents", "-n", "20").Output()
	if err != nil {
		t.Fatalf("ivrload agents: %v", err)
	}
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	g := startBinary(t, plainBinary, "-agents", file, "-sip-limit-invite", "off", "-sip-limit-register", "off",
		"-sip-max-pending", "0", "-log-level", "warn", "-rtp-ports", rtpRangeN(t, 200))
	cmd := exec.CommandContext(ctx, load, "-target", g.SIP, "-agents", "20", "-calls", "20", "-ramp", "20",
		"-duration", "8s", "-key", "0", "-key-after", "2s", "-pid", strconv.Itoa(g.cmd.Process.Pid), "-strict")
	out, err = cmd.CombinedOutput()
	t.Logf("ivrload:\n%s", out)
	if err != nil {
		t.Fatalf("ivrload -agents -strict: %v", err)
	}
	for _, want := range []string{
		`agents: 20 registered`,
		`calls: attempted 20, answered 20, failed 0, ended early by the gateway 0`,
		`keys: pressed 20, reply heard 20, none 0`,
		`agents: 20 calls answered; rtp received [1-9]`,
		`lost 0 \(`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("ivrload report lacks %q", want)
		}
	}
}
