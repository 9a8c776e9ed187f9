package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// DialRequest describes the second leg of a B2BUA call: the gateway calls
// an agent at the contact they registered.
type DialRequest struct {
	Contact     string            // the agent's registered Contact URI: the Request-URI of the INVITE
	Source      netip.AddrPort    // where the registration came from: requests go here (NAT), not to the Contact host
	Transport   string            // "udp", "tcp" or "tls" as registered; "" takes the Contact's transport parameter, else udp (tls for sips:)
	FromUser    string            // the caller's number, shown on the agent's phone
	FromDisplay string            // the caller's display name
	Headers     map[string]string // extra headers (X-IVR-Path, X-IVR-Reason, ...); empty values are left out
	HeaderOrder []string          // names of Headers sent first, in this order; the others follow sorted by name
	Local       sdp.Local         // our RTP side of this leg; offered in Local.Codecs order
	RingTimeout time.Duration     // no final answer by then: CANCEL and ErrNoAnswer (default 15 s)
}

// DefaultRingTimeout is used when DialRequest.RingTimeout is zero.
const DefaultRingTimeout = 15 * time.Second

// Errors of DialAgent besides *StatusError.
var (
	// ErrNoAnswer: the ring timeout passed; a CANCEL was sent.
	ErrNoAnswer = errors.New("sip: agent did not answer")
	// ErrBadAnswer: the agent answered 200 without usable SDP (none, or no
	// codec of ours); the gateway ACKed and sent BYE.
	ErrBadAnswer = errors.New("sip: agent's 200 carries no usable SDP answer")
	// ErrBadDialRequest: the request cannot be sent as given.
	ErrBadDialRequest = errors.New("sip: bad dial request")
	// ErrShuttingDown: the server is draining and places no new calls.
	ErrShuttingDown = errors.New("sip: server shutting down")
	// ErrNotServing: Run has not started serving.
	ErrNotServing = errors.New("sip: server not serving")
)

// StatusError is a final non-2xx answer to one of our requests: the
// agent's to DialAgent's INVITE (486 Busy Here, 603 Decline, 480, 404,
// 5xx ...), or either side's to SendDigit's INFO (405, 415, 481, 501 ...).
type StatusError struct {
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("sip: far end answered %d %s", e.Code, e.Reason)
}

// Reasons an outbound leg ended, reported by EndReason.
const (
	reasonNotAnswered = "not_answered" // CANCEL won, or a 200 raced it and got ACK+BYE
	reasonBadAnswer   = "bad_answer"
)

// Outbound is one call the gateway placed to an agent: the UAC side of a
// dialog (RFC 3261 §12.1.2). It holds no goroutine while it lasts; requests
// from the agent reach it through the Server's handlers.
type Outbound struct {
	s         *Server
	id        string
	log       *slog.Logger
	invite    *sip.Request
	tx        sip.ClientTransaction
	transport string         // "UDP", "TCP" or "TLS"
	dest      netip.AddrPort // every request of the leg goes here (NAT)
	localTag  string

	digits  chan dtmf.Event
	updates chan sdp.Media
	acks    chan *sip.Request // ACKs for our 2xx to the agent's re-INVITEs
	done    chan struct{}
	sending chan struct{} // held while a SendDigit INFO is out: keys leave one at a time

	mu          sync.Mutex
	established bool
	ended       bool
	endReason   string
	remoteTag   string
	to          *sip.ToHeader // the 2xx's To, with the agent's tag
	target      sip.Uri       // remote target: the 2xx's Contact (RFC 3261 §12.1.2)
	routes      []string      // route set: the 2xx's Record-Route reversed
	ack         *sip.Request  // the 2xx ACK, re-sent on every 2xx retransmission
	cseq        uint32        // our last CSeq in the dialog
	remoteCSeq  uint32
	remoteSeen  bool
	local       sdp.Local
	media       sdp.Media
	reinviting  bool
	dropped     int
}

// ID returns the Call-ID of this leg.
func (o *Outbound) ID() string { return o.id }

// Media returns the agent's media, from the 200's SDP answer and updated by
// the agent's re-INVITEs.
func (o *Outbound) Media() sdp.Media {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.media
}

// MediaUpdates delivers the agent's media after each accepted re-INVITE
// (hold, unhold, new address); the newest is kept when the reader lags.
func (o *Outbound) MediaUpdates() <-chan sdp.Media { return o.updates }

// Digits delivers the keys the agent sends by SIP INFO.
func (o *Outbound) Digits() <-chan dtmf.Event { return o.digits }

// Done is closed when the leg ends: the agent's BYE, or ours.
func (o *Outbound) Done() <-chan struct{} { return o.done }

// EndReason says why the leg ended: remote_bye, local_bye, shutdown,
// ack_timeout, dialog_gone (our request got 481); "" while it lasts.
func (o *Outbound) EndReason() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.endReason
}

// Hangup sends BYE (RFC 3261 §15.1.1) and waits for its answer, bounded by
// ctx and byeTimeout; it does nothing if the leg has already ended. It may
// be given a cancelled context: the BYE is still sent.
func (o *Outbound) Hangup(ctx context.Context) error {
	return o.terminate(ctx, reasonLocalBye)
}

// DialAgent calls an agent and returns once they answer: the INVITE is sent
// from our listening socket to r.Source (or over the TCP connection the
// agent registered on), provisional responses are waited through, the 200
// is ACKed and its SDP answer parsed.
//
// ctx bounds only the dialling: cancelling it before the answer (the caller
// hung up) sends CANCEL and returns an error wrapping ctx.Err(); once
// answered, the leg lives until Hangup or the agent's BYE. A final non-2xx
// is a *StatusError, the ring timeout ErrNoAnswer.
func (s *Server) DialAgent(ctx context.Context, r DialRequest) (*Outbound, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dial agent: %w", err)
	}
	s.mu.Lock()
	down := s.shutdown
	s.mu.Unlock()
	if down {
		return nil, fmt.Errorf("dial agent: %w", ErrShuttingDown)
	}
	o, err := s.newOutbound(r)
	if err != nil {
		return nil, fmt.Errorf("dial agent: %w", err)
	}
	if err := s.serving(ctx); err != nil {
		return nil, fmt.Errorf("dial agent: %w", err)
	}
	ring := r.RingTimeout
	if ring <= 0 {
		ring = DefaultRingTimeout
	}
	tx, err := s.client.TransactionRequest(ctx, o.invite, asBuilt)
	if err != nil {
		return nil, fmt.Errorf("dial agent: send invite: %w", err)
	}
	o.tx = tx
	// 2xx retransmissions reach only this hook once the transaction has
	// passed its first 2xx up (RFC 6026 Accepted state): each gets the ACK
	// again (RFC 3261 §13.2.2.4).
	tx.OnRetransmission(o.retransmitted)
	o.log.Info("sip dialling agent", "transport", o.transport, "destination", o.dest.String(), "ring_timeout", ring.String())
	return o.await(ctx, ring)
}

// serving waits, briefly, until Run has handed our UDP socket to sipgo:
// before that, a request that names it as local address makes sipgo try to
// bind it a second time, and fail.
func (s *Server) serving(ctx context.Context) error {
	pool := s.ua.TransportLayer().Pool("udp")
	addr := s.udp.LocalAddr().String()
	deadline := time.Now().Add(servingWait)
	for {
		if c := pool.Get(addr); c != nil {
			c.TryClose() // Get took a reference; a listener is never closed by it
			return nil
		}
		if time.Now().After(deadline) {
			return ErrNotServing
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

const servingWait = 2 * time.Second

// asBuilt is a client option that leaves our request as built: with no
// option at all sipgo would add headers of its own.
func asBuilt(*sipgo.Client, *sip.Request) error { return nil }

// await reads the INVITE's responses until a final one, the ring timeout or
// ctx.
func (o *Outbound) await(ctx context.Context, ring time.Duration) (*Outbound, error) {
	timer := time.NewTimer(ring)
	defer timer.Stop()
	provisional := false
	for {
		select {
		case res := <-o.tx.Responses():
			switch {
			case res.IsProvisional():
				provisional = true
				o.log.Debug("sip agent provisional", "status", res.StatusCode)
			case res.IsSuccess():
				if err := o.answered(res); err != nil {
					return nil, fmt.Errorf("dial agent: %w", err)
				}
				return o, nil
			default:
				// sipgo's INVITE client transaction ACKs a non-2xx itself
				// (RFC 3261 §17.1.1.3) and re-ACKs its retransmissions.
				o.log.Info("sip agent refused", "status", res.StatusCode)
				return nil, &StatusError{Code: res.StatusCode, Reason: res.Reason}
			}
		case <-o.tx.Done():
			// Timer B (no response at all) or a transport error.
			return nil, fmt.Errorf("dial agent: invite transaction ended: %w", o.tx.Err())
		case <-timer.C:
			o.log.Info("sip agent ring timeout")
			o.abandon(provisional)
			return nil, fmt.Errorf("dial agent after %v: %w", ring, ErrNoAnswer)
		case <-ctx.Done():
			o.log.Info("sip agent leg abandoned before answer")
			o.abandon(provisional)
			return nil, fmt.Errorf("dial agent: abandoned: %w", ctx.Err())
		}
	}
}

// answered takes the first 2xx: it establishes the dialog, ACKs, and reads
// the SDP answer; without a usable one it hangs up (RFC 3261 §13.2.2.4
// leaves the UAC only ACK then BYE).
func (o *Outbound) answered(res *sip.Response) error {
	o.establish(res)
	m, err := o.parseAnswer(res)
	if err != nil {
		o.log.Warn("sip agent answer unusable", "error", err)
		ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
		defer cancel()
		if berr := o.terminate(ctx, reasonBadAnswer); berr != nil {
			o.log.Debug("sip bye after bad answer", "error", berr)
		}
		return err
	}
	o.mu.Lock()
	o.media = m
	o.mu.Unlock()
	o.log.Info("sip agent answered", "codec", m.Codec, "remote_rtp", m.Remote.String())
	return nil
}

func (o *Outbound) parseAnswer(res *sip.Response) (sdp.Media, error) {
	body := res.Body()
	if len(body) == 0 {
		return sdp.Media{}, fmt.Errorf("%w: empty body", ErrBadAnswer)
	}
	if ct := res.ContentType(); ct != nil && !isSDP(ct.Value()) {
		return sdp.Media{}, fmt.Errorf("%w: content type %q", ErrBadAnswer, ct.Value())
	}
	o.mu.Lock()
	local := o.local
	o.mu.Unlock()
	m, err := sdp.ParseAnswer(body, local)
	if err != nil {
		return sdp.Media{}, fmt.Errorf("%w: %w", ErrBadAnswer, err)
	}
	return m, nil
}

// establish turns the INVITE and its 2xx into a confirmed dialog, routes
// the agent's requests to it, and sends the ACK.
func (o *Outbound) establish(res *sip.Response) {
	o.mu.Lock()
	o.established = true
	o.remoteTag = toTagOf(res)
	if to := res.To(); to != nil {
		o.to = sip.HeaderClone(to).(*sip.ToHeader)
	} else {
		o.to = sip.HeaderClone(o.invite.To()).(*sip.ToHeader) // broken response; keep going
	}
	if ct := res.Contact(); ct != nil {
		o.target = *ct.Address.Clone()
	} else {
		o.target = *o.invite.Recipient.Clone()
	}
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		o.routes = append(o.routes, rr[i].Value())
	}
	// The ACK for a 2xx is a request of its own, with a new branch, sent
	// by the UAC core rather than the transaction (RFC 3261 §13.2.2.4),
	// with the INVITE's CSeq number.
	o.ack = o.request(sip.ACK, o.invite.CSeq().SeqNo)
	ack := o.ack.Clone()
	o.mu.Unlock()
	o.s.out.add(o)
	if err := o.s.client.WriteRequest(ack, asBuilt); err != nil {
		// The agent retransmits its 2xx; the next one gets the ACK again.
		o.log.Warn("sip ack send failed", "error", err)
	}
}

// retransmitted runs inside sipgo's transaction for each 2xx retransmission.
func (o *Outbound) retransmitted(res *sip.Response) {
	if !res.IsSuccess() {
		return
	}
	o.resendAck(res)
}

// resendAck sends the ACK again for a retransmitted 2xx of our dialog.
func (o *Outbound) resendAck(res *sip.Response) bool {
	o.mu.Lock()
	ack, tag := o.ack, o.remoteTag
	o.mu.Unlock()
	if ack == nil || toTagOf(res) != tag {
		// A 2xx from another fork: agents are reached directly, never
		// through a forking proxy, so it is only logged.
		o.log.Debug("sip 2xx for no dialog of this leg ignored")
		return false
	}
	if err := o.s.client.WriteRequest(ack.Clone(), asBuilt); err != nil {
		o.log.Debug("sip ack resend failed", "error", err)
	}
	return true
}

func toTagOf(res *sip.Response) string {
	if res.To() == nil {
		return ""
	}
	tag, _ := res.To().Params.Get("tag")
	return tag
}
