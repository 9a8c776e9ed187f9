package routing

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claim is one reservation of an agent for one call. Token tells this claim
// apart from any later claim of the same agent, even by the same call, so a
// late Release or Renew never touches somebody else's reservation.
type Claim struct {
	Ext       string
	Token     string
	CallID    string
	GatewayID string
	Binding   Binding // where to send the INVITE
}

// Outcome is how a claim ended.
type Outcome int

// Outcomes of a claim, each with its effect on the agent.
const (
	// Completed: answered and finished. Misses reset; wrap_up for WrapUp, then available.
	Completed Outcome = iota + 1
	// Missed: ring-no-answer. Misses+1; paused ("missed_calls") at MaxMisses,
	// else available at the BACK of the idle order, so the caller's next claim
	// reaches someone else first.
	Missed
	// Declined: 486 Busy Here / 603 Decline. Available at the back of the idle order.
	Declined
	// Failed: the agent's leg could not be set up. Available at the back of the idle order.
	Failed
	// Abandoned: the caller hung up while the agent's phone rang. Available
	// at once, keeping its place in the idle order.
	Abandoned
)

var outcomeNames = map[Outcome]string{
	Completed: "completed", Missed: "missed", Declined: "declined", Failed: "failed", Abandoned: "abandoned",
}

func (o Outcome) String() string {
	if n, ok := outcomeNames[o]; ok {
		return n
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Claim reserves the available agent with skill ("" = any) that has been
// idle the longest, moving it to ringing for callID under a lease of
// LeaseTTL. Agents whose registration lapsed are dropped, never offered.
// It returns ErrNoAgent when nobody is free.
func (s *Store) Claim(ctx context.Context, skill, callID, gatewayID string) (Claim, error) {
	return s.claim(ctx, "", skill, callID, gatewayID, "")
}

func (s *Store) claim(ctx context.Context, queue, skill, callID, gatewayID, prefer string) (Claim, error) {
	op := "claim agent"
	if err := checkClaimArgs(skill, callID, gatewayID); err != nil {
		return Claim{}, fmt.Errorf("%s: %w", op, err)
	}
	v, err := s.run(ctx, scriptClaim, skill, callID, gatewayID, s.opts.LeaseTTL.Milliseconds(),
		queue, s.opts.QueueTTL.Milliseconds(), prefer)
	if err != nil {
		return Claim{}, s.fail(ctx, op, err)
	}
	r, ok := v.([]any)
	if !ok || len(r) == 0 {
		return Claim{}, fmt.Errorf("%s: unexpected reply %v", op, v)
	}
	switch r[0] {
	case "none":
		return Claim{}, fmt.Errorf("%s skill %q: %w", op, skill, ErrNoAgent)
	case "nothead":
		return Claim{}, fmt.Errorf("%s queue %s: %w", op, queue, ErrNotHead)
	case "notqueued":
		return Claim{}, fmt.Errorf("%s queue %s: %w", op, queue, ErrNotQueued)
	case "ok":
	default:
		return Claim{}, fmt.Errorf("%s: unexpected reply %v", op, r[0])
	}
	if len(r) != 7 {
		return Claim{}, fmt.Errorf("%s: unexpected reply %v", op, r)
	}
	str := func(i int) string { x, _ := r[i].(string); return x }
	c := Claim{Ext: str(1), Token: str(2), CallID: callID, GatewayID: gatewayID}
	c.Binding, err = parseBinding(str(3), str(4), str(5), str(6))
	if err != nil {
		// Never call out to a contact we cannot trust: give the agent back,
		// paused, so it is not offered again until it registers afresh.
		bg := context.WithoutCancel(ctx)
		if rerr := s.Release(bg, c, Failed); rerr != nil {
			s.log.Warn("release after bad binding", "ext", c.Ext, "err", rerr)
		} else if perr := s.Pause(bg, c.Ext, "bad_binding"); perr != nil {
			s.log.Warn("pause after bad binding", "ext", c.Ext, "err", perr)
		}
		return Claim{}, fmt.Errorf("%s %s: %w", op, c.Ext, err)
	}
	s.log.Debug("agent claimed", "ext", c.Ext, "call_id", callID, "skill", skill, "preferred", prefer != "" && c.Ext == prefer)
	return c, nil
}

func checkClaimArgs(skill, callID, gatewayID string) error {
	if skill != "" {
		if err := checkName("skill", skill); err != nil {
			return err
		}
	}
	if err := checkValue("call id", callID); err != nil {
		return err
	}
	return checkValue("gateway id", gatewayID)
}

// Renew extends the claim's lease by LeaseTTL. Call it every few seconds
// (well inside LeaseTTL) while the call lives. ErrLeaseLost means the lease
// expired or the agent was given to another claim: the agent may be offered
// other calls now. When the store has lost the agent altogether (emptied by
// a restart without persistence) the renewal puts the claim back, on_call.
func (s *Store) Renew(ctx context.Context, c Claim) error {
	return s.lease(ctx, "renew lease", "renew", c)
}

// RenewAll renews many leases in one round trip (a pipeline of the same
// script Renew runs): a gateway renews the leases of all its calls at once
// rather than one timer and one request per call. errs[i] is claims[i]'s
// result, as Renew would return it.
func (s *Store) RenewAll(ctx context.Context, claims []Claim) (errs []error) {
	errs = make([]error, len(claims))
	if len(claims) == 0 {
		return errs
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	args := func(c Claim) []any {
		return []any{s.prefix, c.Ext, c.Token, s.opts.LeaseTTL.Milliseconds(), "renew", c.CallID, c.GatewayID}
	}
	run := func(idx []int, eval bool) []*redis.Cmd {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(idx))
		for j, i := range idx {
			if eval {
				cmds[j] = scriptLease.Eval(ctx, pipe, s.anchor, args(claims[i])...)
			} else {
				cmds[j] = scriptLease.EvalSha(ctx, pipe, s.anchor, args(claims[i])...)
			}
		}
		_, _ = pipe.Exec(ctx) // each command keeps its own error
		return cmds
	}
	all := make([]int, len(claims))
	for i := range all {
		all[i] = i
	}
	cmds := run(all, false)
	var missing []int // the server does not know the script (restarted, flushed): send it
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		for j, cmd := range run(missing, true) {
			cmds[missing[j]] = cmd
		}
	}
	for i, cmd := range cmds {
		c := claims[i]
		v, err := cmd.Result()
		switch {
		case err != nil:
			errs[i] = s.fail(ctx, "renew lease "+c.Ext, err)
		case v != int64(1):
			errs[i] = fmt.Errorf("renew lease %s call %s: %w", c.Ext, c.CallID, ErrLeaseLost)
		}
	}
	return errs
}

// Answered moves the agent from ringing to on_call and renews the lease.
func (s *Store) Answered(ctx context.Context, c Claim) error {
	return s.lease(ctx, "mark answered", "answer", c)
}

func (s *Store) lease(ctx context.Context, what, mode string, c Claim) error {
	v, err := s.run(ctx, scriptLease, c.Ext, c.Token, s.opts.LeaseTTL.Milliseconds(), mode, c.CallID, c.GatewayID)
	if err != nil {
		return s.fail(ctx, what+" "+c.Ext, err)
	}
	if n, _ := v.(int64); n != 1 {
		return fmt.Errorf("%s %s call %s: %w", what, c.Ext, c.CallID, ErrLeaseLost)
	}
	return nil
}

// Release ends the claim with its outcome. It is idempotent, and a release
// whose claim is no longer the agent's current one (lease lapsed and the
// agent moved on) changes nothing.
func (s *Store) Release(ctx context.Context, c Claim, o Outcome) error {
	name, ok := outcomeNames[o]
	if !ok {
		return fmt.Errorf("release %s: outcome %v: %w", c.Ext, o, ErrInvalid)
	}
	v, err := s.run(ctx, scriptRelease, c.Ext, c.Token, name, s.opts.WrapUp.Milliseconds(), s.opts.MaxMisses)
	if err != nil {
		return s.fail(ctx, "release "+c.Ext, err)
	}
	if v == "stale" {
		s.log.Debug("stale release ignored", "ext", c.Ext, "call_id", c.CallID)
		return nil
	}
	s.log.Debug("agent released", "ext", c.Ext, "call_id", c.CallID, "outcome", name, "state", v)
	return nil
}

// SweepResult counts what one Sweep settled.
type SweepResult struct {
	WrapUps int // wrap-ups ended
	Leases  int // agents freed because their lease lapsed (a gateway died)
	Lapsed  int // available agents taken offline because their registration lapsed
}

// Sweep ends due wrap-ups, frees agents whose lease lapsed and takes agents
// with lapsed registrations offline. Every gateway runs it every second or
// so (RunSweeper); Claim does the first two lazily too, so correctness does
// not depend on it, only the promptness of "agent available" events.
func (s *Store) Sweep(ctx context.Context) (SweepResult, error) {
	v, err := s.run(ctx, scriptSweep)
	if err != nil {
		return SweepResult{}, s.fail(ctx, "sweep", err)
	}
	r, _ := v.([]any)
	n := func(i int) int {
		if i < len(r) {
			x, _ := r[i].(int64)
			return int(x)
		}
		return 0
	}
	return SweepResult{WrapUps: n(0), Leases: n(1), Lapsed: n(2)}, nil
}

// RunSweeper calls Sweep every interval until ctx ends. Errors are logged,
// not returned: Redis may come back.
func (s *Store) RunSweeper(ctx context.Context, every time.Duration) {
	var failing time.Time // when the current outage began; zero when up
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r, err := s.Sweep(ctx)
		if err != nil {
			// Once per outage, not once a second: the first failure says
			// so, and the recovery line says how long it lasted.
			if ctx.Err() == nil && failing.IsZero() {
				failing = time.Now()
				s.log.Warn("agent store unreachable; callers get the menu, not a person, until it returns", "err", err)
			}
			continue
		}
		if !failing.IsZero() {
			s.log.Info("agent store reachable again", "down_for", time.Since(failing).Round(time.Second).String())
			failing = time.Time{}
		}
		if r.Leases > 0 {
			s.log.Info("agents freed after lease expiry", "count", r.Leases)
		}
	}
}
