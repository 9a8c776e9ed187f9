package registrar

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// guess sends one REGISTER for ext with a password from src, answering the
// challenge; the first answer is returned when it is not a challenge.
func (h *harness) guess(ext, pass, src string) *sip.Response {
	h.t.Helper()
	m := msg{to: ext}
	res := h.send(h.build(m), src)
	if res.StatusCode != 401 {
		return res
	}
	m.auth = authz(pick(h.t, res, "MD5"), "MD5", "MD5", ext, pass, "00000001")
	return h.send(h.build(m), src)
}

// TestAccountGuessesBounded: an attacker rotating through many source
// addresses (each under the per-source lockout) gets at most 30 password
// guesses tested per minute against one account (issue 6: 7 rotating
// loopback addresses cracked a demo password in 25 guesses).
func TestAccountGuessesBounded(t *testing.T) {
	h := newHarness(t)
	const perMinute = 30
	tested, refused := 0, 0
	end := h.now.Add(time.Minute)
	for i := 0; h.now.Before(end); i++ {
		src := fmt.Sprintf("127.0.0.%d:5062", 10+i%50)
		switch res := h.guess("2001", fmt.Sprintf("guess%d", i), src); res.StatusCode {
		case 401:
			tested++
		case 403:
			refused++
		default:
			t.Fatalf("guess %d = %d, want 401 or 403", i, res.StatusCode)
		}
		h.now = h.now.Add(200 * time.Millisecond)
	}
	if tested > perMinute {
		t.Errorf("wrong guesses answered 401 within a minute from 50 rotating sources = %d, want <= %d", tested, perMinute)
	}
	if refused == 0 {
		t.Errorf("no guess refused, want the account locked for guesses")
	}
	// During the lockout even the right password from a new source is
	// refused, so a lucky guess learns nothing.
	h.r.lockAccountNow(t, "2001", h.now)
	if res := h.guess("2001", "pw2001", "127.0.0.99:5062"); res.StatusCode != 403 || res.GetHeader("Retry-After") == nil {
		t.Errorf("right password from a new source during the lockout = %d (Retry-After %v), want 403 with Retry-After", res.StatusCode, res.GetHeader("Retry-After"))
	}
}

// lockAccountNow fails ext until it is locked at now.
func (r *Registrar) lockAccountNow(t *testing.T, ext string, now time.Time) {
	t.Helper()
	for range 2 * r.cfg.AccountFailures {
		if _, locked := r.acct.locked(ext, now); locked {
			return
		}
		r.acct.fail(ext, now)
	}
	if _, locked := r.acct.locked(ext, now); !locked {
		t.Fatalf("account %s not locked after %d failures", ext, 2*r.cfg.AccountFailures)
	}
}

// TestAccountLockoutSparesKnownSource: the real agent, from the address it
// registered from before, registers while an attacker keeps its account
// locked; the lockout backs off exponentially to a cap.
func TestAccountLockoutSparesKnownSource(t *testing.T) {
	h := newHarness(t)
	const agent = "127.0.0.5:5062"
	if res := h.login(msg{to: "2001"}, "MD5", "2001", "pw2001", agent); res.StatusCode != 200 {
		t.Fatalf("first register = %d, want 200", res.StatusCode)
	}
	for i := range 5 {
		h.guess("2001", "wrong", fmt.Sprintf("127.0.0.%d:5062", 20+i))
	}
	if res := h.guess("2001", "wrong", "127.0.0.30:5062"); res.StatusCode != 403 {
		t.Fatalf("guess after 5 failures from 5 sources = %d, want 403 (account locked)", res.StatusCode)
	}
	// Same IP, another port (NAT rebinding): still the known source. (Nonces
	// are a function of time and address: a moment later, a fresh one.)
	h.now = h.now.Add(100 * time.Millisecond)
	if res := h.guess("2001", "pw2001", "127.0.0.5:6000"); res.StatusCode != 200 {
		t.Errorf("real agent from its known source during the lockout = %d, want 200", res.StatusCode)
	}
	if res := h.guess("2001", "pw2001", "127.0.0.31:5062"); res.StatusCode != 403 {
		t.Errorf("right password from an unknown source during the lockout = %d, want 403", res.StatusCode)
	}
	// Other accounts are not affected.
	if res := h.guess("2002", "pw2002", "127.0.0.32:5062"); res.StatusCode != 200 {
		t.Errorf("another account during the lockout = %d, want 200", res.StatusCode)
	}
	// Backoff: 1 s, then 2 s, 4 s ... up to the cap.
	var locks []time.Duration
	h.now = h.now.Add(-100 * time.Millisecond) // back to when the lock began
	for range 12 {
		left, locked := h.r.acct.locked("2001", h.now)
		if !locked {
			t.Fatal("account not locked")
		}
		locks = append(locks, left)
		h.now = h.now.Add(left)
		for range 5 {
			h.r.acct.fail("2001", h.now)
		}
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second, 300 * time.Second, 300 * time.Second, 300 * time.Second}
	if fmt.Sprint(locks) != fmt.Sprint(want) {
		t.Errorf("lockouts = %v, want %v", locks, want)
	}
}

// TestAccountTableBounded: guesses at many made-up users keep the table
// bounded, and a locked account is evicted last.
func TestAccountTableBounded(t *testing.T) {
	a := newAccountLimiter(8, 5, time.Minute, time.Second, 5*time.Minute)
	for range 5 {
		a.fail("2001", t0)
	}
	for i := range 100 {
		a.fail(fmt.Sprintf("u%d", i), t0)
	}
	if n := a.len(); n > 8 {
		t.Errorf("account table size = %d, want <= 8", n)
	}
	if _, locked := a.locked("2001", t0); !locked {
		t.Error("locked(2001) = false after eviction pressure, want true")
	}
}
