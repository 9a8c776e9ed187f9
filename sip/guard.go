package sip

import (
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// guard holds the server's defences against one source asking too much:
// per-source rate limits (ratelimit.go), the cap on calls awaiting ACK, the
// callers' allow-list, and their counters. It sits in front of every
// handler (wrap) and of call set-up (onInvite).
type guard struct {
	rates   *rateTable
	pending pendingTable
	allow   []netip.Prefix // empty: every source may call

	limited, dropped [numClasses]atomic.Uint64
	pendingRefused   atomic.Uint64
	forbidden        atomic.Uint64
	namesRefused     atomic.Uint64
}

func newGuard(l Limits, allow []netip.Prefix) *guard {
	l = l.withDefaults()
	return &guard{rates: newRateTable(l, nil), pending: pendingTable{max: l.MaxPending}, allow: allow}
}

// Stats returns the guards' counters since the server started.
func (s *Server) Stats() Stats {
	g := s.guard
	return Stats{
		Limited:        MethodCounts{g.limited[classInvite].Load(), g.limited[classRegister].Load(), g.limited[classOptions].Load()},
		Dropped:        MethodCounts{g.dropped[classInvite].Load(), g.dropped[classRegister].Load(), g.dropped[classOptions].Load()},
		PendingRefused: g.pendingRefused.Load(),
		Forbidden:      g.forbidden.Load(),
		NamesRefused:   g.namesRefused.Load(),
		Sources:        g.rates.len(),
	}
}

// admit runs before validation for every request; false means it has been
// answered (503, 403) or dropped, and the handler must not run.
func (s *Server) admit(req *sip.Request, tx sip.ServerTransaction) bool {
	g := s.guard
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return true // only tests build requests without a source
	}
	addr := src.Addr().Unmap()
	if c, ok := classOf(string(req.Method)); ok {
		switch v, wait := g.rates.check(c, addr); v {
		case limited:
			g.limited[c].Add(1)
			s.badLog.log(s.log, "sip source over rate limit", "source", addr.String(), "method", string(req.Method))
			s.respond(req, tx, 503, "Service Unavailable", retryAfter(wait))
			return false
		case drop:
			g.dropped[c].Add(1)
			return false
		}
	}
	// The allow-list is for callers: an initial INVITE. Requests inside a
	// dialog (an agent's re-INVITE or BYE) and REGISTER (digest auth
	// decides) pass.
	if req.IsInvite() && req.To() != nil && toTag(req) == "" && !g.allowed(addr) {
		g.forbidden.Add(1)
		s.badLog.log(s.log, "sip caller not in allow-list", "source", addr.String())
		s.respond(req, tx, 403, "Forbidden")
		return false
	}
	return true
}

// rawAnswerAllowed rate-limits the stateless 400s to unparsable datagrams
// (malformed.go) in the bucket of their method, OPTIONS' for any other:
// a flood of garbage must not be reflected at the rate it arrives.
func (g *guard) rawAnswerAllowed(data []byte, src netip.Addr) bool {
	method, _, _ := strings.Cut(string(data[:min(len(data), 32)]), " ")
	c, ok := classOf(strings.ToUpper(method))
	if !ok {
		c = classOptions
	}
	if v, _ := g.rates.check(c, src.Unmap()); v != pass {
		g.dropped[c].Add(1)
		return false
	}
	return true
}

func (g *guard) allowed(a netip.Addr) bool {
	if len(g.allow) == 0 {
		return true
	}
	for _, p := range g.allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func retryAfter(d time.Duration) sip.Header {
	secs := max(int64((d+time.Second-1)/time.Second), 1)
	return sip.NewHeader("Retry-After", strconv.FormatInt(secs, 10))
}

// pendingRetry is the Retry-After of a 503 for too many pending calls: by
// then some of them have been ACKed or timed out.
const pendingRetry = 5 * time.Second

// holdPending counts a new call from src against its cap; false: refuse
// the INVITE, before any RTP port is taken. The release func is for the
// Call, run once when it is ACKed or ends.
func (g *guard) holdPending(src netip.Addr) (release func(), ok bool) {
	src = src.Unmap()
	if !g.pending.acquire(src) {
		g.pendingRefused.Add(1)
		return nil, false
	}
	return func() { g.pending.release(src) }, true
}
