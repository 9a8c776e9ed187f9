package routing

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// backend is one Redis the same test runs against: a real redis-server or
// miniredis. advance moves the server's clock: real time passes for real
// Redis, miniredis's clock jumps (TIME and TTLs together, via ClockTTL).
type backend struct {
	name    string
	url     string
	advance func(d time.Duration)
	mini    *miniredis.Miniredis
}

// eachBackend runs f against miniredis and against a real Redis.
func eachBackend(t *testing.T, f func(t *testing.T, b *backend)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) { f(t, newMini(t)) })
	t.Run("redis", func(t *testing.T) { f(t, newReal(t)) })
}

func newMini(t testing.TB) *backend {
	t.Helper()
	m := miniredis.NewMiniRedis()
	var mu sync.Mutex
	now := time.Now()
	m.SetTime(now)
	m.ClockTTL(true)
	if err := m.Start(); err != nil {
		t.Fatalf("start miniredis: %v", err)
	}
	t.Cleanup(m.Close)
	return &backend{
		name: "miniredis",
		url:  "redis://" + m.Addr(),
		mini: m,
		advance: func(d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(d)
			m.SetTime(now)
		},
	}
}

// newReal returns IVRGW_REDIS_URL, or a redis-server of its own.
func newReal(t testing.TB) *backend {
	t.Helper()
	url := os.Getenv("IVRGW_REDIS_URL")
	if url == "" {
		url = startRedisServer(t, 0).url()
	}
	return &backend{name: "redis", url: url, advance: func(d time.Duration) { time.Sleep(d) }}
}

type redisServer struct {
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d", r.port) }

// startRedisServer starts redis-server on 127.0.0.1:port (0 = a free port),
// killed in t.Cleanup. Without redis-server the test is skipped, unless
// IVRGW_REQUIRE_REDIS=1 (CI), where that is a failure.
func startRedisServer(t testing.TB, port int) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("IVRGW_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis-server not installed and IVRGW_REQUIRE_REDIS=1")
		}
		t.Skip("redis-server not installed")
	}
	for attempt := 0; attempt < 3; attempt++ {
		p := port
		if p == 0 {
			p = freePort(t)
		}
		r := &redisServer{port: p, done: make(chan struct{})}
		r.cmd = exec.Command(bin, "--port", strconv.Itoa(p), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--loglevel", "warning")
		if err := r.cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		go func() { _ = r.cmd.Wait(); close(r.done) }()
		if r.waitReady(3 * time.Second) {
			t.Cleanup(r.kill)
			return r
		}
		r.kill()
		if port != 0 {
			time.Sleep(200 * time.Millisecond) // the old socket may linger briefly
		}
	}
	t.Fatalf("redis-server did not start on 127.0.0.1")
	return nil
}

func (r *redisServer) waitReady(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), 100*time.Millisecond)
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

func (r *redisServer) kill() {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
	<-r.done
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var poolSeq atomic.Int64

// newStore returns a Store with its own client on a pool no other test uses,
// so tests can share one external Redis (IVRGW_REDIS_URL).
func newStore(t testing.TB, b *backend, opts Options) *Store {
	t.Helper()
	if opts.Pool == "" {
		opts.Pool = fmt.Sprintf("t%d-%d", os.Getpid(), poolSeq.Add(1))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	rdb, err := Dial(b.url)
	if err != nil {
		t.Fatalf("Dial(%q) = %v", b.url, err)
	}
	s := New(rdb, opts)
	t.Cleanup(func() { s.Close(); _ = rdb.Close() })
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func binding(ext string) Binding {
	port, _ := strconv.Atoi(ext)
	return Binding{
		Contact:   "sip:" + ext + "@127.0.0.1:" + strconv.Itoa(20000+port%10000),
		Source:    netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+port%10000)),
		Transport: "udp",
	}
}

// register registers ext with skills, failing the test on error.
func register(t testing.TB, s *Store, ext string, ttl time.Duration, skills ...string) {
	t.Helper()
	ctx := context.Background()
	if err := s.SetSkills(ctx, ext, skills); err != nil {
		t.Fatalf("SetSkills(%s) = %v", ext, err)
	}
	if err := s.SetBinding(ctx, ext, binding(ext), ttl); err != nil {
		t.Fatalf("SetBinding(%s) = %v", ext, err)
	}
}

func mustClaim(t *testing.T, s *Store, skill, callID string) Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), skill, callID, "gw1")
	if err != nil {
		t.Fatalf("Claim(%q, %s) = %v", skill, callID, err)
	}
	return c
}

func agentState(t *testing.T, s *Store, ext string) AgentState {
	t.Helper()
	a, err := s.Agent(context.Background(), ext)
	if err != nil {
		t.Fatalf("Agent(%s) = %v", ext, err)
	}
	return a
}

// pubsubReady waits until the Store's event listener is subscribed.
func pubsubReady(t *testing.T, s *Store) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, err := s.rdb.PubSubNumSub(context.Background(), s.prefix+"events").Result()
		if err == nil && n[s.prefix+"events"] > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("event listener never subscribed")
}
