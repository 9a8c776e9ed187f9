package e2e

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

// TestJSONLogsWithDeadRedis: with -log-format json every line the gateway
// prints is a JSON record, including go-redis's own complaints about a
// Redis that is not there.
func TestJSONLogsWithDeadRedis(t *testing.T) {
	// A port nothing listens on: bind, note, close.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	g := startGateway(t, "-log-format", "json", "-redis", "redis://"+dead+"/0")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := g.waitLog(ctx, `"component":"redis"`); err != nil {
		t.Fatalf("go-redis said nothing through slog about a dead Redis: %v", err)
	}
	if code := fbReady(t, g.HTTP); code != 503 {
		t.Errorf("GET /readyz with Redis down = %d, want 503", code)
	}
	g.stop()
	n := 0
	for _, line := range strings.Split(g.Log(), "\n") {
		if line == "" {
			continue
		}
		n++
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	if n < 3 {
		t.Errorf("only %d log lines", n)
	}
}
