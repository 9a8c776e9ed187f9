// Package e2e tests the real ivrgw binary over loopback sockets, with the
// project's own test phone and, where Debian has one, a real third-party peer.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the gateway under test, built once in TestMain: with -race when
// the tests run with -race, so the functional tests also hunt data races in
// the real binary. plainBinary is the production build (no race detector,
// which slows code 2-10x): timing properties such as pacing are measured on it.
var binary, plainBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ivrgw-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plainBinary = filepath.Join(dir, "ivrgw")
	binary = plainBinary
	builds := [][]string{{"build", "-o", plainBinary, "../cmd/ivrgw"}}
	if raceEnabled {
		binary = filepath.Join(dir, "ivrgw-race")
		builds = append(builds, []string{"build", "-race", "-o", binary, "../cmd/ivrgw"})
	}
	for _, args := range builds {
		build := exec.Command("go", args...)
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build ivrgw:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gw is one running gateway process.
type gw struct {
	t       *testing.T
	SIP     string // 127.0.0.1:port, UDP and TCP
	HTTP    string
	cmd     *exec.Cmd
	logMu   sync.Mutex
	log     bytes.Buffer
	waitErr chan error
}

// freePort finds a port free for both UDP and TCP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// rtpRange picks 20 free RTP ports for one gateway, below the kernel's
// ephemeral range (32768-60999), where other sockets could fill a range.
func rtpRange(t *testing.T) string { return rtpRangeN(t, 20) }

// rtpRangeN picks n free RTP ports (n even, at most 2,000) the same way.
func rtpRangeN(t *testing.T, n int) string {
	t.Helper()
	for range 50 {
		base := 20000 + n*rand.IntN(12000/n) // 20000-31999
		free := true
		for p := base; p < base+n && free; p++ {
			c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				free = false
				break
			}
			c.Close()
		}
		if free {
			return fmt.Sprintf("%d-%d", base, base+n-1)
		}
	}
	t.Fatalf("no free range of %d RTP ports in 20000-31999", n)
	return ""
}

// startGateway runs the binary with the given extra flags and waits until it is ready.
func startGateway(t *testing.T, extra ...string) *gw {
	t.Helper()
	return startBinary(t, binary, extra...)
}

// startBinary runs the given gateway build.
func startBinary(t *testing.T, bin string, extra ...string) *gw {
	t.Helper()
	return startCommand(t, nil, bin, extra...)
}

// startCommand runs bin with the harness's flags plus extra, behind the
// given command prefix (for example nice).
func startCommand(t *testing.T, prefix []string, bin string, extra ...string) *gw {
	t.Helper()
	g := &gw{t: t, waitErr: make(chan error, 1)}
	g.SIP = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g.HTTP = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := []string{"-sip", g.SIP, "-http", g.HTTP, "-public-ip", "127.0.0.1",
		"-rtp-ports", rtpRange(t), "-menu", "../configs/menu.yaml", "-agents", "../configs/agents.yaml",
		"-log-level", "debug", "-whisper", "off"}
	args = append(args, extra...)
	argv := append(append(append([]string{}, prefix...), bin), args...)
	g.cmd = exec.Command(argv[0], argv[1:]...)
	g.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	pr, pw := io.Pipe()
	g.cmd.Stdout, g.cmd.Stderr = pw, pw
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			g.logMu.Lock()
			g.log.Write(sc.Bytes())
			g.log.WriteByte('\n')
			g.logMu.Unlock()
		}
	}()
	go func() { err := g.cmd.Wait(); pw.Close(); g.waitErr <- err }()
	t.Cleanup(func() { g.stop() })

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + g.HTTP + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return g
			}
		}
		select {
		case err := <-g.waitErr:
			t.Fatalf("gateway exited at start: %v\n%s", err, g.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("gateway not healthy after 20 s\n%s", g.Log())
	return nil
}

func (g *gw) stop() {
	if g.cmd.ProcessState != nil {
		return
	}
	// The first SIGINT drains (calls left up keep going), a second one
	// ends them: a test that leaves calls up is not kept waiting.
	_ = g.cmd.Process.Signal(os.Interrupt)
	var err error
	exited := false
	select {
	case err = <-g.waitErr:
		exited = true
	case <-time.After(3 * time.Second):
		_ = g.cmd.Process.Signal(os.Interrupt)
	}
	if !exited {
		select {
		case err = <-g.waitErr:
		case <-time.After(10 * time.Second):
			_ = g.cmd.Process.Kill()
			g.t.Errorf("gateway did not stop within 10 s of a second SIGINT")
		}
	}
	if err != nil && !strings.Contains(err.Error(), "signal") {
		g.t.Errorf("gateway exited with %v", err)
	}
	if strings.Contains(g.Log(), "DATA RACE") || strings.Contains(g.Log(), "panic:") {
		g.t.Errorf("gateway log shows a race or a crash:\n%s", g.Log())
	}
	if g.t.Failed() {
		g.t.Logf("gateway log:\n%s", g.Log())
	}
}

// Log is everything the gateway printed so far.
func (g *gw) Log() string {
	g.logMu.Lock()
	defer g.logMu.Unlock()
	return g.log.String()
}

// waitLog waits until a log line contains every one of parts, and returns it.
func (g *gw) waitLog(ctx context.Context, parts ...string) (string, error) {
	for {
		for _, line := range strings.Split(g.Log(), "\n") {
			ok := true
			for _, p := range parts {
				if !strings.Contains(line, p) {
					ok = false
					break
				}
			}
			if ok && line != "" {
				return line, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no log line with %q: %w", parts, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
