package routing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// A callback keeps a caller's place in a queue after they hang up: the
// queue entry stays (its heartbeat lives as long as the callback), and when
// it reaches the head and an agent is free, whichever gateway claims it
// first calls the agent, then the caller. Everything lives in Redis, so a
// callback outlives the gateway that booked it.

// Callback is one booked callback.
type Callback struct {
	ID     string // the Call-ID of the call that booked it; its queue member
	Queue  string
	Number string // whom to call: digits, an optional leading +
	Lang   string // the caller's language, "" for the menu's default
	// Fields are what the agent's screen pop shows (X-IVR-* headers), kept
	// from the call that booked it.
	Fields map[string]string
	Tries  int // calls to the caller that were not answered so far
	Booked time.Time
}

// ErrCallbackGone: the callback is no longer owned by this gateway (it
// finished, expired, or its ownership lapsed and another gateway took it).
var ErrCallbackGone = errors.New("callback gone")

// numberRE is what a callback may dial: a telephone number, never a URI or
// a host, whatever a caller's From header said.
var numberRE = regexp.MustCompile(`^\+?[0-9]{3,20}$`)

// ValidNumber reports whether n can be called back.
func ValidNumber(n string) bool { return numberRE.MatchString(n) }

// callbackFields are the hash fields the store owns; Fields may not use them.
var callbackFields = map[string]bool{
	"queue": true, "state": true, "tries": true, "booked": true, "owner": true,
	"owner_until": true, "not_before": true, "number": true, "lang": true,
}

// BookCallback turns the queued call cb.ID into a callback that keeps its
// place, for at most ttl. It returns the place, or ErrNotQueued when the
// call is not (or no longer) waiting in cb.Queue.
func (s *Store) BookCallback(ctx context.Context, cb Callback, ttl time.Duration) (int, error) {
	op := "book callback"
	if err := checkName("queue", cb.Queue); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	if err := checkValue("call id", cb.ID); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	if !ValidNumber(cb.Number) {
		return 0, fmt.Errorf("%s: number %q: %w", op, cb.Number, ErrInvalid)
	}
	if ttl <= 0 {
		return 0, fmt.Errorf("%s: ttl %s: %w", op, ttl, ErrInvalid)
	}
	args := []any{"book", cb.ID, cb.Queue, ttl.Milliseconds(), "number", cb.Number, "lang", cb.Lang}
	for k, v := range cb.Fields {
		if callbackFields[k] || checkName("field", k) != nil || (v != "" && checkValue("field "+k, v) != nil) {
			return 0, fmt.Errorf("%s: field %q: %w", op, k, ErrInvalid)
		}
		args = append(args, "f:"+k, v)
	}
	v, err := s.run(ctx, scriptCallback, args...)
	if err != nil {
		return 0, s.fail(ctx, op, err)
	}
	n, _ := v.(int64)
	if n < 0 {
		return 0, fmt.Errorf("%s %s call %s: %w", op, cb.Queue, cb.ID, ErrNotQueued)
	}
	return int(n), nil
}

// DueCallbacks lists up to max queued callbacks that are at the head of
// their queue now (each may be claimed with ClaimForQueue).
func (s *Store) DueCallbacks(ctx context.Context, max int) ([]Callback, error) {
	v, err := s.run(ctx, scriptCallback, "due", "", max)
	if err != nil {
		return nil, s.fail(ctx, "due callbacks", err)
	}
	r, _ := v.([]any)
	out := make([]Callback, 0, len(r)/2)
	for i := 0; i+1 < len(r); i += 2 {
		id, _ := r[i].(string)
		q, _ := r[i+1].(string)
		out = append(out, Callback{ID: id, Queue: q})
	}
	return out, nil
}

// GetCallback reads the callback id; ErrCallbackGone when there is none.
func (s *Store) GetCallback(ctx context.Context, id string) (Callback, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	m, err := s.rdb.HGetAll(ctx, s.prefix+"cb:"+id).Result()
	if err != nil {
		return Callback{}, s.fail(ctx, "get callback", err)
	}
	if len(m) == 0 {
		return Callback{}, fmt.Errorf("get callback %s: %w", id, ErrCallbackGone)
	}
	cb := Callback{ID: id, Queue: m["queue"], Number: m["number"], Lang: m["lang"], Fields: map[string]string{}}
	cb.Tries, _ = strconv.Atoi(m["tries"])
	if ms, err := strconv.ParseInt(m["booked"], 10, 64); err == nil {
		cb.Booked = time.UnixMilli(ms)
	}
	for k, v := range m {
		if len(k) > 2 && k[:2] == "f:" {
			cb.Fields[k[2:]] = v
		}
	}
	return cb, nil
}

// RenewCallback extends gatewayID's ownership of a claimed callback by
// LeaseTTL; ErrCallbackGone when it no longer owns it.
func (s *Store) RenewCallback(ctx context.Context, id, gatewayID string) error {
	v, err := s.run(ctx, scriptCallback, "renew", id, gatewayID, s.opts.LeaseTTL.Milliseconds())
	if err != nil {
		return s.fail(ctx, "renew callback", err)
	}
	if n, _ := v.(int64); n != 1 {
		return fmt.Errorf("renew callback %s: %w", id, ErrCallbackGone)
	}
	return nil
}

// RequeueCallback puts a claimed callback back at the head of its queue:
// the agent did not take it, so the next agent gets it, the caller's try
// not counted.
func (s *Store) RequeueCallback(ctx context.Context, id, gatewayID string) error {
	v, err := s.run(ctx, scriptCallback, "requeue", id, gatewayID)
	if err != nil {
		return s.fail(ctx, "requeue callback", err)
	}
	if n, _ := v.(int64); n != 1 {
		return fmt.Errorf("requeue callback %s: %w", id, ErrCallbackGone)
	}
	return nil
}

// RetryCallback counts an unanswered call to the caller. Under maxTries
// the callback waits delay out of the queue, then goes back to its head;
// at maxTries it is deleted and abandoned is true.
func (s *Store) RetryCallback(ctx context.Context, id, gatewayID string, delay time.Duration, maxTries int) (tries int, abandoned bool, err error) {
	v, err := s.run(ctx, scriptCallback, "retry", id, gatewayID, delay.Milliseconds(), maxTries)
	if err != nil {
		return 0, false, s.fail(ctx, "retry callback", err)
	}
	r, _ := v.([]any)
	if len(r) != 2 {
		return 0, false, fmt.Errorf("retry callback: unexpected reply %v", v)
	}
	n, _ := r[1].(int64)
	switch r[0] {
	case "retry":
		return int(n), false, nil
	case "abandoned":
		return int(n), true, nil
	}
	return 0, false, fmt.Errorf("retry callback %s: %w", id, ErrCallbackGone)
}

// FinishCallback deletes a callback (the caller was reached). Idempotent.
func (s *Store) FinishCallback(ctx context.Context, id string) error {
	if _, err := s.run(ctx, scriptCallback, "finish", id); err != nil {
		return s.fail(ctx, "finish callback", err)
	}
	return nil
}

// SweepCallbacks moves callbacks on: one waiting between tries whose time
// came, or one whose owning gateway died mid-call (its ownership lapsed),
// goes back to the head of its queue. It returns the IDs of callbacks that
// expired unserved (abandoned). Every gateway runs it; it is idempotent.
func (s *Store) SweepCallbacks(ctx context.Context, max int) (expired []string, err error) {
	v, err := s.run(ctx, scriptCallback, "sweep", "", s.opts.LeaseTTL.Milliseconds(), max)
	if err != nil {
		return nil, s.fail(ctx, "sweep callbacks", err)
	}
	r, _ := v.([]any)
	for _, x := range r {
		if id, ok := x.(string); ok {
			expired = append(expired, id)
		}
	}
	return expired, nil
}
