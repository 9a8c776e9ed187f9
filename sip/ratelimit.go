package sip

import (
	"container/list"
	"math"
	"net/netip"
	"sync"
	"time"
)

// RateLimit is a token bucket: Rate requests a second on average, Burst at
// once. A negative Rate turns the limit off; the zero RateLimit takes the
// default.
type RateLimit struct {
	Rate  float64
	Burst int
}

// Limits bounds what one source address (an IPv4 address, an IPv6 /64) may
// ask of the server. The zero value of a field takes its default
// (DefaultLimits); a negative MaxPending turns that cap off.
type Limits struct {
	Invite   RateLimit // INVITE, initial and re-INVITE
	Register RateLimit // REGISTER (only when a registrar is wired with Handle)
	Options  RateLimit // OPTIONS

	// MaxPending bounds a source's calls between INVITE and ACK: early ones
	// and those whose 200 waits for its ACK. Each holds an RTP port, so
	// one source that never ACKs cannot take them all (issue 6).
	MaxPending int

	// MaxSources bounds the table of buckets; the least recently seen
	// source is forgotten first. Spoofed UDP sources cost one entry each.
	MaxSources int
}

// DefaultLimits are generous for a phone or a small trunk, and stop a
// single flooding host: INVITE 20/s burst 40, REGISTER 5/s burst 10,
// OPTIONS 10/s burst 20, 16 pending calls, 65,536 sources.
func DefaultLimits() Limits {
	return Limits{
		Invite:     RateLimit{Rate: 20, Burst: 40},
		Register:   RateLimit{Rate: 5, Burst: 10},
		Options:    RateLimit{Rate: 10, Burst: 20},
		MaxPending: 16,
		MaxSources: 1 << 16,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, p := range []struct{ got, def *RateLimit }{{&l.Invite, &d.Invite}, {&l.Register, &d.Register}, {&l.Options, &d.Options}} {
		if p.got.Rate == 0 && p.got.Burst == 0 {
			*p.got = *p.def
		}
		if p.got.Burst < 1 {
			p.got.Burst = 1
		}
	}
	if l.MaxPending == 0 {
		l.MaxPending = d.MaxPending
	}
	if l.MaxSources <= 0 {
		l.MaxSources = d.MaxSources
	}
	return l
}

// MethodCounts counts requests per rate-limited method.
type MethodCounts struct {
	Invite, Register, Options uint64
}

// Stats are the counters of the server's request guards, for metrics.
type Stats struct {
	Limited        MethodCounts // answered 503 + Retry-After by the rate limit
	Dropped        MethodCounts // dropped silently: far over the rate limit
	PendingRefused uint64       // INVITEs answered 503: too many calls awaiting ACK from the source
	Forbidden      uint64       // INVITEs answered 403: source outside -sip-allow
	NamesRefused   uint64       // host names we were asked to resolve, refused (dns.go)
	Sources        int          // sources in the rate-limit table now
}

// verdict is what the rate limit says about one request.
type verdict uint8

const (
	pass    verdict = iota
	limited         // 503 with Retry-After
	drop            // no answer at all
)

// limitClass is a rate-limited method.
type limitClass uint8

const (
	classInvite limitClass = iota
	classRegister
	classOptions
	numClasses
)

func classOf(method string) (limitClass, bool) {
	switch method {
	case "INVITE":
		return classInvite, true
	case "REGISTER":
		return classRegister, true
	case "OPTIONS":
		return classOptions, true
	}
	return 0, false
}

// rateTable holds one token bucket per source and method class, the least
// recently seen source evicted first when full. Forgetting a source only
// gives it a full bucket again, so eviction never blocks anyone.
type rateTable struct {
	limits [numClasses]RateLimit
	max    int
	now    func() time.Time

	mu  sync.Mutex
	lru *list.List // of *rateEntry, most recent at the front
	m   map[netip.Prefix]*list.Element
}

type rateEntry struct {
	key netip.Prefix
	b   [numClasses]bucket
}

type bucket struct {
	tokens   float64
	last     time.Time
	winStart time.Time // the second in which over counts refusals
	over     int
}

func newRateTable(l Limits, now func() time.Time) *rateTable {
	if now == nil {
		now = time.Now
	}
	return &rateTable{
		limits: [numClasses]RateLimit{l.Invite, l.Register, l.Options},
		max:    l.MaxSources, now: now,
		lru: list.New(), m: make(map[netip.Prefix]*list.Element),
	}
}

// sourceKey groups IPv6 sources by /64 (one host usually holds a whole
// /64), IPv4 ones by address.
func sourceKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{} // no valid address: all share one bucket
	}
	return p
}

// check takes a token for one request of class c from src. Over the limit
// the first Burst refusals within a second are answered (503, retry after
// the returned wait); beyond those the source is flooding and is dropped
// silently, so a flood costs us no answers.
func (t *rateTable) check(c limitClass, src netip.Addr) (verdict, time.Duration) {
	lim := t.limits[c]
	if lim.Rate <= 0 {
		return pass, 0
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entry(sourceKey(src))
	b := &e.b[c]
	burst := float64(lim.Burst)
	if b.last.IsZero() {
		b.tokens = burst
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = math.Min(burst, b.tokens+dt*lim.Rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return pass, 0
	}
	if now.Sub(b.winStart) >= time.Second {
		b.winStart, b.over = now, 0
	}
	b.over++
	if b.over > lim.Burst {
		return drop, 0
	}
	wait := time.Duration(math.Ceil((1-b.tokens)/lim.Rate)) * time.Second
	return limited, max(wait, time.Second)
}

// entry finds or makes the entry for key and marks it recently used; t.mu
// is held.
func (t *rateTable) entry(key netip.Prefix) *rateEntry {
	if el, ok := t.m[key]; ok {
		t.lru.MoveToFront(el)
		return el.Value.(*rateEntry)
	}
	for t.lru.Len() >= t.max {
		old := t.lru.Back()
		t.lru.Remove(old)
		delete(t.m, old.Value.(*rateEntry).key)
	}
	e := &rateEntry{key: key}
	t.m[key] = t.lru.PushFront(e)
	return e
}

func (t *rateTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}

// pendingTable counts each source's calls between INVITE and ACK. Entries
// exist only while a source has such calls, so it is bounded by the calls
// themselves.
type pendingTable struct {
	max int // <= 0: no cap

	mu sync.Mutex
	n  map[netip.Prefix]int
}

// acquire counts one more pending call for src, or reports false when the
// source is at its cap.
func (p *pendingTable) acquire(src netip.Addr) bool {
	k := sourceKey(src)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.max > 0 && p.n[k] >= p.max {
		return false
	}
	if p.n == nil {
		p.n = make(map[netip.Prefix]int)
	}
	p.n[k]++
	return true
}

func (p *pendingTable) release(src netip.Addr) {
	k := sourceKey(src)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[k] <= 1 {
		delete(p.n, k)
		return
	}
	p.n[k]--
}

func (p *pendingTable) count(src netip.Addr) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[sourceKey(src)]
}
