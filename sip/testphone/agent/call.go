package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Reasons a call ended, reported by EndReason.
const (
	EndRemoteBye = "remote_bye" // the gateway sent BYE
	EndLocalBye  = "local_bye"  // we sent BYE (Hangup)
	EndCancelled = "cancelled"  // the gateway sent CANCEL before we answered
	EndRejected  = "rejected"   // we answered with a final non-2xx (Reject, or Hangup while ringing)
	EndFailed    = "failed"     // no ACK, a transport error, or the agent closed
)

// AgentCall is one call the agent received (from the gateway) or placed
// (Dial). Its records stay readable after it ended.
type AgentCall struct {
	a        *Agent
	callID   string
	incoming bool
	at       time.Time // INVITE received or sent
	fromUser string
	fromDisp string
	toUser   string            // the Request-URI's user: the number dialled
	headers  map[string]string // lower-case name -> first value
	invite   string            // the INVITE as text

	answered chan struct{} // established: ACK received (incoming) or sent (Dial)
	done     chan struct{} // the gateway sent BYE
	ended    chan struct{} // the call is over, whatever the reason
	abort    chan struct{} // Hangup while ringing: reject instead of answering

	mu        sync.Mutex
	leg       *rtpLeg
	srv       *sipgo.DialogServerSession
	cli       *sipgo.DialogClientSession
	status    int // final status sent (incoming) or received (Dial)
	cancelled bool
	byeSent   bool // Hangup sent BYE: the dialog's end is ours
	byeGot    bool // the gateway's BYE is being answered: the end is theirs
	reason    string
	endedAt   time.Time
	abortOnce sync.Once
	endOnce   sync.Once
	doneOnce  sync.Once
	infos     []Info
	infoCSeq  uint32 // our CSeq space in the dialog (RFC 3261 §12.2.1.1)
}

// Info is one SIP INFO received in a call's dialog.
type Info struct {
	ContentType string
	Body        string
}

func newCall(a *Agent, req *sip.Request, incoming bool) *AgentCall {
	c := &AgentCall{
		a:        a,
		incoming: incoming,
		at:       time.Now(),
		headers:  map[string]string{},
		invite:   req.String(),
		answered: make(chan struct{}),
		done:     make(chan struct{}),
		ended:    make(chan struct{}),
		abort:    make(chan struct{}),
	}
	if h := req.CallID(); h != nil {
		c.callID = h.Value()
	}
	if f := req.From(); f != nil {
		c.fromUser, c.fromDisp = f.Address.User, f.DisplayName
	}
	c.toUser = req.Recipient.User
	for _, h := range req.Headers() {
		k := strings.ToLower(h.Name())
		if _, ok := c.headers[k]; !ok {
			c.headers[k] = h.Value()
		}
	}
	return c
}

// Dialled is the user part of the INVITE's Request-URI: the number the
// gateway called (a trunk's callee).
func (c *AgentCall) Dialled() string { return c.toUser }

// CallID is the call's Call-ID.
func (c *AgentCall) CallID() string { return c.callID }

// Incoming reports whether the gateway placed the call (else Dial did).
func (c *AgentCall) Incoming() bool { return c.incoming }

// At is when the INVITE arrived (or was sent).
func (c *AgentCall) At() time.Time { return c.at }

// From returns the user part and display name of the INVITE's From: for a
// call from the gateway, the caller's number and name.
func (c *AgentCall) From() (user, display string) { return c.fromUser, c.fromDisp }

// Header returns the INVITE's header name (any case), or "".
func (c *AgentCall) Header(name string) string { return c.headers[strings.ToLower(name)] }

// Headers returns the INVITE's headers, keyed by lower-case name (the
// first value of each): x-ivr-path, x-ivr-reason, x-ivr-queue, ...
func (c *AgentCall) Headers() map[string]string {
	out := make(map[string]string, len(c.headers))
	for k, v := range c.headers {
		out[k] = v
	}
	return out
}

// Invite is the INVITE as text, for failure messages.
func (c *AgentCall) Invite() string { return c.invite }

// Answered is closed once the call is established.
func (c *AgentCall) Answered() <-chan struct{} { return c.answered }

// Done is closed when the gateway sent BYE (answered 200).
func (c *AgentCall) Done() <-chan struct{} { return c.done }

// Ended is closed when the call is over for any reason; see EndReason.
func (c *AgentCall) Ended() <-chan struct{} { return c.ended }

// EndReason is one of the End* constants, "" while the call lasts.
func (c *AgentCall) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// EndedAt is when the call ended (zero while it lasts).
func (c *AgentCall) EndedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endedAt
}

// Cancelled reports whether the gateway cancelled the INVITE (RFC 3261 §9).
func (c *AgentCall) Cancelled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancelled
}

// Status is the final status: the one we sent for an incoming call (200,
// 486, 487 after CANCEL, ...), the one we got for Dial; 0 before it.
func (c *AgentCall) Status() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Media is what was negotiated (zero before the SDP was read).
func (c *AgentCall) Media() Media {
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return Media{}
	}
	leg.mu.Lock()
	defer leg.mu.Unlock()
	return leg.media
}

// Audio returns a copy of all audio received, decoded to 8 kHz PCM.
func (c *AgentCall) Audio() []int16 {
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return nil
	}
	leg.mu.Lock()
	defer leg.mu.Unlock()
	return append([]int16(nil), leg.audio...)
}

// AudioSince returns the received audio from the first 20 ms frame that
// arrived at or after t.
func (c *AgentCall) AudioSince(t time.Time) []int16 {
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return nil
	}
	leg.mu.Lock()
	defer leg.mu.Unlock()
	k := sort.Search(len(leg.frames), func(i int) bool { return !leg.frames[i].Before(t) })
	return append([]int16(nil), leg.audio[min(k*frameSamples, len(leg.audio)):]...)
}

// Packets returns a copy of every RTP packet received.
func (c *AgentCall) Packets() []Packet {
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return nil
	}
	leg.mu.Lock()
	defer leg.mu.Unlock()
	return append([]Packet(nil), leg.packets...)
}

// ReceivedPackets is the number of valid RTP packets received on this
// call (counted with Config.DiscardMedia too).
func (c *AgentCall) ReceivedPackets() int {
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return 0
	}
	leg.mu.Lock()
	defer leg.mu.Unlock()
	return leg.received
}

// SentPackets is the number of RTP packets the agent sent on this call.
func (c *AgentCall) SentPackets() int {
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg == nil {
		return 0
	}
	leg.mu.Lock()
	defer leg.mu.Unlock()
	return leg.sent
}

func (c *AgentCall) addInfo(req *sip.Request) {
	var ct string
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.infos = append(c.infos, Info{ContentType: ct, Body: string(req.Body())})
}

// Infos returns the SIP INFO requests received in this call's dialog.
func (c *AgentCall) Infos() []Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Info(nil), c.infos...)
}

// SendDigitINFO sends one key press as SIP INFO (application/dtmf-relay,
// the body most phones send) in the established call and waits for the
// final answer, which it returns as an error unless 2xx.
func (c *AgentCall) SendDigitINFO(ctx context.Context, digit byte, dur time.Duration) error {
	select {
	case <-c.answered:
	default:
		return fmt.Errorf("info %s: call not established", c.callID)
	}
	c.mu.Lock()
	srv := c.srv
	c.infoCSeq++
	cseq := c.infoCSeq
	c.mu.Unlock()
	if srv == nil {
		return fmt.Errorf("info %s: only incoming calls can send INFO", c.callID)
	}
	inv := srv.InviteRequest
	req := sip.NewRequest(sip.INFO, inv.Contact().Address)
	req.SetTransport(inv.Transport())
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.INFO})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody(fmt.Appendf(nil, "Signal=%c\r\nDuration=%d\r\n", digit, dur.Milliseconds()))
	res, err := srv.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("info %s: %w", c.callID, err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("info %s: %d %s", c.callID, res.StatusCode, res.Reason)
	}
	return nil
}

// Hangup ends the call: BYE when it is established (RFC 3261 §15.1.1), a
// 480 when it still rings; nothing when it is over.
func (c *AgentCall) Hangup(ctx context.Context) error {
	select {
	case <-c.ended:
		return nil
	default:
	}
	select {
	case <-c.answered:
	default:
		if c.incoming {
			c.abortOnce.Do(func() { close(c.abort) })
			return nil
		}
	}
	c.mu.Lock()
	srv, cli := c.srv, c.cli
	c.byeSent = true
	c.mu.Unlock()
	var err error
	switch {
	case srv != nil:
		err = srv.Bye(ctx)
	case cli != nil:
		err = cli.Bye(ctx)
	}
	c.end(EndLocalBye, 0)
	if err != nil {
		return fmt.Errorf("hangup %s: %w", c.callID, err)
	}
	return nil
}

// end records how the call ended (the first reason wins), stops its media
// and closes Ended.
func (c *AgentCall) end(reason string, status int) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.reason, c.endedAt = reason, time.Now()
		if status != 0 {
			c.status = status
		}
		leg := c.leg
		c.mu.Unlock()
		if leg != nil {
			leg.stop()
		}
		close(c.ended)
	})
}

func (c *AgentCall) closeMedia() {
	c.mu.Lock()
	leg := c.leg
	c.mu.Unlock()
	if leg != nil {
		leg.stop()
	}
}

func (c *AgentCall) setLeg(l *rtpLeg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leg = l
}

// onInvite runs one incoming call from INVITE to its end: the handler is
// the call (sipgo ends the transaction when a handler returns).
func (a *Agent) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params != nil && to.Params.Has("tag") {
		// A re-INVITE: the gateway does not send them to agents today.
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 480, "Temporarily Unavailable", nil))
		return
	}
	mode, tone := a.mode, a.tone
	a.wg.Add(1)
	a.mu.Unlock()
	defer a.wg.Done()

	c := newCall(a, req, true)
	if !a.add(c) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 480, "Temporarily Unavailable", nil))
		return
	}
	log := a.log.With("call_id", c.callID)
	offer, err := parseSDP(req.Body())
	var m Media
	if err == nil {
		m, err = offer.choose()
	}
	if err != nil {
		log.Warn("unusable offer", "err", err)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		c.end(EndRejected, 488)
		return
	}
	leg, err := newRTPLeg(a.cfg.LocalIP, a.cfg.DiscardMedia)
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
		c.end(EndFailed, 500)
		return
	}
	leg.setMedia(m)
	c.setLeg(leg)
	sess, err := a.dua.ReadInvite(req, tx)
	if err != nil {
		c.end(EndFailed, 0)
		return
	}
	c.mu.Lock()
	c.srv = sess
	c.mu.Unlock()
	defer sess.Close()

	if !a.ring(c, sess, mode) {
		return
	}
	if mode.kind == reject {
		_ = sess.Respond(mode.code, reasonPhrase(mode.code), nil)
		c.end(EndRejected, mode.code)
		return
	}
	answer := writeSDP(leg.local(), []uint8{m.Codec}, m.EventPT, m.HasEvents && !a.cfg.NoEvents)
	c.mu.Lock()
	c.status = 200
	c.mu.Unlock()
	// RespondSDP retransmits the 200 until the ACK arrives through onAck
	// (RFC 3261 §13.3.1.4), or gives up after 64*T1.
	if err := sess.RespondSDP(answer); err != nil {
		log.Warn("answer not acknowledged", "err", err)
		c.end(EndFailed, 0)
		return
	}
	leg.startSending(tone)
	close(c.answered)
	log.Debug("call answered", "codec", m.Codec, "remote_rtp", m.Remote.String())
	select {
	case <-sess.Context().Done(): // BYE either way ended the dialog
	case <-a.ctx.Done():
	}
	c.end(c.dialogEndReason(), 0) // no-op when onBye recorded the reason first
}

// dialogEndReason is why an established dialog ended when no BYE of the
// gateway's was seen: our own BYE, else a failure.
func (c *AgentCall) dialogEndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.byeGot:
		return EndRemoteBye
	case c.byeSent:
		return EndLocalBye
	}
	return EndFailed
}

// ring sends 180 when the agent is to ring, then waits AnswerAfter (for
// ever in NoAnswer). It reports false when the call ended meanwhile:
// CANCEL, Hangup, or the agent closing.
func (a *Agent) ring(c *AgentCall, sess *sipgo.DialogServerSession, mode Mode) bool {
	wait := a.cfg.AnswerAfter
	if mode.kind == noAnswer || wait > 0 {
		if err := sess.Respond(180, "Ringing", nil); err != nil {
			c.end(EndFailed, 0)
			return false
		}
	}
	var timer <-chan time.Time
	if mode.kind != noAnswer {
		timer = time.After(wait)
	}
	select {
	case <-timer:
		return true
	case <-sess.Context().Done():
		// sipgo answered the CANCEL with 200 and the INVITE with 487
		// (RFC 3261 §9.2) before ending the dialog.
		cancelled := errors.Is(context.Cause(sess.Context()), sip.ErrTransactionCanceled)
		c.mu.Lock()
		c.cancelled = cancelled
		c.mu.Unlock()
		if cancelled {
			c.end(EndCancelled, 487)
		} else {
			c.end(EndFailed, 0)
		}
		return false
	case <-c.abort:
	case <-a.ctx.Done():
	}
	_ = sess.Respond(480, "Temporarily Unavailable", nil)
	c.end(EndRejected, 480)
	return false
}

func reasonPhrase(code int) string {
	switch code {
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	}
	return "Rejected"
}

// onAck hands the ACK for our 2xx to its dialog.
func (a *Agent) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := a.lookup(callIDOf(req))
	if c == nil {
		return
	}
	c.mu.Lock()
	srv := c.srv
	c.mu.Unlock()
	if srv != nil {
		if err := srv.ReadAck(req, tx); err != nil {
			a.log.Debug("ack not for our dialog", "err", err)
		}
	}
}

// onBye answers the gateway's BYE with 200 and ends the call; a BYE for no
// call of ours gets 481 (RFC 3261 §15.1.2).
func (a *Agent) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := a.lookup(callIDOf(req))
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	// ReadBye ends the dialog's context before it returns, which wakes the
	// call's own goroutine: record whose end it is first, or that goroutine
	// may call it a failure.
	c.mu.Lock()
	srv, cli := c.srv, c.cli
	c.byeGot = true
	c.mu.Unlock()
	var err error
	switch {
	case srv != nil:
		err = srv.ReadBye(req, tx)
	case cli != nil:
		err = cli.ReadBye(req, tx)
	default:
		err = errors.New("no dialog")
	}
	if err != nil {
		a.log.Debug("bye refused", "err", err)
		c.mu.Lock()
		c.byeGot = false
		c.mu.Unlock()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	c.doneOnce.Do(func() { close(c.done) })
	c.end(EndRemoteBye, 0)
}

func callIDOf(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// Dial calls number at the gateway from the agent's registered socket, as
// a softphone dialling a feature code (*1 available, *2 pause) does, and
// returns once the call is answered and acknowledged. A final non-2xx
// comes back as a *StatusError together with the call's records. When ctx
// ends before the answer, CANCEL is sent.
func (a *Agent) Dial(ctx context.Context, number string) (*AgentCall, error) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, fmt.Errorf("dial %s: agent closed", number)
	}
	tone := a.tone
	a.mu.Unlock()
	leg, err := newRTPLeg(a.cfg.LocalIP, a.cfg.DiscardMedia)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", number, err)
	}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: number, Host: a.gateway.Host, Port: a.gateway.Port})
	req.SetTransport("UDP")
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: a.cfg.Ext, Host: a.gateway.Host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: number, Host: a.gateway.Host}, Params: sip.NewParams()})
	cid := sip.CallIDHeader(sip.GenerateTagN(16) + "@fake-agent")
	req.AppendHeader(&cid)
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&ct)
	req.SetBody(writeSDP(leg.local(), []uint8{0, 8}, 101, true))
	req.Laddr = sip.Addr{IP: a.addr.Addr().AsSlice(), Port: int(a.addr.Port())}

	c := newCall(a, req, false)
	c.setLeg(leg)
	if !a.add(c) {
		leg.stop()
		return nil, fmt.Errorf("dial %s: agent closed", number)
	}
	sess, err := a.dua.WriteInvite(ctx, req)
	if err != nil {
		c.end(EndFailed, 0)
		return c, fmt.Errorf("dial %s: send invite: %w", number, err)
	}
	c.mu.Lock()
	c.cli = sess
	c.mu.Unlock()
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		var de *sipgo.ErrDialogResponse
		var dv sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &de) && de.Res != nil:
			c.end(EndRejected, de.Res.StatusCode)
			return c, fmt.Errorf("dial %s: %w", number, &StatusError{Code: de.Res.StatusCode, Reason: de.Res.Reason})
		case errors.As(err, &dv) && dv.Res != nil:
			c.end(EndRejected, dv.Res.StatusCode)
			return c, fmt.Errorf("dial %s: %w", number, &StatusError{Code: dv.Res.StatusCode, Reason: dv.Res.Reason})
		}
		c.end(EndFailed, 0)
		return c, fmt.Errorf("dial %s: %w", number, err)
	}
	res := sess.InviteResponse
	c.mu.Lock()
	c.status = res.StatusCode
	c.mu.Unlock()
	ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := sess.Ack(ackCtx); err != nil {
		c.end(EndFailed, 0)
		return c, fmt.Errorf("dial %s: ack: %w", number, err)
	}
	offer, err := parseSDP(res.Body())
	var m Media
	if err == nil {
		m, err = offer.choose()
	}
	if err != nil {
		_ = c.Hangup(ackCtx)
		return c, fmt.Errorf("dial %s: answer: %w", number, err)
	}
	leg.setMedia(m)
	leg.startSending(tone)
	close(c.answered)
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		_ = c.Hangup(ackCtx)
		return c, fmt.Errorf("dial %s: agent closed", number)
	}
	a.wg.Add(1) // under a.mu, so never after Close began waiting
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		select {
		case <-sess.Context().Done():
		case <-a.ctx.Done():
		}
		c.end(c.dialogEndReason(), 0) // no-op when onBye came first
	}()
	return c, nil
}
