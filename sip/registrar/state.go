package registrar

import (
	"net/netip"
	"sync"
	"time"
)

// ncTracker remembers the highest nonce-count seen per nonce, so a captured
// REGISTER cannot be replayed (RFC 7616 §3.3: the server "SHOULD" check nc
// to detect replays; RFC 2617 §3.2.2). Memory is bounded: entries leave when
// their nonce expires, and when the map is full the oldest nonces are dropped
// and everything issued up to them is refused from then on (floor), so
// eviction can never reopen a replay window; it only makes some clients
// fetch a fresh nonce (401 stale=true).
type ncTracker struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	seen  map[string]ncEntry
	floor int64 // nonces issued at or before this (unix nanos) are refused
}

type ncEntry struct {
	nc     uint64
	issued int64
}

func newNCTracker(max int, ttl time.Duration) *ncTracker {
	return &ncTracker{max: max, ttl: ttl, seen: make(map[string]ncEntry)}
}

// use records nc for nonce and reports whether it is fresh: strictly greater
// than any count seen before for that nonce.
func (t *ncTracker) use(nonce string, issued time.Time, nc uint64, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	iss := issued.UnixNano()
	if iss <= t.floor {
		return false
	}
	if e, ok := t.seen[nonce]; ok {
		if nc <= e.nc {
			return false
		}
		t.seen[nonce] = ncEntry{nc: nc, issued: iss}
		return true
	}
	if len(t.seen) >= t.max {
		t.evict(now)
		if iss <= t.floor {
			return false
		}
	}
	t.seen[nonce] = ncEntry{nc: nc, issued: iss}
	return true
}

func (t *ncTracker) evict(now time.Time) {
	expired := now.Add(-t.ttl).UnixNano()
	for k, e := range t.seen {
		if e.issued < expired {
			delete(t.seen, k)
		}
	}
	if len(t.seen) < t.max {
		return
	}
	oldest := int64(0)
	first := true
	for _, e := range t.seen {
		if first || e.issued < oldest {
			oldest, first = e.issued, false
		}
	}
	t.floor = max(t.floor, oldest)
	for k, e := range t.seen {
		if e.issued <= t.floor {
			delete(t.seen, k)
		}
	}
}

func (t *ncTracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen)
}

// limiter counts failed digest responses per source and answers with a
// growing delay, then refuses the source for a while (issue 3: "repeated
// wrong passwords from one source are slowed and then refused"). IPv6
// sources are grouped by /64, since one host usually holds a whole /64.
// Memory is bounded by max sources.
type limiter struct {
	mu          sync.Mutex
	max         int
	maxFailures int
	window      time.Duration
	lockout     time.Duration
	baseDelay   time.Duration
	maxDelay    time.Duration
	src         map[netip.Prefix]*failState
}

type failState struct {
	count       int
	windowStart time.Time
	lockedUntil time.Time
}

func sourceKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	if err != nil { // invalid address: all such requests share one bucket
		return netip.Prefix{}
	}
	return p
}

// locked reports whether src is refused at now, and for how long still.
func (l *limiter) locked(src netip.Addr, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.src[sourceKey(src)]
	if !ok || !now.Before(st.lockedUntil) {
		return 0, false
	}
	return st.lockedUntil.Sub(now), true
}

// fail records one failed response from src. It returns how long to hold
// the answer back, or locked=true once src has failed maxFailures times
// within window.
func (l *limiter) fail(src netip.Addr, now time.Time) (delay time.Duration, locked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := sourceKey(src)
	st, ok := l.src[k]
	if !ok {
		if len(l.src) >= l.max {
			l.evict(now)
		}
		st = &failState{windowStart: now}
		l.src[k] = st
	}
	if now.Sub(st.windowStart) > l.window {
		st.count, st.windowStart = 0, now
	}
	st.count++
	if st.count >= l.maxFailures {
		st.count, st.windowStart = 0, now
		st.lockedUntil = now.Add(l.lockout)
		return 0, true
	}
	// Exponential: base, 2×base, 4×base ... capped.
	delay = l.baseDelay << (st.count - 1)
	if delay > l.maxDelay || delay <= 0 {
		delay = l.maxDelay
	}
	return delay, false
}

// evict makes room: first sources whose window and lock are both over; if
// none, the unlocked source with the oldest window; if all are locked, the
// one whose lock ends first.
func (l *limiter) evict(now time.Time) {
	for k, st := range l.src {
		if now.Sub(st.windowStart) > l.window && !now.Before(st.lockedUntil) {
			delete(l.src, k)
		}
	}
	if len(l.src) < l.max {
		return
	}
	evictOne(l.src, now, func(st *failState) (time.Time, time.Time) { return st.lockedUntil, st.windowStart })
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.src)
}
