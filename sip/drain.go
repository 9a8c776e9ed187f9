package sip

import (
	"strconv"

	"github.com/emiago/sipgo/sip"
)

// DrainRetryAfter is the Retry-After, in seconds, on the 503 a draining
// server gives new INVITEs and OPTIONS: long enough that a trunk or load
// balancer sends the next calls to another gateway (RFC 3261 §21.5.4).
const DrainRetryAfter = 60

// Drain stops the server taking new calls while the live ones go on: new
// INVITEs and OPTIONS get 503 with Retry-After, so a load balancer that
// probes with OPTIONS takes the gateway out of service. Requests inside
// dialogs (ACK, BYE, re-INVITE, INFO), REGISTER and calls placed to
// agents (DialAgent, for callers already here who ask for a person) go on
// as usual. Cancelling Run's context then ends what is left. Idempotent.
func (s *Server) Drain() {
	if s.draining.CompareAndSwap(false, true) {
		s.log.Info("sip draining: new calls get 503", "active_calls", s.ActiveCalls(), "retry_after_s", DrainRetryAfter)
	}
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Idle reports whether no call is up: no inbound call handler runs and no
// leg to an agent is open.
func (s *Server) Idle() bool {
	if s.ActiveCalls() > 0 {
		return false
	}
	return s.out.count() == 0
}

// refuseDraining answers req with 503 + Retry-After when draining.
func (s *Server) refuseDraining(req *sip.Request, tx sip.ServerTransaction) bool {
	if !s.draining.Load() {
		return false
	}
	s.unavailable(req, tx)
	return true
}

// unavailable answers 503 with Retry-After: this gateway is going away.
func (s *Server) unavailable(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, 503, "Service Unavailable",
		sip.NewHeader("Retry-After", strconv.Itoa(DrainRetryAfter)))
}

// count is the number of answered legs to agents still up.
func (t *outboundTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.legs)
}
