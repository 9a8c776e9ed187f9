package routing

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// State is an agent's state as stored in Redis.
type State string

// Agent states (issue 3). on_call and wrap_up are spelled as stored.
const (
	Offline   State = "offline"   // no registration
	Available State = "available" // registered, idle, may be claimed
	Ringing   State = "ringing"   // reserved for one call, its phone rings
	OnCall    State = "on_call"   // answered
	WrapUp    State = "wrap_up"   // short pause after a call
	Paused    State = "paused"    // by the agent, or after MaxMisses missed calls
)

// Binding is where an agent's softphone registered from (RFC 3261 §10.3).
// Source is the address the REGISTER really came from, which is where calls
// go when the Contact is behind NAT (RFC 3261 §18.2.1 received/rport).
type Binding struct {
	Contact   string         // Contact URI as registered
	Source    netip.AddrPort // transport source of the REGISTER
	Transport string         // "udp", "tcp", "tls", "ws", ...
	Expires   time.Time      // when the registration lapses
}

func (b Binding) check() error {
	if err := checkValue("contact", b.Contact); err != nil {
		return err
	}
	if err := checkName("transport", b.Transport); err != nil {
		return err
	}
	if !b.Source.IsValid() {
		return fmt.Errorf("source %v: %w", b.Source, ErrInvalid)
	}
	return nil
}

// parseBinding reads what a script returned. The fields came from Redis, so
// they are checked again before they can reach a SIP header.
func parseBinding(contact, source, transport, expires string) (Binding, error) {
	b := Binding{Contact: contact, Transport: transport}
	var err error
	if b.Source, err = netip.ParseAddrPort(source); err != nil {
		return Binding{}, fmt.Errorf("binding source %q: %w", source, ErrInvalid)
	}
	ms, _ := strconv.ParseInt(expires, 10, 64)
	b.Expires = time.UnixMilli(ms)
	if err := b.check(); err != nil {
		return Binding{}, fmt.Errorf("binding: %w", err)
	}
	return b, nil
}

// AgentState is a snapshot of one agent.
type AgentState struct {
	Ext        string
	State      State
	Reason     string // why paused
	Skills     []string
	Registered bool // the binding key exists
	IdleSince  time.Time
	CallID     string // ringing/on_call: the call it is reserved for
	GatewayID  string
	Misses     int
	WrapUntil  time.Time
}

// SetBinding stores a registration for ttl (the granted Expires). Registering
// logs an offline agent in (available); a paused agent stays paused, and a
// refresh does not change an available agent's place in the idle order.
func (s *Store) SetBinding(ctx context.Context, ext string, b Binding, ttl time.Duration) error {
	if err := checkName("ext", ext); err != nil {
		return fmt.Errorf("set binding: %w", err)
	}
	if err := b.check(); err != nil {
		return fmt.Errorf("set binding %s: %w", ext, err)
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("set binding %s: ttl %v: %w", ext, ttl, ErrInvalid)
	}
	if b.Expires.IsZero() {
		b.Expires = time.Now().Add(ttl)
	}
	_, err := s.agentOp(ctx, "set binding", "register", ext, b.Contact, b.Source.String(),
		b.Transport, b.Expires.UnixMilli(), ttl.Milliseconds())
	return err
}

// RemoveBinding unregisters (REGISTER with Expires: 0). An available agent
// goes offline; one in a call finishes it and goes offline on release.
func (s *Store) RemoveBinding(ctx context.Context, ext string) error {
	_, err := s.agentOp(ctx, "remove binding", "unregister", ext)
	return err
}

// Pause takes an agent out of rotation with a reason. An agent in a call is
// paused when that call is released.
func (s *Store) Pause(ctx context.Context, ext, reason string) error {
	if err := checkValue("reason", reason); err != nil {
		return fmt.Errorf("pause %s: %w", ext, err)
	}
	_, err := s.agentOp(ctx, "pause", "pause", ext, reason)
	return err
}

// Resume makes a paused agent available again and clears its misses. It
// returns ErrNotRegistered when the agent has no registration to take calls on.
func (s *Store) Resume(ctx context.Context, ext string) error {
	st, err := s.agentOp(ctx, "resume", "resume", ext)
	if err != nil {
		return err
	}
	if st == Offline {
		return fmt.Errorf("resume %s: %w", ext, ErrNotRegistered)
	}
	return nil
}

// SetSkills sets an agent's skills (from the operator's agents file), moving
// an available agent between the per-skill idle sets at its current place.
func (s *Store) SetSkills(ctx context.Context, ext string, skills []string) error {
	for _, sk := range skills {
		if err := checkName("skill", sk); err != nil {
			return fmt.Errorf("set skills %s: %w", ext, err)
		}
	}
	_, err := s.agentOp(ctx, "set skills", "skills", ext, strings.Join(skills, " "))
	return err
}

// agentOp runs one agent.lua operation and returns the resulting state.
func (s *Store) agentOp(ctx context.Context, what, op, ext string, args ...any) (State, error) {
	if err := checkName("ext", ext); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	v, err := s.run(ctx, scriptAgent, append([]any{op, ext}, args...)...)
	if err != nil {
		return "", s.fail(ctx, what+" "+ext, err)
	}
	st, _ := v.(string)
	s.log.Debug("agent "+op, "ext", ext, "state", st)
	return State(st), nil
}

// Binding returns an agent's registration, or ErrNotRegistered.
func (s *Store) Binding(ctx context.Context, ext string) (Binding, error) {
	if err := checkName("ext", ext); err != nil {
		return Binding{}, fmt.Errorf("binding: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	v, err := s.rdb.HMGet(ctx, s.prefix+"binding:"+ext, "contact", "source", "transport", "expires").Result()
	if err != nil {
		return Binding{}, s.fail(ctx, "binding "+ext, err)
	}
	str := func(i int) string { x, _ := v[i].(string); return x }
	if str(0) == "" {
		return Binding{}, fmt.Errorf("binding %s: %w", ext, ErrNotRegistered)
	}
	return parseBinding(str(0), str(1), str(2), str(3))
}

// Agent returns one agent's state; an agent never seen is Offline.
func (s *Store) Agent(ctx context.Context, ext string) (AgentState, error) {
	if err := checkName("ext", ext); err != nil {
		return AgentState{}, fmt.Errorf("agent: %w", err)
	}
	as, err := s.readAgents(ctx, []string{ext})
	if err != nil {
		return AgentState{}, err
	}
	return as[0], nil
}

// Agents returns every agent of the pool, sorted by extension.
func (s *Store) Agents(ctx context.Context) ([]AgentState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	exts, err := s.rdb.SMembers(ctx, s.prefix+"agents").Result()
	if err != nil {
		return nil, s.fail(ctx, "list agents", err)
	}
	slices.Sort(exts)
	return s.readAgents(ctx, exts)
}

func (s *Store) readAgents(ctx context.Context, exts []string) ([]AgentState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	hashes := make([]*redis.MapStringStringCmd, len(exts))
	bound := make([]*redis.IntCmd, len(exts))
	// All keys share the pool's slot, so one pipeline also works in Cluster.
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, ext := range exts {
			hashes[i] = p.HGetAll(ctx, s.prefix+"agent:"+ext)
			bound[i] = p.Exists(ctx, s.prefix+"binding:"+ext)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, s.fail(ctx, "read agents", err)
	}
	out := make([]AgentState, len(exts))
	for i, ext := range exts {
		out[i] = agentFromHash(ext, hashes[i].Val(), bound[i].Val() == 1)
	}
	return out, nil
}

func agentFromHash(ext string, h map[string]string, registered bool) AgentState {
	ms := func(k string) time.Time {
		v, err := strconv.ParseInt(h[k], 10, 64)
		if err != nil || v == 0 {
			return time.Time{}
		}
		return time.UnixMilli(v)
	}
	a := AgentState{
		Ext:        ext,
		State:      State(h["state"]),
		Reason:     h["reason"],
		Skills:     strings.Fields(h["skills"]),
		Registered: registered,
		IdleSince:  ms("idle_since"),
		CallID:     h["call"],
		GatewayID:  h["gw"],
		WrapUntil:  ms("wrap_until"),
	}
	a.Misses, _ = strconv.Atoi(h["misses"])
	if a.State == "" {
		a.State = Offline
	}
	// A binding that expired by TTL is only noticed by the next claim or
	// sweep; report the truth now.
	if !registered && (a.State == Available || a.State == WrapUp) {
		a.State = Offline
	}
	return a
}
