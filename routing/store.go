package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Errors callers branch on. Every error from Store wraps at most one of them.
var (
	// ErrNoAgent: no available agent has the skill (or none is on duty).
	ErrNoAgent = errors.New("no agent available")
	// ErrLeaseLost: the claim's lease expired or the agent now serves another claim.
	ErrLeaseLost = errors.New("lease lost")
	// ErrUnavailable: Redis cannot be reached (down, timed out, loading, failing over).
	ErrUnavailable = errors.New("routing store unavailable")
	// ErrNotHead: another live caller is ahead in the queue.
	ErrNotHead = errors.New("not at the head of the queue")
	// ErrNotQueued: the call is not in the queue (left, served, or its heartbeat lapsed).
	ErrNotQueued = errors.New("call not queued")
	// ErrNotRegistered: the agent has no live registration binding.
	ErrNotRegistered = errors.New("agent not registered")
	// ErrInvalid: a name or value is malformed.
	ErrInvalid = errors.New("invalid argument")
)

// Options tune a Store. Zero values take the defaults.
type Options struct {
	Pool              string        // hash tag of every key; default "ivr"
	LeaseTTL          time.Duration // claim lease; default 15s
	WrapUp            time.Duration // pause after a finished call; default 5s, negative = none
	MaxMisses         int           // ring-no-answer count that pauses an agent; default 3
	QueueTTL          time.Duration // waiting-call heartbeat TTL; default 10s
	PollInterval      time.Duration // WaitForAgent's fallback poll for lost events; default 1.5s
	OpTimeout         time.Duration // bound of every Redis round trip; default 1s
	DefaultHandleTime time.Duration // EstimatedWait without history; default 3m
	Logger            *slog.Logger  // default: discard
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Pool == "" {
		o.Pool = "ivr"
	}
	def(&o.LeaseTTL, 15*time.Second)
	def(&o.WrapUp, 5*time.Second)
	if o.WrapUp < 0 {
		o.WrapUp = 0
	}
	if o.MaxMisses <= 0 {
		o.MaxMisses = 3
	}
	def(&o.QueueTTL, 10*time.Second)
	def(&o.PollInterval, 1500*time.Millisecond)
	def(&o.OpTimeout, time.Second)
	def(&o.DefaultHandleTime, 3*time.Minute)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is the shared agent and queue state of one pool. It is safe for
// concurrent use; several Stores (one per gateway) may share a pool.
type Store struct {
	rdb    redis.UniversalClient
	opts   Options
	log    *slog.Logger
	prefix string   // "ivr:{pool}:"
	anchor []string // KEYS[1] of every script, see doc.go

	hubMu   sync.Mutex
	subs    map[chan struct{}]struct{}
	hubStop context.CancelFunc // nil until the first Subscribe
	hubDone chan struct{}
}

// New returns a Store over rdb. rdb should have ContextTimeoutEnabled so
// that OpTimeout bounds every call (Dial and NewEmbedded set it). New panics
// on a pool name holding braces, which would break the hash tag.
func New(rdb redis.UniversalClient, opts Options) *Store {
	opts = opts.withDefaults()
	if strings.ContainsAny(opts.Pool, "{}") {
		panic(fmt.Sprintf("routing: pool name %q must not contain braces", opts.Pool))
	}
	prefix := "ivr:{" + opts.Pool + "}:"
	return &Store{
		rdb:    rdb,
		opts:   opts,
		log:    opts.Logger,
		prefix: prefix,
		anchor: []string{prefix + "agents"},
		subs:   make(map[chan struct{}]struct{}),
	}
}

// Close stops the event listener started by Subscribe. It does not close
// the Redis client, which belongs to the caller.
func (s *Store) Close() {
	s.hubMu.Lock()
	stop, done := s.hubStop, s.hubDone
	s.hubStop = nil
	s.hubMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// Ping reports whether Redis answers within OpTimeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return s.fail(ctx, "ping", err)
	}
	return nil
}

// run executes one script in the pool's slot with OpTimeout.
func (s *Store) run(ctx context.Context, sc *redis.Script, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	return sc.Run(ctx, s.rdb, s.anchor, append([]any{s.prefix}, args...)...).Result()
}

// fail wraps err with the operation and, when the cause is Redis being out
// of reach rather than a bug, with ErrUnavailable so the gateway can tell the
// caller honestly that no person can be reached now.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func unavailable(err error) bool {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		// A server error reply is a bug in us, except these transient states.
		for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY"} {
			if strings.HasPrefix(rerr.Error(), p) {
				return true
			}
		}
		return false
	}
	return true // network errors, timeouts, pool timeout, closed client
}

// Names become parts of Redis keys and pub/sub payloads, and extensions end
// up in SIP URIs: keep them to a safe alphabet.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.+-]{1,64}$`)

func checkName(kind, v string) error {
	if !nameRE.MatchString(v) {
		return fmt.Errorf("%s %q: %w", kind, v, ErrInvalid)
	}
	return nil
}

// checkValue rejects control characters in values that later become SIP
// header values (sipgo does not validate them, see FACTS.md) or key parts.
func checkValue(kind, v string) error {
	if v == "" || len(v) > 512 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%s %q: %w", kind, v, ErrInvalid)
	}
	return nil
}

// Dial returns a client for a redis:// or rediss:// URL with timeouts short
// enough that a dead Redis turns into ErrUnavailable within about a second,
// while go-redis keeps reconnecting in the background.
func Dial(url string) (redis.UniversalClient, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{o.Addr},
		Username:              o.Username,
		Password:              o.Password,
		DB:                    o.DB,
		TLSConfig:             o.TLSConfig,
		Protocol:              o.Protocol,
		ClientName:            o.ClientName,
		DialTimeout:           time.Second,
		DialerRetries:         1,
		DialerRetryTimeout:    50 * time.Millisecond,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
		PoolTimeout:           time.Second,
	}), nil
}

// NewEmbedded starts an in-process miniredis on 127.0.0.1 and returns a client
// for it and a function that stops both. It is the default when the gateway
// is started without -redis: one instance, state lost on exit.
func NewEmbedded() (redis.UniversalClient, func(), error) {
	m := miniredis.NewMiniRedis()
	// Without ClockTTL keys never expire on their own (FACTS.md), and leases,
	// bindings and heartbeats are all TTLs.
	m.ClockTTL(true)
	if err := m.Start(); err != nil {
		return nil, nil, fmt.Errorf("start embedded redis: %w", err)
	}
	rdb, err := Dial("redis://" + m.Addr())
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return rdb, func() { _ = rdb.Close(); m.Close() }, nil
}
