package sip

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// inviteLinger keeps an ended call's INVITE key for as long as the caller
// may retransmit the INVITE (Timer B, 64*T1, RFC 3261 §17.1.1.2).
const inviteLinger = 64 * 500 * time.Millisecond // 64×T1, T1 = 500 ms (RFC 3261 §17.1.1.1)

func dialogKey(callID, localTag, remoteTag string) string {
	return callID + "\x00" + localTag + "\x00" + remoteTag
}

// inviteKey identifies an INVITE across retransmissions even after its
// transaction is gone: Call-ID, From tag and CSeq (RFC 3261 §8.2.2.2).
func inviteKey(req *sip.Request) string {
	tag, _ := req.From().Params.Get("tag")
	return callID(req) + "\x00" + tag + "\x00" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
}

func toTag(req *sip.Request) string {
	tag, _ := req.To().Params.Get("tag")
	return tag
}

// lookup finds the dialog of an in-dialog request from the caller: our tag
// is in To, theirs in From.
func (s *Server) lookup(req *sip.Request) *Call {
	from, _ := req.From().Params.Get("tag")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialogs[dialogKey(callID(req), toTag(req), from)]
}

func (s *Server) forgetDialog(c *Call) {
	s.mu.Lock()
	delete(s.dialogs, dialogKey(c.id, c.localTag, c.remoteTag))
	s.mu.Unlock()
}

// contact is our Contact for a transport: PublicIP and the listening port.
func (s *Server) contact(transport string) string {
	if strings.EqualFold(transport, transportTLS) {
		return s.tlsContact(false)
	}
	if strings.EqualFold(transport, "TCP") {
		return "<sip:" + netip.AddrPortFrom(s.cfg.PublicIP, s.TCPAddr().Port()).String() + ";transport=tcp>"
	}
	return "<sip:" + netip.AddrPortFrom(s.cfg.PublicIP, s.Addr().Port()).String() + ">"
}

// onInvite starts a call, or routes an INVITE inside a dialog (To has a
// tag) to the re-INVITE handling: sipgo's ReadInvite would write a fresh
// To tag over it.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if toTag(req) != "" {
		s.onReinvite(req, tx)
		return
	}
	if rej := checkBody(req); rej != nil {
		s.respond(req, tx, rej.code, rej.reason, rej.headers...)
		return
	}
	key := inviteKey(req)
	s.mu.Lock()
	if old := s.invites[key]; old != nil {
		s.mu.Unlock()
		old.absorb(tx)
		return
	}
	if s.shutdown || s.draining.Load() {
		s.mu.Unlock()
		s.unavailable(req, tx) // a retransmission of a live call's INVITE was absorbed above
		return
	}
	src, _ := netip.ParseAddrPort(req.Source())
	release, ok := s.guard.holdPending(src.Addr())
	if !ok {
		// Before the handler runs, so before any RTP port is taken.
		s.mu.Unlock()
		s.badLog.log(s.log, "sip source has too many calls awaiting ack", "source", src.Addr().String())
		s.respond(req, tx, 503, "Service Unavailable", retryAfter(pendingRetry))
		return
	}
	c := s.newCall(req, tx)
	c.unpend = release
	s.invites[key] = c
	s.dialogs[dialogKey(c.id, c.localTag, c.remoteTag)] = c
	s.calls.Add(1)
	s.mu.Unlock()
	s.active.Add(1)
	defer func() {
		s.active.Add(-1)
		s.calls.Done()
		time.AfterFunc(inviteLinger, func() {
			s.mu.Lock()
			delete(s.invites, key)
			s.mu.Unlock()
		})
	}()

	// sipgo sends 100 Trying only after 200 ms; send it now so the caller
	// stops retransmitting at once (RFC 3261 §17.2.1).
	trying := sip.NewResponseFromRequest(req, 100, "Trying", nil)
	trying.AppendHeader(sip.NewHeader("Server", c.s.cfg.UserAgent))
	if err := tx.Respond(trying); err != nil {
		c.log.Debug("sip send 100 failed", "error", err)
	}
	// sipgo answers a matching CANCEL with 200 and the INVITE with 487
	// (RFC 3261 §9.2); we only end the call.
	if !tx.OnCancel(func(*sip.Request) { c.cancelled() }) {
		c.cancelled()
	}
	c.log.Info("sip call offered", "transport", c.Transport(), "source", c.source.String(), "delayed_offer", len(req.Body()) == 0)
	c.run()
}

// newCall builds the Call for a new INVITE; s.mu is held.
func (s *Server) newCall(req *sip.Request, tx sip.ServerTransaction) *Call {
	remoteTag, _ := req.From().Params.Get("tag")
	c := &Call{
		s:         s,
		invite:    req,
		tx:        tx,
		id:        callID(req),
		localTag:  sip.GenerateTagN(16),
		remoteTag: remoteTag,
		acks:      make(chan *sip.Request, 4),
		updates:   make(chan sdp.Media, 4),
		digits:    make(chan dtmf.Event, 32),
		done:      make(chan struct{}),
		sending:   make(chan struct{}, 1),
		cseq:      1,
	}
	c.source, _ = netip.ParseAddrPort(req.Source())
	c.log = s.log.With("call_id", c.id)
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	if ct := req.Contact(); ct != nil {
		c.target = *ct.Address.Clone()
	} else {
		c.target = *req.Recipient.Clone()
	}
	c.remoteCSeq = req.CSeq().SeqNo
	return c
}

// cancelled runs inside sipgo's transaction state machine on CANCEL: it
// must not touch the transaction. sipgo sends the 487 itself.
func (c *Call) cancelled() {
	c.mu.Lock()
	if c.state != stateEarly {
		c.mu.Unlock()
		return
	}
	c.state = stateRejected
	c.mu.Unlock()
	c.end(reasonCancel)
}

// absorb answers an INVITE retransmission that arrived in a new
// transaction (the first one died) with the final response already sent,
// and starts no second call.
func (c *Call) absorb(tx sip.ServerTransaction) {
	c.mu.Lock()
	final := c.final
	c.mu.Unlock()
	c.log.Debug("sip invite retransmission absorbed")
	if final == nil {
		final = sip.NewResponseFromRequest(c.invite, 100, "Trying", nil)
	}
	if err := tx.Respond(final); err != nil {
		c.log.Debug("sip respond to retransmission failed", "error", err)
	}
}

// run calls the handler, recovering a panic, then makes sure the call is
// finished on the wire.
func (c *Call) run() {
	panicked := false
	func() {
		defer func() {
			if r := recover(); r != nil {
				panicked = true
				c.log.Error("sip call handler panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}()
		c.s.h(c.ctx, c)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.mu.Lock()
	early := c.state == stateEarly && !c.ended
	c.mu.Unlock()
	if early && panicked {
		if err := c.Reject(500, "Server Internal Error"); err != nil {
			c.log.Debug("sip reject after panic", "error", err)
		}
	}
	if err := c.terminate(ctx, reasonLocalBye); err != nil {
		c.log.Debug("sip end after handler", "error", err)
	}
}

// await2xx retransmits a 2xx to an INVITE until its ACK arrives (RFC 3261
// §13.3.1.4: T1 doubling up to T2, for 64*T1), and returns the ACK.
func (c *Call) await2xx(ctx context.Context, res *sip.Response, cseq uint32) (*sip.Request, error) {
	interval := sip.T1
	retx := time.NewTimer(interval)
	defer retx.Stop()
	deadline := time.NewTimer(c.s.ackTimeout())
	defer deadline.Stop()
	for {
		select {
		case ack := <-c.acks:
			if ack.CSeq().SeqNo != cseq {
				continue // a late ACK of an earlier 2xx
			}
			return ack, nil
		case <-retx.C:
			if err := c.s.ua.TransportLayer().WriteMsg(res); err != nil {
				c.log.Debug("sip 2xx retransmission failed", "error", err)
			}
			interval = min(2*interval, sip.T2)
			retx.Reset(interval)
		case <-deadline.C:
			c.log.Warn("sip no ack for 2xx")
			c.terminate(context.WithoutCancel(ctx), reasonAckTimeout)
			return nil, ErrNoACK
		case <-c.done:
			return nil, fmt.Errorf("%w: %s", ErrCallEnded, c.EndReason())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Server) ackTimeout() time.Duration {
	if s.ackWait > 0 {
		return s.ackWait
	}
	return 64 * sip.T1
}

// onAck hands an ACK for a 2xx to its call. ACKs for non-2xx responses
// never get here: sipgo's INVITE transaction absorbs them.
func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		if o := s.lookupOutbound(req); o != nil {
			o.onAck(req)
			return
		}
		s.log.Debug("sip ack for unknown dialog", "call_id", callID(req))
		return
	}
	select {
	case c.acks <- req:
	default:
	}
}

// onBye ends the call on the remote's BYE (RFC 3261 §15.1.2); a BYE for no
// dialog gets 481.
func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := s.lookup(req)
	if c == nil {
		if o := s.lookupOutbound(req); o != nil {
			o.onBye(req, tx)
			return
		}
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	// End first, as Outbound.onBye does: once the caller has its 200,
	// nothing of the dialog remains, and a second BYE gets 481.
	c.end(reasonRemoteBye)
	s.respond(req, tx, 200, "OK")
}

// onCancel gets only a CANCEL that matched no INVITE transaction (sipgo
// handles the others): RFC 3261 §9.2 says 481.
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
}

// checkBody applies RFC 3261 §8.2.3 to an INVITE: its Accept must allow
// application/sdp (406) and its body must be application/sdp (415).
func checkBody(req *sip.Request) *rejection {
	accept := sip.NewHeader("Accept", "application/sdp")
	if hs := req.GetHeaders("Accept"); len(hs) > 0 {
		ok := false
		for _, h := range hs {
			for _, v := range strings.Split(h.Value(), ",") {
				mt, _, _ := strings.Cut(strings.TrimSpace(v), ";")
				switch strings.ToLower(strings.TrimSpace(mt)) {
				case "application/sdp", "application/*", "*/*":
					ok = true
				}
			}
		}
		if !ok {
			return &rejection{code: 406, reason: "Not Acceptable", headers: []sip.Header{accept}}
		}
	}
	if enc := req.GetHeader("Content-Encoding"); enc != nil && !strings.EqualFold(strings.TrimSpace(enc.Value()), "identity") {
		return &rejection{code: 415, reason: "Unsupported Media Type", headers: []sip.Header{accept, sip.NewHeader("Accept-Encoding", "identity")}}
	}
	if len(req.Body()) == 0 {
		return nil
	}
	ct := req.ContentType()
	if ct == nil {
		return &rejection{code: 415, reason: "Unsupported Media Type", headers: []sip.Header{accept}}
	}
	if mt, _, err := mime.ParseMediaType(ct.Value()); err != nil || mt != "application/sdp" {
		return &rejection{code: 415, reason: "Unsupported Media Type", headers: []sip.Header{accept}}
	}
	return nil
}

// sendBye ends the dialog from our side (RFC 3261 §15.1.1).
func (c *Call) sendBye(ctx context.Context) error {
	c.mu.Lock()
	c.cseq++
	bye := c.request(sip.BYE, c.cseq)
	c.mu.Unlock()
	res, err := c.transact(ctx, bye)
	if err != nil {
		return fmt.Errorf("send bye: %w", err)
	}
	c.log.Debug("sip bye answered", "status", res.StatusCode)
	return nil
}

// request builds a request inside the dialog as its UAS (RFC 3261
// §12.2.1.1): the remote target as Request-URI, the route set, our tag in
// From, the caller's in To, the next CSeq (the caller takes it from c.cseq,
// so no two requests share one). It is the one place our requests to the
// caller are built, BYE and INFO alike. c.mu is held.
func (c *Call) request(method sip.RequestMethod, cseq uint32) *sip.Request {
	target := *c.target.Clone()
	req := sip.NewRequest(method, target)
	from := c.final.To().AsFrom() // carries our tag
	to := c.invite.From().AsTo()
	cid := sip.CallIDHeader(c.id)
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(&mf)
	// The route set is the Record-Route of the INVITE, in order (§12.1.1).
	var firstRoute *sip.Uri
	for _, rr := range c.invite.GetHeaders("Record-Route") {
		req.AppendHeader(sip.NewHeader("Route", rr.Value()))
		if firstRoute == nil {
			if h, ok := rr.(*sip.RecordRouteHeader); ok {
				firstRoute = &h.Address
			}
		}
	}
	req.AppendHeader(sip.NewHeader("User-Agent", c.s.cfg.UserAgent))
	req.SetBody(nil)
	req.SetTransport(c.Transport())
	// Where it goes: the first route, else the remote target, when that is
	// an IP literal; the INVITE's source otherwise. A host name from the
	// caller is never resolved (dns.go): the hop that sent us the INVITE
	// is the one that can take the request back.
	next := &target
	if firstRoute != nil {
		next = firstRoute
	}
	dest, ok := ipDestination(next.Host, next.Port)
	switch {
	case strings.EqualFold(c.Transport(), "TCP"), c.TLS():
		// Reuse the caller's connection (RFC 5923 style); its Contact is
		// often not listening.
		dest = c.source
	case !ok:
		c.log.Debug("sip in-dialog target is a host name: sent to the source instead", "host", clipHost(next.Host))
		dest = c.source
	}
	req.SetDestination(dest.String())
	if !strings.EqualFold(c.Transport(), "TCP") && !c.TLS() {
		// Leave from our listening socket, not a random port (FACTS.md).
		la := c.s.Addr()
		req.Laddr = sip.Addr{IP: net.IP(la.Addr().AsSlice()), Port: int(la.Port())}
	}
	return req
}

// transact sends a request built by request, sipgo adding the Via, and
// waits for its final response.
func (c *Call) transact(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	tx, err := c.s.client.TransactionRequest(ctx, req, sipgo.ClientRequestAddVia)
	if err != nil {
		return nil, err
	}
	return finalResponse(ctx, tx)
}

// finalResponse waits for the final response of a client transaction,
// skipping provisional ones, and terminates the transaction.
func finalResponse(ctx context.Context, tx sip.ClientTransaction) (*sip.Response, error) {
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			return nil, tx.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
