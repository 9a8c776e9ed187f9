package sip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// outboundTable holds the Server's outbound legs by dialog, and the
// goroutines that finish cancelled ones. Its zero value is ready.
type outboundTable struct {
	mu    sync.Mutex
	legs  map[string]*Outbound // dialogKey(Call-ID, our tag, agent's tag)
	stop  chan struct{}        // closed on shutdown: reapers give up
	reaps sync.WaitGroup
}

func (t *outboundTable) add(o *Outbound) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.legs == nil {
		t.legs = make(map[string]*Outbound)
	}
	t.legs[dialogKey(o.id, o.localTag, o.remoteTag)] = o
}

func (t *outboundTable) remove(o *Outbound) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := dialogKey(o.id, o.localTag, o.remoteTag)
	if t.legs[key] == o {
		delete(t.legs, key)
	}
}

func (t *outboundTable) get(key string) *Outbound {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.legs[key]
}

func (t *outboundTable) stopped() chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stop == nil {
		t.stop = make(chan struct{})
	}
	return t.stop
}

func (t *outboundTable) all() []*Outbound {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Outbound, 0, len(t.legs))
	for _, o := range t.legs {
		out = append(out, o)
	}
	return out
}

// lookupOutbound finds the outbound leg of a request from the agent: our
// tag is in its To, theirs in its From.
func (s *Server) lookupOutbound(req *sip.Request) *Outbound {
	from, _ := req.From().Params.Get("tag")
	return s.out.get(dialogKey(callID(req), toTag(req), from))
}

// outboundStray re-ACKs a 2xx retransmission that arrives after sipgo's
// INVITE transaction is gone (RFC 3261 §13.2.2.4: every 2xx gets the ACK).
func (s *Server) outboundStray(res *sip.Response) bool {
	if !res.IsSuccess() || res.CSeq() == nil || res.CSeq().MethodName != sip.INVITE || res.CallID() == nil || res.From() == nil {
		return false
	}
	from, _ := res.From().Params.Get("tag")
	o := s.out.get(dialogKey(res.CallID().Value(), from, toTagOf(res)))
	if o == nil || res.CSeq().SeqNo != o.invite.CSeq().SeqNo {
		return false
	}
	return o.resendAck(res)
}

// drainOutbound hangs up every answered outbound leg and stops the
// reapers, waiting for them until ctx ends.
func (s *Server) drainOutbound(ctx context.Context) {
	close(s.out.stopped())
	var wg sync.WaitGroup
	for _, o := range s.out.all() {
		wg.Go(func() {
			if err := o.terminate(ctx, reasonShutdown); err != nil {
				o.log.Debug("sip outbound bye at shutdown", "error", err)
			}
		})
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { s.out.reaps.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("sip outbound drain timed out")
	}
}

// end marks the leg ended; false if it already was.
func (o *Outbound) end(reason string) bool {
	o.mu.Lock()
	if o.ended {
		o.mu.Unlock()
		return false
	}
	o.ended, o.endReason = true, reason
	dropped := o.dropped
	o.mu.Unlock()
	close(o.done)
	o.s.out.remove(o)
	o.log.Info("sip agent leg ended", "reason", reason, "dropped_events", dropped)
	return true
}

// terminate ends an answered leg with a BYE; nothing if it has ended.
func (o *Outbound) terminate(ctx context.Context, reason string) error {
	o.mu.Lock()
	established := o.established
	o.mu.Unlock()
	if !established || !o.end(reason) {
		return nil
	}
	// The caller's context may be cancelled already (the call ended): the
	// BYE gets a detached one, bounded like Call's (Timer F is 64*T1).
	deadline := time.Now().Add(byeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	byeCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	if err := o.sendBye(byeCtx); err != nil {
		o.log.Warn("sip agent bye failed", "error", err)
		return fmt.Errorf("hang up agent: %w", err)
	}
	return nil
}

func (o *Outbound) sendBye(ctx context.Context) error {
	o.mu.Lock()
	o.cseq++
	bye := o.request(sip.BYE, o.cseq)
	o.mu.Unlock()
	tx, err := o.s.client.TransactionRequest(ctx, bye, asBuilt)
	if err != nil {
		return fmt.Errorf("send bye: %w", err)
	}
	res, err := finalResponse(ctx, tx)
	if err != nil {
		return fmt.Errorf("send bye: %w", err)
	}
	o.log.Debug("sip agent bye answered", "status", res.StatusCode)
	return nil
}

// abandon gives up an unanswered INVITE. RFC 3261 §9.1: CANCEL only once a
// provisional response came; if none has, the reaper sends it when one
// does. The reaper then waits for the INVITE's final response: a 487 is
// ACKed by sipgo, a 200 that crossed our CANCEL gets ACK then BYE.
func (o *Outbound) abandon(provisional bool) {
	var cancelTx sip.ClientTransaction
	if provisional {
		cancelTx = o.sendCancel()
	}
	o.s.out.reaps.Add(1)
	go o.reap(cancelTx)
}

func (o *Outbound) sendCancel() sip.ClientTransaction {
	tx, err := o.s.client.TransactionRequest(context.Background(), o.cancelRequest(), asBuilt)
	if err != nil {
		o.log.Warn("sip cancel send failed", "error", err)
		return nil
	}
	o.log.Debug("sip cancel sent")
	return tx
}

// cancelWait bounds the wait for the INVITE's final response after CANCEL
// (RFC 3261 §9.1: 64*T1, then the transaction is considered cancelled).
const cancelWait = 64 * 500 * time.Millisecond // 64×T1, T1 = 500 ms (RFC 3261 §17.1.1.1)

// reap finishes a cancelled INVITE; it is the only goroutine an outbound
// leg starts, and it ends with the INVITE transaction.
func (o *Outbound) reap(cancelTx sip.ClientTransaction) {
	defer o.s.out.reaps.Done()
	var cancelRes <-chan *sip.Response
	if cancelTx != nil {
		cancelRes = cancelTx.Responses()
		defer cancelTx.Terminate()
	}
	deadline := time.NewTimer(cancelWait)
	defer deadline.Stop()
	stop := o.s.out.stopped()
	for {
		select {
		case res := <-o.tx.Responses():
			switch {
			case res.IsProvisional():
				if cancelTx == nil {
					if cancelTx = o.sendCancel(); cancelTx != nil {
						cancelRes = cancelTx.Responses()
						defer cancelTx.Terminate()
					}
				}
			case res.IsSuccess():
				// The 200 crossed our CANCEL (RFC 3261 §9.1, §15): the
				// dialog exists, so ACK it and end it at once.
				o.log.Info("sip agent answered after cancel: ack and bye")
				o.establish(res)
				ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
				if err := o.terminate(ctx, reasonNotAnswered); err != nil {
					o.log.Debug("sip bye after late answer", "error", err)
				}
				cancel()
				return
			default:
				o.log.Debug("sip invite ended after cancel", "status", res.StatusCode)
				return
			}
		case res := <-cancelRes:
			if !res.IsProvisional() {
				o.log.Debug("sip cancel answered", "status", res.StatusCode)
				cancelRes = nil
			}
		case <-o.tx.Done():
			return
		case <-deadline.C:
			o.log.Debug("sip no final response after cancel")
			o.tx.Terminate()
			return
		case <-stop:
			o.tx.Terminate()
			return
		}
	}
}

// onBye answers the agent's BYE and ends the leg (RFC 3261 §15.1.2).
func (o *Outbound) onBye(req *sip.Request, tx sip.ServerTransaction) {
	o.end(reasonRemoteBye) // first: once the agent has its 200, nothing of the leg remains
	o.s.respond(req, tx, 200, "OK")
}

// onAck hands the ACK of our 2xx to a re-INVITE to its waiter.
func (o *Outbound) onAck(req *sip.Request) {
	select {
	case o.acks <- req:
	default:
	}
}

func (o *Outbound) pushDigit(ev dtmf.Event) {
	select {
	case o.digits <- ev:
	default:
		o.mu.Lock()
		o.dropped++
		o.mu.Unlock()
	}
}

func (o *Outbound) pushUpdate(m sdp.Media) {
	for range 2 {
		select {
		case o.updates <- m:
			return
		default:
		}
		select {
		case <-o.updates:
		default:
		}
	}
}

// onReinvite answers the agent's re-INVITE (hold, unhold, session refresh;
// RFC 3261 §14.2) with our same media, codec kept, o= version +1 (RFC 3264
// §8), and waits for the ACK in the request's own goroutine.
func (o *Outbound) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	s := o.s
	if rej := checkBody(req); rej != nil {
		s.respond(req, tx, rej.code, rej.reason, rej.headers...)
		return
	}
	cseq := req.CSeq().SeqNo
	o.mu.Lock()
	switch {
	case o.ended:
		o.mu.Unlock()
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	case o.remoteSeen && cseq <= o.remoteCSeq:
		o.mu.Unlock()
		s.respond(req, tx, 500, "Server Internal Error (CSeq out of order)") // RFC 3261 §12.2.2
		return
	case o.reinviting:
		o.mu.Unlock()
		s.respond(req, tx, 500, "Server Internal Error", // RFC 3261 §14.2
			sip.NewHeader("Retry-After", strconv.Itoa(rand.IntN(11))))
		return
	}
	o.remoteSeen, o.remoteCSeq, o.reinviting = true, cseq, true
	local := o.local
	local.Version++
	local.Codecs = []uint8{o.media.Codec}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.reinviting = false
		o.mu.Unlock()
	}()

	offer := req.Body()
	body, m, code, reason, err := answerReoffer(offer, local)
	if err != nil {
		o.log.Info("sip agent re-invite refused", "code", code, "error", err)
		s.respond(req, tx, code, reason)
		return
	}
	res := s.sdpOK(req, o.transport, body)
	if err := tx.Respond(res); err != nil {
		o.log.Warn("sip agent re-invite 200 failed", "error", err)
		return
	}
	ack, err := o.await2xx(res, cseq)
	if err != nil {
		o.log.Info("sip agent re-invite not acknowledged", "error", err)
		return
	}
	if len(offer) == 0 {
		if m, err = sdp.ParseAnswer(ack.Body(), local); err != nil {
			o.log.Warn("sip agent re-invite ack answer unusable", "error", err)
			return
		}
	}
	o.mu.Lock()
	if ct := req.Contact(); ct != nil {
		o.target = *ct.Address.Clone() // target refresh, RFC 3261 §12.2.1.2
	}
	o.local, o.media = local, m
	o.mu.Unlock()
	o.log.Info("sip agent media updated", "remote_rtp", m.Remote.String(), "hold", m.Hold)
	o.pushUpdate(m)
}

var errLegEnded = errors.New("sip: agent leg ended")

// await2xx retransmits our 2xx to a re-INVITE until its ACK (RFC 3261
// §13.3.1.4: T1 doubling to T2, for 64*T1); with none the leg is ended
// with a BYE.
func (o *Outbound) await2xx(res *sip.Response, cseq uint32) (*sip.Request, error) {
	interval := sip.T1
	retx := time.NewTimer(interval)
	defer retx.Stop()
	deadline := time.NewTimer(o.s.ackTimeout())
	defer deadline.Stop()
	for {
		select {
		case ack := <-o.acks:
			if ack.CSeq().SeqNo == cseq {
				return ack, nil
			}
		case <-retx.C:
			if err := o.s.ua.TransportLayer().WriteMsg(res); err != nil {
				o.log.Debug("sip 2xx retransmission failed", "error", err)
			}
			interval = min(2*interval, sip.T2)
			retx.Reset(interval)
		case <-deadline.C:
			ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
			defer cancel()
			o.terminate(ctx, reasonAckTimeout)
			return nil, ErrNoACK
		case <-o.done:
			return nil, errLegEnded
		}
	}
}
