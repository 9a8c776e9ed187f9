package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/media/g711"
	"github.com/ivrgw/ivrgw/sip/testphone"
	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// fbRedis starts a redis-server of the test's own on a free loopback port
// and returns its URL, or "" (the gateway then runs its embedded Redis)
// when redis-server is not installed, unless IVRGW_REQUIRE_REDIS=1.
//
// Each test gets its own server rather than CI's shared IVRGW_REDIS_URL:
// every gateway uses the same key pool ("ivr"), so tests sharing one Redis
// would see each other's agents and queues.
func fbRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("IVRGW_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server not installed and IVRGW_REQUIRE_REDIS=1")
		}
		return ""
	}
	for range 3 {
		port := freePort(t)
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		kill := func() { _ = cmd.Process.Kill(); <-done }
		if fbRedisReady(port, done, 3*time.Second) {
			t.Cleanup(kill)
			return fmt.Sprintf("redis://127.0.0.1:%d/0", port)
		}
		kill()
	}
	t.Fatal("redis-server did not start on 127.0.0.1")
	return ""
}

// fbRealRedis is fbRedis for tests that need a real server (several
// gateways on one Redis): skipped without one.
func fbRealRedis(t *testing.T) string {
	t.Helper()
	url := fbRedis(t)
	if url == "" {
		t.Skip("redis-server not installed")
	}
	return url
}

func fbRedisReady(port int, done <-chan struct{}, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, _ := c.Read(buf)
			_ = c.Close()
			if string(buf[:n]) == "+PONG\r\n" {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// fbGateway starts a gateway on its own Redis (or the embedded one) with a
// short ring timeout, plus any extra flags.
func fbGateway(t *testing.T, extra ...string) *gw {
	t.Helper()
	args := []string{"-ring-timeout", "2s"}
	if url := fbRedis(t); url != "" {
		args = append(args, "-redis", url)
	}
	return startGateway(t, append(args, extra...)...)
}

// agentStart registers demo agent ext (password demo<ext>) at g with mode
// and a 700 Hz voice; it is closed (unregistered) at cleanup.
func agentStart(t *testing.T, g *gw, ext string, mode agent.Mode) *agent.Agent {
	t.Helper()
	return agentStartConfig(t, agent.Config{Gateway: g.SIP, Ext: ext, Password: "demo" + ext, Mode: mode, Tone: 700})
}

// agentStartConfig registers an agent as cfg says; it is closed
// (unregistered) at cleanup.
func agentStartConfig(t *testing.T, cfg agent.Config) *agent.Agent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ext := cfg.Ext
	a, err := agent.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("agent.Start(%s) = %v", ext, err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// fbAgentInfo is one entry of GET /agents.
type fbAgentInfo struct {
	Ext        string `json:"ext"`
	State      string `json:"state"`
	Reason     string `json:"reason"`
	Registered bool   `json:"registered"`
	CallID     string `json:"call_id"`
	Gateway    string `json:"gateway"`
	Misses     int    `json:"misses"`
}

// fbAgents reads GET /agents.
func fbAgents(ctx context.Context, httpAddr string) (map[string]fbAgentInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/agents", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /agents: %s", resp.Status)
	}
	var list []fbAgentInfo
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("GET /agents: %w", err)
	}
	out := map[string]fbAgentInfo{}
	for _, a := range list {
		out[a.Ext] = a
	}
	return out, nil
}

// fbAgent returns one agent's entry of GET /agents, failing the test on error.
func fbAgent(t *testing.T, httpAddr, ext string) fbAgentInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	as, err := fbAgents(ctx, httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	return as[ext]
}

// fbWaitAgent polls GET /agents until ext satisfies ok, and returns that
// entry; the error carries the last entry seen.
func fbWaitAgent(ctx context.Context, httpAddr, ext string, ok func(fbAgentInfo) bool) (fbAgentInfo, error) {
	var last fbAgentInfo
	var lastErr error
	for {
		as, err := fbAgents(ctx, httpAddr)
		if err == nil {
			last = as[ext]
			if ok(last) {
				return last, nil
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("agent %s: last seen %+v (err %v): %w", ext, last, lastErr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func fbState(state string) func(fbAgentInfo) bool {
	return func(a fbAgentInfo) bool { return a.State == state }
}

// fbPost sends POST to the admin API and returns the status code.
func fbPost(t *testing.T, httpAddr, path string) int {
	t.Helper()
	resp, err := http.Post("http://"+httpAddr+path, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fbReady returns GET /readyz's status code.
func fbReady(t *testing.T, httpAddr string) int {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// fbCaller dials the gateway's support number as caller number from.
func fbCaller(ctx context.Context, t *testing.T, g *gw, from, display string) *testphone.Call {
	t.Helper()
	return fbCallerConfig(ctx, t, testphone.Config{Target: g.SIP, From: from, DisplayName: display, To: "support"})
}

// fbCallerConfig dials as cfg says; the call is hung up at cleanup.
func fbCallerConfig(ctx context.Context, t *testing.T, cfg testphone.Config) *testphone.Call {
	t.Helper()
	c, err := testphone.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("testphone.Dial(%s) = %v", cfg.From, err)
	}
	t.Cleanup(func() {
		hctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = c.Hangup(hctx)
	})
	return c
}

// fbAtMenu waits until the caller has heard the main menu since start.
func fbAtMenu(ctx context.Context, t *testing.T, c *testphone.Call, start time.Time) {
	t.Helper()
	sig := promptSignature(t, promptSet(t), "en", "main_menu", c.Media().Codec)
	if err := waitPrompt(ctx, c, start, sig); err != nil {
		t.Fatal(err)
	}
}

// fbAskForPerson waits for the main menu, then presses 0 (the person key)
// as an RFC 4733 event.
//
// It returns the moment just before the key went out: SendDigit4733 returns
// only once the event's last packet is sent, ~140 ms after the gateway
// acted on its first, so the time after it would miss the reply's start.
func fbAskForPerson(ctx context.Context, t *testing.T, c *testphone.Call, start time.Time) (pressed time.Time) {
	t.Helper()
	fbAtMenu(ctx, t, c, start)
	pressed = time.Now()
	if err := c.SendDigit4733('0', 100*time.Millisecond); err != nil {
		t.Fatalf("SendDigit4733('0') = %v", err)
	}
	return pressed
}

// fbTone is the share of the audio's energy at hz over the most recent
// window of 300 ms, and its level.
func fbTone(audio []int16, hz float64) (share, rms float64) {
	const window = 2400 // 300 ms
	if len(audio) < window {
		return 0, 0
	}
	w := audio[len(audio)-window:]
	return testphone.DetectTone(w, hz), testphone.RMS(w)
}

// fbWaitTone waits until audio() ends in 300 ms that are mostly hz and
// clearly audible (a tone relayed through the bridge, not noise).
func fbWaitTone(ctx context.Context, what string, audio func() []int16, hz float64) error {
	var share, rms float64
	for {
		share, rms = fbTone(audio(), hz)
		if share > 0.8 && rms > 1000 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %v Hz not heard (last 300 ms: share %.2f, rms %.0f): %w", what, hz, share, rms, ctx.Err())
		case <-time.After(40 * time.Millisecond):
		}
	}
}

// fbMusicSignature is the first loud 300 ms of the hold music.
func fbMusicSignature(t *testing.T, pt uint8) signature {
	t.Helper()
	clip, ok := promptSet(t).Music("hold")
	if !ok {
		t.Fatal("no hold music")
	}
	frames := clip.Frames(pt)
	for i, f := range frames {
		pcm := g711.Decode(make([]int16, len(f)), f, pt)
		if testphone.RMS(pcm) > 1000 && i+sigFrames <= len(frames) {
			sig := signature{name: "music/hold"}
			for _, f := range frames[i : i+sigFrames] {
				sig.frames = append(sig.frames, g711.Decode(make([]int16, len(f)), f, pt))
			}
			return sig
		}
	}
	t.Fatal("hold music has no loud run")
	return signature{}
}

// fbLogCount counts the gateway's log lines holding every part.
func fbLogCount(g *gw, parts ...string) int {
	n := 0
	for _, line := range strings.Split(g.Log(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// waitEnded waits for an agent's call to end.
func waitEnded(ctx context.Context, ac *agent.AgentCall) error {
	select {
	case <-ac.Ended():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("agent call %s still going: %w", ac.CallID(), ctx.Err())
	}
}

// fbWaitEnded waits for an agent's call to end, or fails the test.
func fbWaitEnded(ctx context.Context, t *testing.T, ac *agent.AgentCall) {
	t.Helper()
	if err := waitEnded(ctx, ac); err != nil {
		t.Fatal(err)
	}
}

// fbWaitCall waits for agent a's phone to ring, or fails the test.
func fbWaitCall(ctx context.Context, t *testing.T, a *agent.Agent) *agent.AgentCall {
	t.Helper()
	ac, err := a.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ac
}

// fbWaitAnswered waits for the agent's call to be established, or fails
// the test; who names the agent in the failure.
func fbWaitAnswered(ctx context.Context, t *testing.T, ac *agent.AgentCall, who string) {
	t.Helper()
	select {
	case <-ac.Answered():
	case <-ctx.Done():
		t.Fatalf("%s's call never established: %s", who, ac.EndReason())
	}
}

// fbPassOver registers agent A (1002, answering as modeA) and then B
// (1003, answering at once), so A has been idle longest and is claimed
// first; a caller from number asks for a person. It waits for A's call to
// end and for B to be rung promptly after it and to answer, and returns
// A, the caller and A's call for the test's own checks.
func fbPassOver(ctx context.Context, t *testing.T, g *gw, modeA agent.Mode, from string) (*agent.Agent, *testphone.Call, *agent.AgentCall) {
	t.Helper()
	a := agentStart(t, g, "1002", modeA)
	time.Sleep(20 * time.Millisecond)
	b := agentStart(t, g, "1003", agent.AutoAnswer)
	start := time.Now()
	c := fbCaller(ctx, t, g, from, "")
	fbAskForPerson(ctx, t, c, start)
	ac := fbWaitCall(ctx, t, a)
	fbWaitEnded(ctx, t, ac)
	bc := fbWaitCall(ctx, t, b)
	if d := bc.At().Sub(ac.EndedAt()); d > 3*time.Second {
		t.Errorf("B rung %v after A's call ended (%d, cancelled %v), want promptly", d.Round(time.Millisecond), ac.Status(), ac.Cancelled())
	}
	fbWaitAnswered(ctx, t, bc, "B")
	return a, c, ac
}
