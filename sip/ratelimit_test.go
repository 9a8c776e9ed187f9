package sip

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func TestRateTable(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	l := Limits{Invite: RateLimit{Rate: 2, Burst: 4}, Register: RateLimit{Rate: 1, Burst: 1}, Options: RateLimit{Rate: -1}, MaxSources: 3}
	rt := newRateTable(l.withDefaults(), func() time.Time { return now })
	a := netip.MustParseAddr("127.0.0.2")
	var got []verdict
	for range 10 {
		v, _ := rt.check(classInvite, a)
		got = append(got, v)
	}
	want := []verdict{pass, pass, pass, pass, limited, limited, limited, limited, drop, drop}
	if len(got) != len(want) {
		t.Fatalf("check x10 = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("check(INVITE) x10 = %v, want %v", got, want)
		}
	}
	// Half a second later one token is back (2/s).
	now = now.Add(500 * time.Millisecond)
	if v, _ := rt.check(classInvite, a); v != pass {
		t.Errorf("check(INVITE) after 500ms = %v, want pass", v)
	}
	if v, wait := rt.check(classInvite, a); v != drop {
		t.Errorf("check(INVITE) again in the same second = %v (%v), want drop", v, wait)
	}
	// A new second: refusals are answered again, with Retry-After.
	now = now.Add(time.Second)
	rt.check(classInvite, a)
	rt.check(classInvite, a)
	if v, wait := rt.check(classInvite, a); v != limited || wait != time.Second {
		t.Errorf("check(INVITE) over the limit in a new second = %v, %v; want limited, 1s", v, wait)
	}
	// Methods have their own buckets; a negative rate is no limit.
	if v, _ := rt.check(classRegister, a); v != pass {
		t.Errorf("check(REGISTER) = %v, want pass (own bucket)", v)
	}
	for range 100 {
		if v, _ := rt.check(classOptions, a); v != pass {
			t.Fatalf("check(OPTIONS) with rate -1 = %v, want pass", v)
		}
	}
	// Another source is not affected; IPv6 sources share their /64.
	if v, _ := rt.check(classInvite, netip.MustParseAddr("127.0.0.3")); v != pass {
		t.Errorf("check(INVITE) from another source = %v, want pass", v)
	}
	b1, b2 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	rt.check(classRegister, b1)
	if v, _ := rt.check(classRegister, b2); v != limited {
		t.Errorf("check(REGISTER) from the same /64 = %v, want limited", v)
	}
	// Bounded: 3 sources at most, the least recently seen forgotten.
	for i := range 100 {
		rt.check(classInvite, netip.AddrFrom4([4]byte{10, 0, byte(i), 1}))
	}
	if n := rt.len(); n != 3 {
		t.Errorf("rate table holds %d sources, want 3", n)
	}
}

func TestPendingTable(t *testing.T) {
	p := pendingTable{max: 2}
	a := netip.MustParseAddr("127.0.0.2")
	if !p.acquire(a) || !p.acquire(a) {
		t.Fatal("acquire x2 = false, want true")
	}
	if p.acquire(a) {
		t.Error("acquire beyond max = true, want false")
	}
	p.release(a)
	if !p.acquire(a) {
		t.Error("acquire after release = false, want true")
	}
	p.release(a)
	p.release(a)
	if n := p.count(a); n != 0 || len(p.n) != 0 {
		t.Errorf("after releasing all: count = %d, entries = %d; want 0, 0", n, len(p.n))
	}
}

// TestAllowList: INVITEs from outside -sip-allow get 403 and are counted;
// OPTIONS are answered; allowed sources call.
func TestAllowList(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) { c.Reject(486, "Busy Here") },
		withLimits(Limits{}, netip.MustParsePrefix("127.0.0.2/32")))
	p := newPhone(t, s, false) // 127.0.0.1
	p.newDialog("denied").invite(offerSDP)
	p.expect(403, "INVITE from outside the allow-list")
	p.send(p.newDialog("opt").request("OPTIONS", "", 1, ""))
	p.expect(200, "OPTIONS from outside the allow-list")
	ok := phoneFrom(t, s, "127.0.0.2")
	ok.newDialog("allowed").invite(offerSDP)
	ok.expect(486, "INVITE from the allow-list")
	if st := s.Stats(); st.Forbidden != 1 {
		t.Errorf("Stats().Forbidden = %d, want 1", st.Forbidden)
	}
}

// TestStatsCount: the flood's refusals are counted per method.
func TestStatsCount(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) { c.Reject(486, "Busy Here") },
		withLimits(Limits{Options: RateLimit{Rate: 1, Burst: 2}}))
	p := newPhone(t, s, false)
	for i := range 10 {
		p.send(p.newDialog("st").request("OPTIONS", "", i+1, ""))
	}
	codes, _ := drainResponses(p, 500*time.Millisecond, 40)
	st := s.Stats()
	if uint64(codes[503]) != st.Limited.Options || st.Limited.Options == 0 || st.Dropped.Options == 0 {
		t.Errorf("Stats() = %+v after 10 OPTIONS at 1/s burst 2 (%d answered 503), want Limited.Options = 503s > 0 and Dropped.Options > 0", st, codes[503])
	}
	if got := uint64(codes[200]+codes[503]) + st.Dropped.Options; got != 10 {
		t.Errorf("answered + dropped = %d, want 10", got)
	}
}

// TestNoDNS: the resolver sipgo is given sends no query, and counts.
func TestNoDNS(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) {})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.noDNS().LookupIPAddr(ctx, "attacker.invalid"); err == nil {
		t.Error("LookupIPAddr(attacker.invalid) = nil error, want refused")
	}
	if n := s.Stats().NamesRefused; n == 0 {
		t.Errorf("Stats().NamesRefused = %d, want > 0", n)
	}
}

// TestMalformedFloodRateLimited: stateless 400s to unparsable datagrams
// are rate-limited like the method they claim to be.
func TestMalformedFloodRateLimited(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) {}, withLimits(Limits{Invite: RateLimit{Rate: 1, Burst: 3}}))
	p := newPhone(t, s, false)
	for i := range 20 {
		d := p.newDialog("bad")
		// An unterminated quoted display name: sipgo's parser refuses it.
		msg := replaceHeader(d.request("INVITE", "", i+1, ""), "From", "\"Alice <sip:alice@127.0.0.1>;tag=x")
		p.send(msg)
	}
	codes, _ := drainResponses(p, 500*time.Millisecond, 40)
	if codes[400] < 1 || codes[400] > 4 {
		t.Errorf("20 malformed INVITEs at 1/s burst 3: %d answered 400, want 1..4", codes[400])
	}
}
