package registrar

import (
	"net/netip"
	"sync"
	"time"
)

// accountLimiter counts failed digest responses per account (the digest
// username, known or not, so both behave alike), across all sources: the
// per-source limiter alone let an attacker rotating loopback addresses
// test a password every second (issue 6). After maxFailures within window
// the account refuses guesses for a lockout that starts at base and
// doubles with each further lockout, up to ceiling; a quiet spell of
// ceiling forgets the streak.
//
// The lockout is for guesses: a correct response from a source address
// that has registered that account before is still accepted (known), so
// an attacker cannot keep the real agent out. Memory is bounded: at most
// max accounts are tracked (locked ones evicted last), and at most
// knownPerAccount addresses per account, kept only for successful
// registrations (so only for real accounts).
type accountLimiter struct {
	mu          sync.Mutex
	max         int
	maxFailures int
	window      time.Duration
	base        time.Duration
	ceiling     time.Duration
	acct        map[string]*acctState
	known       map[string][]netip.Addr
}

type acctState struct {
	count       int
	windowStart time.Time
	lastFail    time.Time
	lockedUntil time.Time
	streak      int // lockouts so far in this streak
}

const knownPerAccount = 4

func newAccountLimiter(max, maxFailures int, window, base, ceiling time.Duration) *accountLimiter {
	return &accountLimiter{max: max, maxFailures: maxFailures, window: window, base: base, ceiling: ceiling,
		acct: make(map[string]*acctState), known: make(map[string][]netip.Addr)}
}

// locked reports whether user refuses guesses at now, and for how long.
func (a *accountLimiter) locked(user string, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.acct[user]
	if !ok || !now.Before(st.lockedUntil) {
		return 0, false
	}
	return st.lockedUntil.Sub(now), true
}

// fail records a failed response for user; it returns the lockout that
// starts now, or 0.
func (a *accountLimiter) fail(user string, now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.acct[user]
	if !ok {
		if len(a.acct) >= a.max {
			a.evict(now)
		}
		st = &acctState{windowStart: now}
		a.acct[user] = st
	}
	if now.Sub(st.lastFail) > max(a.window, a.ceiling) && !st.lastFail.IsZero() {
		st.streak = 0 // quiet long enough: start over at base
	}
	if now.Sub(st.windowStart) > a.window {
		st.count, st.windowStart = 0, now
	}
	st.lastFail = now
	st.count++
	if st.count < a.maxFailures {
		return 0
	}
	d := a.base << st.streak
	if d > a.ceiling || d <= 0 {
		d = a.ceiling
	}
	st.streak = min(st.streak+1, 62)
	st.count, st.windowStart = 0, now
	st.lockedUntil = now.Add(d)
	return d
}

// succeeded remembers src as a known source of user.
func (a *accountLimiter) succeeded(user string, src netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ks := a.known[user]
	for i, k := range ks {
		if k == src {
			copy(ks[1:i+1], ks[:i]) // move to the front
			ks[0] = src
			return
		}
	}
	if len(ks) >= knownPerAccount {
		ks = ks[:knownPerAccount-1]
	}
	a.known[user] = append([]netip.Addr{src}, ks...)
}

// isKnown reports whether src has registered user before.
func (a *accountLimiter) isKnown(user string, src netip.Addr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.known[user] {
		if k == src {
			return true
		}
	}
	return false
}

// evict makes room: accounts neither locked nor in a window first; then
// the unlocked one with the oldest failure; if all are locked, the one
// whose lock ends first. a.mu is held.
func (a *accountLimiter) evict(now time.Time) {
	for k, st := range a.acct {
		if now.Sub(st.windowStart) > a.window && !now.Before(st.lockedUntil) && now.Sub(st.lastFail) > a.ceiling {
			delete(a.acct, k)
		}
	}
	if len(a.acct) < a.max {
		return
	}
	evictOne(a.acct, now, func(st *acctState) (time.Time, time.Time) { return st.lockedUntil, st.lastFail })
}

func (a *accountLimiter) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acct)
}
