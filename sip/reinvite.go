package sip

import (
	"context"
	"math/rand/v2"
	"strconv"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

// onReinvite handles an INVITE inside a dialog (RFC 3261 §14.2): hold,
// unhold, a new media address or a session refresh. It answers 200 with an
// updated SDP on the same codec (o= version +1, RFC 3264 §8), or 488 when
// the new offer is unacceptable, and the call goes on either way.
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		if o := s.lookupOutbound(req); o != nil {
			o.onReinvite(req, tx)
			return
		}
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	if rej := checkBody(req); rej != nil {
		s.respond(req, tx, rej.code, rej.reason, rej.headers...)
		return
	}
	cseq := req.CSeq().SeqNo
	c.mu.Lock()
	switch {
	case cseq <= c.remoteCSeq:
		// RFC 3261 §12.2.2: lower CSeq than the last is out of order.
		c.mu.Unlock()
		s.respond(req, tx, 500, "Server Internal Error (CSeq out of order)")
		return
	case c.reinviting || c.state != stateConfirmed:
		// RFC 3261 §14.2: an INVITE while another is in progress gets 500
		// with a Retry-After of 0 to 10 s.
		c.mu.Unlock()
		s.respond(req, tx, 500, "Server Internal Error",
			sip.NewHeader("Retry-After", strconv.Itoa(rand.IntN(11))))
		return
	}
	c.remoteCSeq = cseq
	c.reinviting = true
	local := c.local
	local.Version++
	local.Codecs = []uint8{c.media.Codec} // keep the codec
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reinviting = false
		c.mu.Unlock()
	}()

	offer := req.Body()
	body, m, code, reason, err := answerReoffer(offer, local)
	if err != nil {
		c.log.Info("sip re-invite refused", "code", code, "error", err)
		s.respond(req, tx, code, reason)
		return
	}
	if len(offer) > 0 && c.srtpChanged(m) {
		c.log.Info("sip re-invite refused", "code", 488, "error", "srtp keys changed")
		s.respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	res := s.sdpOK(req, c.Transport(), body)
	if err := tx.Respond(res); err != nil {
		c.log.Warn("sip re-invite 200 failed", "error", err)
		return
	}
	ack, err := c.await2xx(context.Background(), res, cseq)
	if err != nil {
		c.log.Info("sip re-invite not acknowledged", "error", err)
		return
	}
	if len(offer) == 0 {
		if m, err = sdp.ParseAnswer(ack.Body(), local); err != nil {
			// RFC 3261 §14.1 leaves a bad answer in an ACK to the UAS:
			// keep the old session rather than drop the call.
			c.log.Warn("sip re-invite ack answer unusable", "error", err)
			return
		}
	}
	c.mu.Lock()
	if ct := req.Contact(); ct != nil {
		c.target = *ct.Address.Clone() // RFC 3261 §12.2.2: target refresh
	}
	c.local, c.media = local, m
	c.mu.Unlock()
	c.log.Info("sip media updated", "remote_rtp", m.Remote.String(), "hold", m.Hold, "direction", m.Direction.String())
	c.pushUpdate(m)
}

// answerReoffer negotiates the offer of a re-INVITE against local, or, for
// a re-INVITE without SDP, makes our offer for the 2xx (the answer then
// comes in the ACK, RFC 3261 §14.2). On failure it gives the status to
// answer: 400 for a malformed offer, 488 when it cannot be accepted.
func answerReoffer(offer []byte, local sdp.Local) (body []byte, m sdp.Media, code int, reason string, err error) {
	if len(offer) == 0 {
		return sdp.Offer(local), sdp.Media{}, 0, "", nil
	}
	body, m, err = sdp.Negotiate(offer, local)
	if err != nil {
		code, reason = sdp.Status(err)
		if code == 500 {
			code, reason = 488, "Not Acceptable Here"
		}
		return nil, sdp.Media{}, code, reason, err
	}
	return body, m, 0, "", nil
}

// sdpOK builds the 200 to an in-dialog INVITE, carrying our SDP.
func (s *Server) sdpOK(req *sip.Request, transport string, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Contact", s.contactFor(req)))
	res.AppendHeader(sip.NewHeader("Server", s.cfg.UserAgent))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.SetBody(body)
	return res
}
