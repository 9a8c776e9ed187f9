package sip

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/media/dtmf"
)

// digitStep is one SendDigit and the far end's answer to its INFO.
type digitStep struct {
	name    string
	ev      dtmf.Event
	code    int // the far end's answer
	reason  string
	want    dtmf.Event // what the INFO body must parse back to
	wantErr int        // StatusError code SendDigit must return; 0 = nil
}

var digitSteps = []digitStep{
	{name: "200", ev: dtmf.Event{Digit: '5', Duration: 160 * time.Millisecond}, code: 200, reason: "OK",
		want: dtmf.Event{Digit: '5', Source: dtmf.INFO, Duration: 160 * time.Millisecond}},
	{name: "501", ev: dtmf.Event{Digit: '#', Duration: 80 * time.Millisecond}, code: 501, reason: "Not Implemented",
		want: dtmf.Event{Digit: '#', Source: dtmf.INFO, Duration: 80 * time.Millisecond}, wantErr: 501},
	{name: "415", ev: dtmf.Event{Digit: '*'}, code: 415, reason: "Unsupported Media Type",
		want: dtmf.Event{Digit: '*', Source: dtmf.INFO, Duration: dtmf.DefaultRelayDuration}, wantErr: 415},
	{name: "200 after refusal", ev: dtmf.Event{Digit: 'D', Source: dtmf.RFC4733, Duration: 240 * time.Millisecond}, code: 200, reason: "OK",
		want: dtmf.Event{Digit: 'D', Source: dtmf.INFO, Duration: 240 * time.Millisecond}},
}

// async runs f in a goroutine and delivers its error.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// checkStatus fails unless err is nil for code 0, else a *StatusError
// with code.
func checkStatus(t *testing.T, what string, err error, code int) {
	t.Helper()
	if code == 0 {
		if err != nil {
			t.Errorf("%s = %v, want nil", what, err)
		}
		return
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Code != code {
		t.Errorf("%s = %v, want *StatusError %d", what, err, code)
	}
}

// checkInfoBody fails unless info carries want as application/dtmf-relay.
func checkInfoBody(t *testing.T, info *sip.Request, want dtmf.Event) {
	t.Helper()
	ct := info.ContentType()
	if ct == nil || ct.Value() != "application/dtmf-relay" {
		t.Fatalf("INFO Content-Type = %v, want application/dtmf-relay", ct)
	}
	if got, err := dtmf.ParseInfo(ct.Value(), info.Body()); err != nil || got != want {
		t.Errorf("ParseInfo(INFO body %q) = %+v, %v, want %+v", info.Body(), got, err, want)
	}
	if cl := info.ContentLength(); cl == nil || int(*cl) != len(info.Body()) {
		t.Errorf("INFO Content-Length = %v, want %d", cl, len(info.Body()))
	}
}

// expectNoNewInfo reads until a response with code, failing on any INFO
// with a CSeq above last (a retransmission of one already seen is not new).
func expectNoNewInfo(p *phone, code int, last uint32, what string) {
	p.t.Helper()
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		m := p.recv(time.Until(end))
		if m == nil {
			break
		}
		switch m := m.(type) {
		case *sip.Request:
			if m.Method == sip.INFO && m.CSeq().SeqNo > last {
				p.t.Errorf("%s: an INFO (CSeq %d) was sent", what, m.CSeq().SeqNo)
			}
		case *sip.Response:
			if m.StatusCode == code {
				return
			}
		}
	}
	p.t.Fatalf("%s: no %d response", what, code)
}

// answeredCall runs a call from p to the answer and returns the gateway's
// Call and the caller's view of it.
func answeredCall(t *testing.T, tcp bool) (*Call, *dlg, *answerer) {
	t.Helper()
	a := newAnswerer()
	s := startServer(t, a.handle)
	p := newPhone(t, s, tcp)
	d := p.newDialog("digit")
	d.call(offerSDP)
	recvT(t, a.media, "Answer media")
	return recvT(t, a.calls, "call"), d, a
}

func TestCallSendDigit(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(map[bool]string{false: "udp", true: "tcp"}[tcp], func(t *testing.T) {
			c, d, _ := answeredCall(t, tcp)
			p := d.p
			var last uint32 // our highest CSeq in the dialog so far
			for _, st := range digitSteps {
				t.Run(st.name, func(t *testing.T) {
					errc := async(func() error { return c.SendDigit(context.Background(), st.ev) })
					info := p.expectRequest("INFO")
					// RFC 3261 §12.2.1.1, from the UAS side: Request-URI the
					// caller's Contact, From our tag, To the caller's From.
					if got := info.Recipient; got.Host != p.local.Addr().String() || got.Port != int(p.local.Port()) || got.User != "alice" {
						t.Errorf("INFO Request-URI = %s, want the caller's Contact sip:alice@%s", got.String(), p.local)
					}
					if got := info.CallID().Value(); got != d.callID {
						t.Errorf("INFO Call-ID = %s, want %s", got, d.callID)
					}
					if tag, _ := info.From().Params.Get("tag"); tag != d.toTag {
						t.Errorf("INFO From tag = %q, want our To tag %q", tag, d.toTag)
					}
					if tag, _ := info.To().Params.Get("tag"); tag != d.fromTag || info.To().Address.User != "alice" {
						t.Errorf("INFO To = %s, want the caller's From with tag %s", info.To().Value(), d.fromTag)
					}
					cseq := info.CSeq()
					if cseq.MethodName != sip.INFO || cseq.SeqNo <= last {
						t.Errorf("INFO CSeq = %d %s, want INFO above %d", cseq.SeqNo, cseq.MethodName, last)
					}
					last = max(last, cseq.SeqNo)
					if mf := info.MaxForwards(); mf == nil || mf.Val() != 70 {
						t.Errorf("INFO Max-Forwards = %v, want 70", mf)
					}
					if ua := info.GetHeader("User-Agent"); ua == nil || ua.Value() != "ivrgw-test" {
						t.Errorf("INFO User-Agent = %v, want ivrgw-test", ua)
					}
					if v := info.Via(); v == nil || !strings.EqualFold(v.Transport, p.transport()) {
						t.Errorf("INFO Via = %v, want transport %s", v, p.transport())
					}
					checkInfoBody(t, info, st.want)
					p.send(sip.NewResponseFromRequest(info, st.code, st.reason, nil).String())
					checkStatus(t, "SendDigit()", recvT(t, errc, "SendDigit"), st.wantErr)
					select {
					case <-c.Done():
						t.Fatalf("call ended (%s) after INFO answered %d", c.EndReason(), st.code)
					default:
					}
				})
			}

			// Our BYE follows the INFOs in CSeq order.
			hung := async(func() error { return c.Hangup(context.Background()) })
			bye := p.expectRequest("BYE")
			if n := bye.CSeq().SeqNo; n <= last {
				t.Errorf("BYE CSeq = %d, want above the last INFO's %d", n, last)
			}
			last = max(last, bye.CSeq().SeqNo)
			p.send(sip.NewResponseFromRequest(bye, 200, "OK", nil).String())
			if err := recvT(t, hung, "Hangup"); err != nil {
				t.Fatalf("Hangup() = %v, want nil", err)
			}

			// After the BYE nothing is sent: the OPTIONS answer comes next.
			err := c.SendDigit(context.Background(), dtmf.Event{Digit: '1'})
			if !errors.Is(err, ErrCallEnded) {
				t.Errorf("SendDigit() after BYE = %v, want ErrCallEnded", err)
			}
			p.send(p.newDialog("marker").request("OPTIONS", "", 1, ""))
			expectNoNewInfo(p, 200, last, "SendDigit after BYE")
		})
	}
}

// A key that is not one is refused before anything is built or sent.
func TestCallSendDigitBadDigit(t *testing.T) {
	c, d, _ := answeredCall(t, false)
	for _, digit := range []byte{'X', 'a', 0, '\r', ' '} {
		err := c.SendDigit(context.Background(), dtmf.Event{Digit: digit, Duration: 100 * time.Millisecond})
		if !errors.Is(err, dtmf.ErrBadDigit) {
			t.Errorf("SendDigit(%q) = %v, want dtmf.ErrBadDigit", digit, err)
		}
	}
	d.p.send(d.p.newDialog("marker").request("OPTIONS", "", 1, ""))
	expectNoNewInfo(d.p, 200, 0, "SendDigit with bad keys")
}

// A 481 to our INFO: the caller has no such dialog, so the call ends
// (RFC 3261 §12.2.1.2) without a BYE.
func TestCallSendDigitGone(t *testing.T) {
	c, d, a := answeredCall(t, true)
	p := d.p
	errc := async(func() error { return c.SendDigit(context.Background(), dtmf.Event{Digit: '9'}) })
	info := p.expectRequest("INFO")
	p.send(sip.NewResponseFromRequest(info, 481, "Call/Transaction Does Not Exist", nil).String())
	err := recvT(t, errc, "SendDigit")
	checkStatus(t, "SendDigit() answered 481", err, 481)
	if !errors.Is(err, ErrCallEnded) {
		t.Errorf("SendDigit() answered 481 = %v, want it to wrap ErrCallEnded", err)
	}
	if r := recvT(t, a.reason, "end reason"); r != reasonGone {
		t.Errorf("EndReason() = %q, want %q", r, reasonGone)
	}
	// No BYE: the OPTIONS answer is the next message.
	p.send(p.newDialog("marker").request("OPTIONS", "", 1, ""))
	for {
		m := p.recv(5 * time.Second)
		if m == nil {
			t.Fatal("no answer to OPTIONS")
		}
		if req, ok := m.(*sip.Request); ok && req.Method == sip.BYE {
			t.Fatalf("BYE sent after a 481 to INFO")
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode == 200 {
			break
		}
	}
}

// Before the call is answered there is no dialog to send in.
func TestCallSendDigitBeforeAnswer(t *testing.T) {
	errc := make(chan error, 1)
	s := startServer(t, func(ctx context.Context, c *Call) {
		errc <- c.SendDigit(ctx, dtmf.Event{Digit: '5'})
		c.Reject(486, "Busy Here")
	})
	p := newPhone(t, s, false)
	p.newDialog("early").invite(offerSDP)
	expectNoNewInfo(p, 486, 0, "SendDigit before answer")
	if err := recvT(t, errc, "SendDigit"); !errors.Is(err, ErrWrongState) {
		t.Errorf("SendDigit() before answer = %v, want ErrWrongState", err)
	}
}

func TestOutboundSendDigit(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(map[bool]string{false: "udp", true: "tcp"}[tcp], func(t *testing.T) {
			s := startServer(t, nopHandler)
			a := newAgent(t, s, tcp)
			o, inv := a.answer(context.Background(), a.dialRequest())
			last := inv.CSeq().SeqNo
			for _, st := range digitSteps {
				t.Run(st.name, func(t *testing.T) {
					errc := async(func() error { return o.SendDigit(context.Background(), st.ev) })
					info := a.request("INFO") // over UDP: from the listening socket
					// RFC 3261 §12.2.1.1, from the UAC side: Request-URI the
					// 2xx's Contact, From as in the INVITE, To with the
					// agent's tag.
					if got := info.Recipient.String(); got != a.contact() {
						t.Errorf("INFO Request-URI = %s, want the 200's Contact %s", got, a.contact())
					}
					if got := info.CallID().Value(); got != o.ID() {
						t.Errorf("INFO Call-ID = %s, want %s", got, o.ID())
					}
					if got, want := info.From().Value(), inv.From().Value(); got != want {
						t.Errorf("INFO From = %s, want the INVITE's %s", got, want)
					}
					if toTag(info) != a.tag {
						t.Errorf("INFO To tag = %q, want the agent's %q", toTag(info), a.tag)
					}
					cseq := info.CSeq()
					if cseq.MethodName != sip.INFO || cseq.SeqNo <= last {
						t.Errorf("INFO CSeq = %d %s, want INFO above %d", cseq.SeqNo, cseq.MethodName, last)
					}
					last = max(last, cseq.SeqNo)
					checkInfoBody(t, info, st.want)
					a.respond(info, st.code, st.reason, "")
					checkStatus(t, "SendDigit()", recvT(t, errc, "SendDigit"), st.wantErr)
					select {
					case <-o.Done():
						t.Fatalf("leg ended (%s) after INFO answered %d", o.EndReason(), st.code)
					default:
					}
				})
			}

			hung := async(func() error { return o.Hangup(context.Background()) })
			bye := a.request("BYE")
			if n := bye.CSeq().SeqNo; n <= last {
				t.Errorf("BYE CSeq = %d, want above the last INFO's %d", n, last)
			}
			last = max(last, bye.CSeq().SeqNo)
			a.respond(bye, 200, "OK", "")
			if err := recvT(t, hung, "Hangup"); err != nil {
				t.Fatalf("Hangup() = %v, want nil", err)
			}
			if err := o.SendDigit(context.Background(), dtmf.Event{Digit: '1'}); !errors.Is(err, ErrCallEnded) {
				t.Errorf("SendDigit() after BYE = %v, want ErrCallEnded", err)
			}
			a.send(a.newDialog("marker").request("OPTIONS", "", 1, ""))
			expectNoNewInfo(a.phone, 200, last, "SendDigit after BYE")
		})
	}
}

// A 481 from the agent ends the leg, and later keys are refused.
func TestOutboundSendDigitGone(t *testing.T) {
	s := startServer(t, nopHandler)
	a := newAgent(t, s, false)
	o, _ := a.answer(context.Background(), a.dialRequest())
	errc := async(func() error { return o.SendDigit(context.Background(), dtmf.Event{Digit: '0'}) })
	info := a.request("INFO")
	a.respond(info, 481, "Call/Transaction Does Not Exist", "")
	err := recvT(t, errc, "SendDigit")
	checkStatus(t, "SendDigit() answered 481", err, 481)
	if !errors.Is(err, ErrCallEnded) {
		t.Errorf("SendDigit() answered 481 = %v, want it to wrap ErrCallEnded", err)
	}
	recvT(t, o.Done(), "Done")
	if r := o.EndReason(); r != reasonGone {
		t.Errorf("EndReason() = %q, want %q", r, reasonGone)
	}
	if err := o.SendDigit(context.Background(), dtmf.Event{Digit: '1'}); !errors.Is(err, ErrCallEnded) {
		t.Errorf("SendDigit() after 481 = %v, want ErrCallEnded", err)
	}
	if err := o.SendDigit(context.Background(), dtmf.Event{Digit: 'Z'}); !errors.Is(err, dtmf.ErrBadDigit) {
		t.Errorf("SendDigit('Z') = %v, want dtmf.ErrBadDigit", err)
	}
}
