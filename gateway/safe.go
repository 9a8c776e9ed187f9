package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"golang.org/x/sync/errgroup"
)

// errPanic ends a call one of whose goroutines panicked.
var errPanic = errors.New("panic")

// group is a call's errgroup: every goroutine the call starts runs in it,
// under a recover, so a panic ends that call (its context is cancelled and
// the caller hung up on) instead of the daemon, and Wait at the end of the
// call means nothing of it is left running.
type group struct {
	g   *errgroup.Group
	log *slog.Logger
}

func newGroup(ctx context.Context, log *slog.Logger) (*group, context.Context) {
	g, gctx := errgroup.WithContext(ctx)
	return &group{g: g, log: log}, gctx
}

// Go runs fn in the group; name says which goroutine in a panic's log line.
func (g *group) Go(name string, fn func() error) {
	g.g.Go(func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				g.log.Error("call goroutine panicked", "goroutine", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("%w in %s: %v", errPanic, name, r)
			}
		}()
		return fn()
	})
}

// Wait waits for every goroutine and returns the first error.
func (g *group) Wait() error { return g.g.Wait() }
