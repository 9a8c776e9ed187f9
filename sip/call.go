package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// End reasons reported by EndReason.
const (
	reasonRemoteBye  = "remote_bye"
	reasonCancel     = "cancel"
	reasonAckTimeout = "ack_timeout"
	reasonLocalBye   = "local_bye"
	reasonShutdown   = "shutdown"
	reasonRejected   = "rejected"
	reasonGone       = "dialog_gone" // our request got 481: the far end has no such dialog
)

// Errors of Call methods.
var (
	ErrCallEnded    = errors.New("sip: call ended")
	ErrWrongState   = errors.New("sip: call not in a state for this")
	ErrNoACK        = errors.New("sip: no ACK for 2xx")
	ErrBadACKAnswer = errors.New("sip: ACK carries no usable SDP answer")
)

// Party is the caller as written in From.
type Party struct {
	User    string
	Display string
}

type callState uint8

const (
	stateEarly     callState = iota // INVITE received, no final response
	stateAnswering                  // 200 sent, waiting for the ACK
	stateConfirmed                  // ACK received
	stateRejected                   // final non-2xx sent (or CANCEL)
)

// Call is one inbound call: an INVITE server transaction, then a dialog.
// One goroutine, the CallHandler's, owns it; the methods are safe to call
// from others (Hangup from a watchdog, for instance).
type Call struct {
	s         *Server
	invite    *sip.Request
	tx        sip.ServerTransaction
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelCauseFunc
	id        string
	localTag  string
	remoteTag string
	source    netip.AddrPort

	acks    chan *sip.Request // ACKs for our 2xx responses
	updates chan sdp.Media
	digits  chan dtmf.Event
	done    chan struct{}
	sending chan struct{} // held while a SendDigit INFO is out: keys leave one at a time

	mu         sync.Mutex
	state      callState
	ended      bool
	endReason  string
	final      *sip.Response // final response to the initial INVITE
	target     sip.Uri       // remote target: Contact, updated by re-INVITE (RFC 3261 §12.2.2)
	cseq       uint32        // our CSeq for requests in the dialog
	remoteCSeq uint32
	local      sdp.Local
	media      sdp.Media
	reinviting bool
	dropped    int    // digits or updates dropped on full channels
	unpend     func() // releases the call's place in its source's pending cap (guard.go); nil once done
}

// ID returns the Call-ID, the key of every log line of the call.
func (c *Call) ID() string { return c.id }

// Caller returns the From user and display name.
func (c *Call) Caller() Party {
	f := c.invite.From()
	return Party{User: f.Address.User, Display: f.DisplayName}
}

// Callee returns the Request-URI user: the dialled number.
func (c *Call) Callee() string { return c.invite.Recipient.User }

// Transport returns "UDP", "TCP" or "TLS".
func (c *Call) Transport() string { return c.invite.Transport() }

// Source returns the address the INVITE came from.
func (c *Call) Source() netip.AddrPort { return c.source }

// Logger returns the call's logger; it carries call_id.
func (c *Call) Logger() *slog.Logger { return c.log }

// Offer returns the SDP offer of the INVITE; false for a delayed offer.
func (c *Call) Offer() ([]byte, bool) {
	b := c.invite.Body()
	return b, len(b) > 0
}

// MediaUpdates delivers the remote media after each accepted re-INVITE
// (hold, unhold, new address, session refresh). The newest is kept when the
// reader lags.
func (c *Call) MediaUpdates() <-chan sdp.Media { return c.updates }

// Digits delivers the keys sent by SIP INFO.
func (c *Call) Digits() <-chan dtmf.Event { return c.digits }

// Done is closed when the call ends.
func (c *Call) Done() <-chan struct{} { return c.done }

// EndReason says why the call ended: remote_bye, cancel, ack_timeout,
// local_bye, shutdown, rejected, or dialog_gone (our request got 481);
// "" while it lasts.
func (c *Call) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReason
}

// Answer sends 200 OK with the SDP answer and waits for the ACK. With an
// offer in the INVITE it negotiates it, and answers 488 (or 400) itself
// when it cannot; with a delayed offer (RFC 3261 §13.2.1) our offer goes in
// the 200 and the answer is read from the ACK.
func (c *Call) Answer(ctx context.Context, local sdp.Local) (sdp.Media, error) {
	var body []byte
	var m sdp.Media
	local, err := c.s.srtpLocal(local, c.TLS())
	if err != nil {
		if rerr := c.Reject(488, "Not Acceptable Here"); rerr != nil {
			c.log.Debug("sip reject without tls", "error", rerr)
		}
		return sdp.Media{}, fmt.Errorf("answer call: %w", err)
	}
	offer, hasOffer := c.Offer()
	if hasOffer {
		var err error
		body, m, err = sdp.Negotiate(offer, local)
		if err != nil {
			code, reason := sdp.Status(err)
			if rerr := c.Reject(code, reason); rerr != nil {
				c.log.Debug("sip reject after sdp failure", "error", rerr)
			}
			return sdp.Media{}, fmt.Errorf("answer call: %w", err)
		}
	} else {
		body = sdp.Offer(local)
	}
	res := c.response(200, "OK", body)
	c.mu.Lock()
	if c.ended || c.state != stateEarly {
		c.mu.Unlock()
		return sdp.Media{}, fmt.Errorf("answer call: %w", ErrWrongState)
	}
	c.state, c.final, c.local = stateAnswering, res, local
	c.mu.Unlock()

	if err := c.tx.Respond(res); err != nil {
		c.end(reasonCancel)
		return sdp.Media{}, fmt.Errorf("answer call: send 200: %w", err)
	}
	ack, err := c.await2xx(ctx, res, c.invite.CSeq().SeqNo)
	if err != nil {
		return sdp.Media{}, fmt.Errorf("answer call: %w", err)
	}
	if !hasOffer {
		if m, err = sdp.ParseAnswer(ack.Body(), local); err != nil {
			// RFC 3261 §13.3.1.4 leaves the UAS only BYE here.
			c.terminate(context.WithoutCancel(ctx), reasonLocalBye)
			return sdp.Media{}, fmt.Errorf("answer call: %w: %w", ErrBadACKAnswer, err)
		}
	}
	c.mu.Lock()
	c.state, c.media = stateConfirmed, m
	c.mu.Unlock()
	c.releasePending()
	// Debug: the gateway logs the answer once, at info, with more to say.
	c.log.Debug("sip call answered", "codec", m.Codec, "remote_rtp", m.Remote.String(), "transport", c.Transport())
	return m, nil
}

// Reject sends a final non-2xx response to the INVITE and ends the call.
func (c *Call) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("reject with %d: %w", code, ErrWrongState)
	}
	c.mu.Lock()
	if c.ended || c.state != stateEarly {
		c.mu.Unlock()
		return fmt.Errorf("reject with %d: %w", code, ErrWrongState)
	}
	res := c.response(code, reason, nil)
	c.state, c.final = stateRejected, res
	c.mu.Unlock()
	err := c.tx.Respond(res)
	c.end(reasonRejected)
	if err != nil {
		return fmt.Errorf("reject with %d: %w", code, err)
	}
	c.log.Info("sip call rejected", "code", code)
	return nil
}

// byeTimeout bounds the wait for the answer to our BYE.
const byeTimeout = 10 * time.Second

// Hangup ends the call: BYE once answered, 480 before, nothing if it has
// already ended. It may be given the call's context: the BYE is sent even
// though that context is cancelled as the call ends.
func (c *Call) Hangup(ctx context.Context) error {
	return c.terminate(ctx, reasonLocalBye)
}

// terminate ends the call for reason, telling the remote: a final response
// before the answer, a BYE after (RFC 3261 §15).
func (c *Call) terminate(ctx context.Context, reason string) error {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return nil
	}
	st := c.state
	var res *sip.Response
	if st == stateEarly {
		code, phrase := 480, "Temporarily Unavailable"
		if reason == reasonShutdown {
			code, phrase = 503, "Service Unavailable"
		}
		res = c.response(code, phrase, nil)
		c.state, c.final = stateRejected, res
	}
	c.mu.Unlock()
	c.end(reason)
	switch st {
	case stateEarly:
		if err := c.tx.Respond(res); err != nil {
			return fmt.Errorf("end call: %w", err)
		}
	case stateAnswering, stateConfirmed:
		// The call's own context is cancelled by now, and handlers pass it:
		// the BYE gets a detached one, bounded (RFC 3261 Timer F is 64*T1).
		deadline := time.Now().Add(byeTimeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		byeCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		if err := c.sendBye(byeCtx); err != nil {
			c.log.Warn("sip bye failed", "error", err)
			return fmt.Errorf("end call: %w", err)
		}
	}
	return nil
}

// end marks the call ended and cancels its context; false if it already was.
func (c *Call) end(reason string) bool {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return false
	}
	c.ended, c.endReason = true, reason
	dropped := c.dropped
	c.mu.Unlock()
	close(c.done)
	c.releasePending()
	c.cancel(fmt.Errorf("%w: %s", ErrCallEnded, reason))
	c.s.forgetDialog(c)
	c.log.Info("sip call ended", "reason", reason, "dropped_events", dropped)
	return true
}

// response builds a response to the INVITE with our To tag and, for 2xx,
// our Contact and the SDP body.
func (c *Call) response(code int, reason string, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(c.invite, code, reason, nil)
	res.To().Params.Add("tag", c.localTag) // the same tag on every response (RFC 3261 §8.2.6.2)
	res.AppendHeader(sip.NewHeader("Server", c.s.cfg.UserAgent))
	if code >= 200 && code < 300 {
		res.AppendHeader(sip.NewHeader("Contact", c.s.contactFor(c.invite)))
		res.AppendHeader(sip.NewHeader("Allow", c.s.allow()))
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res.SetBody(body)
	return res
}

// releasePending gives back the call's place among its source's calls
// awaiting ACK: once ACKed, or when it ends.
func (c *Call) releasePending() {
	c.mu.Lock()
	f := c.unpend
	c.unpend = nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

// pushUpdate delivers a media update, dropping the oldest when full.
func (c *Call) pushUpdate(m sdp.Media) {
	for range 2 {
		select {
		case c.updates <- m:
			return
		default:
		}
		select {
		case <-c.updates:
		default:
		}
	}
}

func (c *Call) pushDigit(ev dtmf.Event) {
	select {
	case c.digits <- ev:
	default:
		c.mu.Lock()
		c.dropped++
		c.mu.Unlock()
	}
}
