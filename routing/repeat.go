package routing

import (
	"context"
	"fmt"
	"time"
)

// MaxRecentCalls bounds the calls remembered per number: RecentCalls.Calls
// never exceeds it, so a repeat threshold above it is never reached.
const MaxRecentCalls = 32

// maxCallerLen bounds a caller key (a number or its keyed hash).
const maxCallerLen = 128

// RecentCalls is what the store remembers of one caller within the window.
type RecentCalls struct {
	Calls     int    // calls recorded within the window, this one included (at most MaxRecentCalls)
	LastAgent string // the agent who last answered this caller within the window; "" when none
}

// RecordCall notes a call from caller (a number, or its keyed hash when
// numbers are masked) and returns the calls from it within window,
// this one included, and the agent who last spoke with it. The history
// expires window after the last call and keeps at most MaxRecentCalls
// entries. The gateway records at call start: a call that dropped before
// reaching anyone counts, which is the caller this is for.
func (s *Store) RecordCall(ctx context.Context, caller, callID string, window time.Duration) (RecentCalls, error) {
	if err := checkRepeatArgs(caller, window); err != nil {
		return RecentCalls{}, fmt.Errorf("record call: %w", err)
	}
	if err := checkValue("call id", callID); err != nil {
		return RecentCalls{}, fmt.Errorf("record call: %w", err)
	}
	v, err := s.run(ctx, scriptRepeat, "call", caller, callID, window.Milliseconds(), MaxRecentCalls)
	if err != nil {
		return RecentCalls{}, s.fail(ctx, "record call", err)
	}
	r, ok := v.([]any)
	if !ok || len(r) != 2 {
		return RecentCalls{}, fmt.Errorf("record call: unexpected reply %v", v)
	}
	n, _ := r[0].(int64)
	ext, _ := r[1].(string)
	return RecentCalls{Calls: int(n), LastAgent: ext}, nil
}

// SetLastAgent remembers ext as the agent who last spoke with caller, for
// window. The gateway calls it when an agent answers.
func (s *Store) SetLastAgent(ctx context.Context, caller, ext string, window time.Duration) error {
	if err := checkRepeatArgs(caller, window); err != nil {
		return fmt.Errorf("set last agent: %w", err)
	}
	if err := checkName("agent", ext); err != nil {
		return fmt.Errorf("set last agent: %w", err)
	}
	if _, err := s.run(ctx, scriptRepeat, "agent", caller, ext, window.Milliseconds()); err != nil {
		return s.fail(ctx, "set last agent "+ext, err)
	}
	return nil
}

func checkRepeatArgs(caller string, window time.Duration) error {
	if len(caller) > maxCallerLen {
		return fmt.Errorf("caller of %d bytes: %w", len(caller), ErrInvalid)
	}
	if err := checkValue("caller", caller); err != nil {
		return err
	}
	if window < time.Millisecond {
		return fmt.Errorf("window %v: %w", window, ErrInvalid)
	}
	return nil
}

func (s *Store) callsKey(caller string) string     { return s.prefix + "calls:" + caller }
func (s *Store) lastAgentKey(caller string) string { return s.prefix + "lastagent:" + caller }

// ClaimForQueuePreferring is ClaimForQueue that offers the caller to agent
// prefer first when prefer is free (available, registered, with skill),
// and to the longest-idle agent otherwise. "" prefers nobody. The choice
// is made inside the same atomic claim, so the preferred agent is never
// given two calls, and the caller must still be the head of the queue.
func (s *Store) ClaimForQueuePreferring(ctx context.Context, queue, skill, callID, gatewayID, prefer string) (Claim, error) {
	if err := checkName("queue", queue); err != nil {
		return Claim{}, fmt.Errorf("claim for queue: %w", err)
	}
	if prefer != "" {
		if err := checkName("agent", prefer); err != nil {
			return Claim{}, fmt.Errorf("claim for queue: %w", err)
		}
	}
	return s.claim(ctx, queue, skill, callID, gatewayID, prefer)
}
