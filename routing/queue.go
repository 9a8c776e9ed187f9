package routing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// MaxPriority is the highest Enqueue priority; 0 is the normal one.
const MaxPriority = 99

// handleTimes is how many recent handle times EstimatedWait averages.
const handleTimes = 50

// Enqueue puts callID into queue, ahead of every lower priority and behind
// everyone of its priority already waiting, and returns its 1-based
// position. Enqueueing again keeps the original place. The call stays queued
// only while its gateway heartbeats it (Position, Heartbeat, ClaimForQueue or
// WaitForAgent, at least every QueueTTL): a dead gateway's callers drop out.
func (s *Store) Enqueue(ctx context.Context, queue, callID string, priority int, gatewayID string) (int, error) {
	if err := checkName("queue", queue); err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	if err := checkClaimArgs("", callID, gatewayID); err != nil {
		return 0, fmt.Errorf("enqueue: %w", err)
	}
	if priority < 0 || priority > MaxPriority {
		return 0, fmt.Errorf("enqueue: priority %d: %w", priority, ErrInvalid)
	}
	return s.queueOp(ctx, "enqueue", queue, callID, priority, gatewayID, s.opts.QueueTTL.Milliseconds())
}

// Position returns callID's 1-based place among the live callers of queue,
// or ErrNotQueued. It also counts as the call's heartbeat.
func (s *Store) Position(ctx context.Context, queue, callID string) (int, error) {
	if err := checkName("queue", queue); err != nil {
		return 0, fmt.Errorf("position: %w", err)
	}
	return s.queueOp(ctx, "position", queue, callID, s.opts.QueueTTL.Milliseconds())
}

// Heartbeat keeps callID queued for another QueueTTL (same as Position).
func (s *Store) Heartbeat(ctx context.Context, queue, callID string) error {
	_, err := s.Position(ctx, queue, callID)
	return err
}

// Leave takes callID out of queue (hang-up, key press, maximum wait). It is
// idempotent and wakes the callers behind it.
func (s *Store) Leave(ctx context.Context, queue, callID string) error {
	if err := checkName("queue", queue); err != nil {
		return fmt.Errorf("leave: %w", err)
	}
	_, err := s.queueOp(ctx, "leave", queue, callID)
	return err
}

func (s *Store) queueOp(ctx context.Context, op, queue, callID string, args ...any) (int, error) {
	v, err := s.run(ctx, scriptQueue, append([]any{op, queue, callID}, args...)...)
	if err != nil {
		return 0, s.fail(ctx, op+" "+queue, err)
	}
	n, _ := v.(int64)
	if n < 0 {
		return 0, fmt.Errorf("%s %s call %s: %w", op, queue, callID, ErrNotQueued)
	}
	return int(n), nil
}

// ClaimForQueue claims an agent for callID only if it is the head of queue
// (among live callers), and then removes it from the queue in the same
// atomic step. Otherwise it returns ErrNotHead, ErrNoAgent (the head waits on)
// or ErrNotQueued. It refreshes the call's heartbeat.
func (s *Store) ClaimForQueue(ctx context.Context, queue, skill, callID, gatewayID string) (Claim, error) {
	if err := checkName("queue", queue); err != nil {
		return Claim{}, fmt.Errorf("claim for queue: %w", err)
	}
	return s.claim(ctx, queue, skill, callID, gatewayID, "")
}

// WaitForAgent waits in queue until callID is at the head and an agent with
// skill is free, and returns the claim. It tries again at once on every
// event (an agent came free, a caller left) and at least every PollInterval,
// which also keeps the call's heartbeat. It leaves the queue when ctx ends.
// Errors other than waiting ones (ErrUnavailable, ErrNotQueued) are returned;
// the call is left queued so that the caller may retry while its heartbeat lasts.
func (s *Store) WaitForAgent(ctx context.Context, queue, skill, callID, gatewayID string) (Claim, error) {
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	wake := s.Subscribe(subCtx)
	poll := time.NewTicker(s.opts.PollInterval)
	defer poll.Stop()
	for {
		c, err := s.ClaimForQueue(ctx, queue, skill, callID, gatewayID)
		switch {
		case err == nil:
			return c, nil
		case errors.Is(err, ErrNoAgent), errors.Is(err, ErrNotHead):
		case ctx.Err() != nil:
		default:
			return Claim{}, err
		}
		select {
		case <-ctx.Done():
			lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.OpTimeout)
			if lerr := s.Leave(lctx, queue, callID); lerr != nil {
				s.log.Warn("leave queue", "queue", queue, "call_id", callID, "err", lerr)
			}
			lcancel()
			return Claim{}, fmt.Errorf("wait for agent: %w", context.Cause(ctx))
		case <-wake:
		case <-poll.C:
		}
	}
}

// RecordHandleTime remembers how long an agent of queue spent on a call,
// keeping the last 50 for EstimatedWait.
func (s *Store) RecordHandleTime(ctx context.Context, queue string, d time.Duration) error {
	if err := checkName("queue", queue); err != nil {
		return fmt.Errorf("record handle time: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	key := s.prefix + "ht:" + queue
	pipe := s.rdb.TxPipeline()
	pipe.LPush(ctx, key, d.Milliseconds())
	pipe.LTrim(ctx, key, 0, handleTimes-1)
	if _, err := pipe.Exec(ctx); err != nil {
		return s.fail(ctx, "record handle time "+queue, err)
	}
	return nil
}

// EstimatedWait estimates how long the caller at position waits for an agent
// with skill: the mean of recent handle times (DefaultHandleTime without
// history) times position, shared among the agents on duty (available,
// ringing, on_call or wrap_up). A rough figure meant for an announcement.
// ErrNoAgent means nobody with the skill is on duty.
func (s *Store) EstimatedWait(ctx context.Context, queue, skill string, position int) (time.Duration, error) {
	if err := checkName("queue", queue); err != nil {
		return 0, fmt.Errorf("estimated wait: %w", err)
	}
	if skill != "" {
		if err := checkName("skill", skill); err != nil {
			return 0, fmt.Errorf("estimated wait: %w", err)
		}
	}
	v, err := s.run(ctx, scriptOnDuty, skill)
	if err != nil {
		return 0, s.fail(ctx, "estimated wait "+queue, err)
	}
	onDuty, _ := v.(int64)
	if onDuty == 0 {
		return 0, fmt.Errorf("estimated wait %s skill %q: %w", queue, skill, ErrNoAgent)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	list, err := s.rdb.LRange(ctx, s.prefix+"ht:"+queue, 0, handleTimes-1).Result()
	if err != nil {
		return 0, s.fail(ctx, "estimated wait "+queue, err)
	}
	mean := s.opts.DefaultHandleTime
	if len(list) > 0 {
		var sum int64
		for _, x := range list {
			ms, _ := strconv.ParseInt(x, 10, 64)
			sum += ms
		}
		mean = time.Duration(sum/int64(len(list))) * time.Millisecond
	}
	return estimateWait(mean, position, int(onDuty)), nil
}

// estimateWait is the expected wait of the caller at position (1 = next)
// when onDuty agents are all busy and calls take mean on average: each
// agent frees up at rate 1/mean, so the queue moves at onDuty/mean, and
// the caller at position p waits for the p-th of those. For exponential
// handle times that is exact in expectation (routing/estimate_test.go
// checks it against a simulated queue); for steadier ones it errs on the
// long side, which is the side to err on when telling a caller.
func estimateWait(mean time.Duration, position, onDuty int) time.Duration {
	return mean * time.Duration(max(position, 1)) / time.Duration(max(onDuty, 1))
}
