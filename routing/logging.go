package routing

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RouteLibraryLogs sends go-redis's own log lines (pool and reconnect
// troubles, which it otherwise prints as plain text on stderr and which
// break -log-format json) into log, at warn level under "component=redis",
// at most one every 10 s: a dead Redis makes it log every failed dial, and
// the store already says once that it is unreachable.
//
// go-redis keeps its logger in a package variable: call this once, from
// main, before any client is made.
func RouteLibraryLogs(log *slog.Logger) {
	redis.SetLogger(newLibLogger(log, 10*time.Second, time.Now))
}

// libLogger adapts slog to go-redis's Logging interface, rate-limited.
type libLogger struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newLibLogger(log *slog.Logger, every time.Duration, now func() time.Time) *libLogger {
	return &libLogger{log: log.With("component", "redis"), every: every, now: now}
}

func (l *libLogger) Printf(ctx context.Context, format string, v ...any) {
	l.mu.Lock()
	t := l.now()
	if !l.last.IsZero() && t.Sub(l.last) < l.every {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.last = t
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	l.log.WarnContext(ctx, "redis client", "detail", strings.TrimSpace(fmt.Sprintf(format, v...)), "suppressed", n)
}
