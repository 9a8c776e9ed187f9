package testphone

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"
)

// oldSocketGrace keeps a replaced RTP socket reading for a moment, so
// packets already in flight to the old port are still recorded.
const oldSocketGrace = 200 * time.Millisecond

// remoteTarget is where in-dialog requests go: the Contact of the 2xx
// (RFC 3261 §12.1.2), else the Request-URI.
func (c *Call) remoteTarget() sip.Uri {
	if res := c.sess.InviteResponse; res != nil {
		if ct := res.Contact(); ct != nil {
			return *ct.Address.Clone()
		}
	}
	return *c.sess.InviteRequest.Recipient.Clone()
}

// do sends an in-dialog request and waits for its final response.
func (c *Call) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	c.ep.prepare(req)
	at := time.Now()
	tx, err := c.sess.TransactionRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	c.ep.sent(at, req)
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			return nil, fmt.Errorf("transaction ended: %w", tx.Err())
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

func (c *Call) sendBye(ctx context.Context) error {
	res, err := c.do(ctx, sip.NewRequest(sip.BYE, c.target))
	if err != nil {
		return err
	}
	if res.StatusCode != 200 {
		return &StatusError{Code: res.StatusCode, Reason: res.Reason}
	}
	return nil
}

// Hangup sends BYE and waits for the 200, then releases the call. If the
// other side already hung up it only releases.
func (c *Call) Hangup(ctx context.Context) error {
	select {
	case <-c.bye:
		c.Close()
		return nil
	default:
	}
	err := c.sendBye(ctx)
	c.Close()
	if err != nil {
		return fmt.Errorf("hangup: %w", err)
	}
	return nil
}

// WaitHangup waits for the other side's BYE (already answered with 200 by
// the phone), then releases the call.
func (c *Call) WaitHangup(ctx context.Context) error {
	select {
	case <-c.bye:
		c.Close()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait hangup: %w", context.Cause(ctx))
	}
}

// Hold puts the other side on hold: re-INVITE with a=sendonly (RFC 3264
// §8.4). The phone keeps sending; the other side should stop.
func (c *Call) Hold(ctx context.Context) error { return c.reinvite(ctx, SendOnly, false) }

// Unhold resumes: re-INVITE with a=sendrecv.
func (c *Call) Unhold(ctx context.Context) error { return c.reinvite(ctx, SendRecv, false) }

// Reinvite refreshes the session with a new offer in the current direction
// (RFC 4028 style refresh). With newRTPPort the phone moves to a fresh RTP
// socket, as a phone changing network would, and sends from it once the
// 200 arrives.
func (c *Call) Reinvite(ctx context.Context, newRTPPort bool) error {
	c.mu.Lock()
	dir := c.local.direction
	c.mu.Unlock()
	return c.reinvite(ctx, dir, newRTPPort)
}

func (c *Call) reinvite(ctx context.Context, dir Direction, newPort bool) error {
	c.mu.Lock()
	local := c.local
	codec := c.media.Codec
	c.mu.Unlock()
	// RFC 3264 §8: a new offer bumps the o= version; offering only the
	// codec in use keeps the other side from switching under the test.
	local.version++
	local.direction = dir
	local.codecs = []uint8{codec}
	var nc *net.UDPConn
	if newPort {
		var err error
		if nc, err = listenRTP(c.cfg.LocalIP); err != nil {
			return fmt.Errorf("re-invite: %w", err)
		}
		local.port = nc.LocalAddr().(*net.UDPAddr).Port
	}
	fail := func(err error) error {
		if nc != nil {
			nc.Close()
		}
		return fmt.Errorf("re-invite: %w", err)
	}
	req := sip.NewRequest(sip.INVITE, c.target)
	setSDP(req, local.marshal())
	res, err := c.do(ctx, req)
	if err != nil {
		return fail(err)
	}
	if !res.IsSuccess() {
		// The transaction layer acknowledges a non-2xx itself (RFC 3261 §17.1.1.3).
		return fail(&StatusError{Code: res.StatusCode, Reason: res.Reason})
	}
	// The ACK of a 2xx is the UAC core's job (RFC 3261 §13.2.2.4); it
	// carries the re-INVITE's CSeq number.
	ack := sip.NewRequest(sip.ACK, c.target)
	c.ep.prepare(ack)
	at := time.Now()
	if err := c.sess.WriteRequest(ack); err != nil {
		return fail(fmt.Errorf("send ack: %w", err))
	}
	c.ep.sent(at, ack)
	r, err := parseSDP(res.Body())
	if err != nil {
		return fail(err)
	}
	if !slices.Contains(r.formats, codec) {
		return fail(fmt.Errorf("answer formats %v lack %d: %w", r.formats, codec, ErrNoCommonCodec))
	}
	m := r.media(codec)
	c.mu.Lock()
	c.local = local
	c.media = m
	var old *net.UDPConn
	if nc != nil {
		old, c.rtpConn = c.rtpConn, nc
	}
	c.mu.Unlock()
	c.tx.setMedia(m)
	c.rec.setEventPT(m.EventPT, m.HasEvents)
	if nc != nil {
		c.tx.setConn(nc)
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.rec.readLoop(nc) }()
		time.AfterFunc(oldSocketGrace, func() { old.Close() })
	}
	return nil
}

// SendDigitINFO sends digit as a SIP INFO with an application/dtmf-relay
// body (the de-facto Cisco format: Signal and Duration in ms) and expects 200.
func (c *Call) SendDigitINFO(ctx context.Context, digit byte) error {
	if _, ok := eventCode(digit); !ok {
		return fmt.Errorf("send info digit %q: %w", digit, ErrBadDigit)
	}
	req := sip.NewRequest(sip.INFO, c.target)
	ct := sip.ContentTypeHeader("application/dtmf-relay")
	req.AppendHeader(&ct)
	req.SetBody(fmt.Appendf(nil, "Signal=%c\r\nDuration=160\r\n", upper(digit)))
	res, err := c.do(ctx, req)
	if err != nil {
		return fmt.Errorf("send info digit: %w", err)
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("send info digit: %w", &StatusError{Code: res.StatusCode, Reason: res.Reason})
	}
	return nil
}

// ours reports whether an incoming request belongs to this call's dialog.
func (c *Call) ours(req *sip.Request) bool {
	id := req.CallID()
	to := req.To()
	return id != nil && id.Value() == c.callID && to != nil && to.Params.Has("tag")
}

func (c *Call) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if !c.ours(req) {
		// RFC 3261 §15.1.2: a BYE matching no dialog gets 481.
		c.ep.respond(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.ep.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
	c.byeOnce.Do(func() {
		close(c.bye)
		// Stop sending at once: the session is over (RFC 3261 §15).
		c.mu.Lock()
		stop := c.stopMedia
		c.mu.Unlock()
		if stop != nil {
			stop()
		}
		c.rec.stop()
	})
}

// onInvite answers re-INVITEs from the other side. The phone takes no new
// calls.
func (c *Call) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if !c.ours(req) {
		c.ep.respond(tx, sip.NewResponseFromRequest(req, 603, "Decline", nil))
		return
	}
	c.mu.Lock()
	var m Media
	var err error
	if len(req.Body()) > 0 {
		m, err = c.answerLocked(req.Body())
	} else {
		// An INVITE without SDP asks us for an offer in the 200; the answer
		// comes in the ACK (RFC 3261 §13.2.1, §14.2).
		c.local.version++
		c.local.codecs = []uint8{c.media.Codec}
		c.offered = true
		m = c.media
	}
	body := c.local.marshal()
	c.mu.Unlock()
	if err != nil {
		c.ep.respond(tx, sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	c.tx.setMedia(m)
	c.rec.setEventPT(m.EventPT, m.HasEvents)
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(sip.HeaderClone(&c.ep.contact))
	ct := sip.ContentTypeHeader("application/sdp")
	res.AppendHeader(&ct)
	c.ep.respond(tx, res)
}

// answerLocked applies a remote offer and prepares our answer. c.mu held.
func (c *Call) answerLocked(offer []byte) (Media, error) {
	r, err := parseSDP(offer)
	if err != nil {
		return Media{}, err
	}
	codec := c.media.Codec
	if !slices.Contains(r.formats, codec) {
		if codec, err = r.pick(c.cfg.Codecs); err != nil {
			return Media{}, err
		}
	}
	c.local.version++
	c.local.codecs = []uint8{codec}
	c.local.eventPT = r.eventPT
	c.local.events = r.hasEvents && !c.cfg.NoEvents
	c.local.direction = answerDirection(r.direction)
	c.media = r.media(codec)
	return c.media, nil
}

func (c *Call) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if !c.ours(req) || len(req.Body()) == 0 {
		return
	}
	c.mu.Lock()
	if !c.offered {
		c.mu.Unlock()
		return
	}
	c.offered = false
	r, err := parseSDP(req.Body())
	var m Media
	if err == nil && slices.Contains(r.formats, c.media.Codec) {
		m = r.media(c.media.Codec)
		c.media = m
	}
	c.mu.Unlock()
	if err != nil || m.Codec != c.Media().Codec || !m.Remote.IsValid() {
		c.log.Warn("unusable answer in ack", "error", err)
		return
	}
	c.tx.setMedia(m)
	c.rec.setEventPT(m.EventPT, m.HasEvents)
}

// onOK answers OPTIONS with 200.
func (c *Call) onOK(req *sip.Request, tx sip.ServerTransaction) {
	c.ep.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
}

// Info is one SIP INFO the gateway sent in the call.
type Info struct {
	ContentType string
	Body        string
}

// onInfo records an INFO (a key press the gateway passes on, for a phone
// without telephone-event) and answers 200.
func (c *Call) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	var ct string
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	c.mu.Lock()
	c.infos = append(c.infos, Info{ContentType: ct, Body: string(req.Body())})
	c.mu.Unlock()
	c.onOK(req, tx)
}

// Infos returns the SIP INFO requests received, oldest first.
func (c *Call) Infos() []Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Info(nil), c.infos...)
}
