package sip

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/media/dtmf"
)

// infoTimeout bounds SendDigit's wait for the answer to its INFO. Over UDP
// sipgo retransmits the request meanwhile (T1, 2×T1, 4×T1; RFC 3261
// §17.1.2.2); a key press that arrives later than this is of no use.
const infoTimeout = 4 * time.Second

// SendDigit sends one key press to the caller as SIP INFO: the RFC 6086
// frame with the de-facto application/dtmf-relay body (dtmf.FormatRelay),
// for a caller who negotiated no RFC 4733 telephone-events. It waits for
// the caller's final answer, bounded by ctx and a few seconds.
//
// A key other than 0-9 * # A-D is refused and nothing is sent. Before the
// call is answered (its ACK received) the error is ErrWrongState, once it
// has ended ErrCallEnded. A non-2xx answer is a *StatusError (405, 415 or
// 501: the caller takes no INFO keys); a 481 says the caller has no such
// dialog, so the call is ended and the error wraps ErrCallEnded as well.
// Keys leave one at a time, in the order SendDigit was called.
func (c *Call) SendDigit(ctx context.Context, ev dtmf.Event) error {
	return sendDigit(ctx, ev, digitLeg{
		op: "send digit to caller", sending: c.sending, done: c.done, log: c.log, end: c.end,
		build: func() (*sip.Request, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			switch {
			case c.ended:
				return nil, fmt.Errorf("%w: %s", ErrCallEnded, c.endReason)
			case c.state != stateConfirmed:
				// RFC 3261 §13.3.1.4 keeps even BYE back until the ACK; a
				// key before it would reach a phone that may not have the
				// dialog yet.
				return nil, ErrWrongState
			}
			c.cseq++ // under c.mu with BYE's: no two requests share a CSeq
			return c.request(sip.INFO, c.cseq), nil
		},
		send: c.transact,
	})
}

// SendDigit sends one key press to the agent as SIP INFO, as
// (*Call).SendDigit does to the caller: same body, same bound on the wait,
// same errors (a *StatusError for a non-2xx answer; after a 481 the leg is
// ended and the error wraps ErrCallEnded). Keys leave one at a time.
func (o *Outbound) SendDigit(ctx context.Context, ev dtmf.Event) error {
	return sendDigit(ctx, ev, digitLeg{
		op: "send digit to agent", sending: o.sending, done: o.done, log: o.log, end: o.end,
		build: func() (*sip.Request, error) {
			o.mu.Lock()
			defer o.mu.Unlock()
			switch {
			case o.ended:
				return nil, fmt.Errorf("%w: %s", ErrCallEnded, o.endReason)
			case !o.established:
				return nil, ErrWrongState
			}
			o.cseq++ // under o.mu with BYE's: no two requests share a CSeq
			return o.request(sip.INFO, o.cseq), nil
		},
		send: func(ctx context.Context, req *sip.Request) (*sip.Response, error) {
			tx, err := o.s.client.TransactionRequest(ctx, req, asBuilt)
			if err != nil {
				return nil, err
			}
			return finalResponse(ctx, tx)
		},
	})
}

// digitLeg is what sendDigit needs of one side's dialog, *Call or
// *Outbound.
type digitLeg struct {
	op      string
	sending chan struct{}   // one-slot: keys leave one at a time
	done    <-chan struct{} // closed when the dialog ends
	log     *slog.Logger
	// build checks the dialog's state and builds the INFO, bodiless, with
	// the next CSeq, under the leg's lock.
	build func() (*sip.Request, error)
	// send sends it and waits for its final response.
	send func(context.Context, *sip.Request) (*sip.Response, error)
	end  func(reason string) bool
}

func sendDigit(ctx context.Context, ev dtmf.Event, l digitLeg) error {
	body, err := dtmf.FormatRelay(ev)
	if err != nil {
		return fmt.Errorf("%s: %w", l.op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	select {
	case l.sending <- struct{}{}:
		defer func() { <-l.sending }()
	case <-l.done:
		// Ended while an earlier key was out: build says so.
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", l.op, ctx.Err())
	}
	req, err := l.build()
	if err != nil {
		return fmt.Errorf("%s: %w", l.op, err)
	}
	setDigitBody(req, body)
	res, err := l.send(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", l.op, err)
	}
	l.log.Debug("sip info digit answered", "status", res.StatusCode)
	return digitResult(l.op, res, l.end)
}

// setDigitBody puts a dtmf-relay body on an INFO built by a dialog's
// request builder, which left it empty.
func setDigitBody(req *sip.Request, body []byte) {
	req.AppendHeader(sip.NewHeader("Content-Type", dtmf.RelayContentType))
	req.SetBody(body)
}

// digitResult turns the final answer to an INFO into SendDigit's error. A
// 481 means the far end has no such dialog (RFC 3261 §12.2.1.2: the UAC
// should end it): end closes ours, without a BYE nobody would match.
func digitResult(op string, res *sip.Response, end func(reason string) bool) error {
	if res.IsSuccess() {
		return nil
	}
	se := &StatusError{Code: res.StatusCode, Reason: res.Reason}
	if res.StatusCode == 481 {
		end(reasonGone)
		return fmt.Errorf("%s: %w: %w", op, ErrCallEnded, se)
	}
	return fmt.Errorf("%s: %w", op, se)
}
