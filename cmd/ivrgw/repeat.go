package main

import (
	"fmt"
	"time"

	"github.com/ivrgw/ivrgw/routing"
)

// checkRepeat validates the repeat-caller fast track settings.
func (o *options) checkRepeat() error {
	switch {
	case o.repeatCalls == 1:
		return fmt.Errorf("-repeat-calls 1: every call would be a repeat call; want 0 (off) or 2 to %d", routing.MaxRecentCalls)
	case o.repeatCalls < 0 || o.repeatCalls > routing.MaxRecentCalls:
		// the store remembers at most MaxRecentCalls per number
		return fmt.Errorf("-repeat-calls %d: want 0 (off) or 2 to %d", o.repeatCalls, routing.MaxRecentCalls)
	case o.repeatWindow < time.Second || o.repeatWindow > 24*time.Hour:
		return fmt.Errorf("-repeat-window %v: want 1s to 24h", o.repeatWindow)
	case o.repeatPriority < 0 || o.repeatPriority > routing.MaxPriority:
		return fmt.Errorf("-repeat-priority %d: want 0 to %d", o.repeatPriority, routing.MaxPriority)
	}
	return nil
}
