package sip

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestCallFlow(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		name := map[bool]string{false: "udp", true: "tcp"}[tcp]
		t.Run(name+"/remote bye", func(t *testing.T) {
			a := newAnswerer()
			s := startServer(t, a.handle)
			p := newPhone(t, s, tcp)
			d := p.newDialog("flow")
			d.invite(offerSDP)
			// Ours at once, not sipgo's 200 ms timer (which has no Server
			// header and which a prompt final answer would pre-empt).
			if h := p.expect(100, "INVITE").GetHeader("Server"); h == nil || h.Value() == "" {
				t.Errorf("100 Trying without our Server header: not sent by the gateway")
			}
			ok := p.expect(200, "INVITE")
			d.toTag = toTagRes(ok)
			if d.toTag == "" {
				t.Errorf("200 To has no tag")
			}
			if ct := ok.GetHeader("Content-Type"); ct == nil || ct.Value() != "application/sdp" {
				t.Errorf("200 Content-Type = %v, want application/sdp", ct)
			}
			wantContact := "<sip:" + s.Addr().String() + ">"
			if tcp {
				wantContact = "<sip:" + s.TCPAddr().String() + ";transport=tcp>"
			}
			if c := ok.GetHeader("Contact"); c == nil || c.Value() != wantContact {
				t.Errorf("200 Contact = %v, want %s", c, wantContact)
			}
			if !strings.Contains(string(ok.Body()), "m=audio 40000 RTP/AVP 0 101") {
				t.Errorf("200 SDP = %q, want m=audio 40000 RTP/AVP 0 101", ok.Body())
			}
			p.send(d.request("ACK", "", 1, ""))
			m := recvT(t, a.media, "Answer media")
			if m.Remote != netip.MustParseAddrPort("127.0.0.1:10000") || m.EventPT != 101 {
				t.Errorf("Answer() = %+v, want remote 127.0.0.1:10000 event 101", m)
			}
			c := recvT(t, a.calls, "call")
			if c.Callee() != "5000" || c.Caller() != (Party{User: "alice", Display: "Alice"}) || c.Transport() != p.transport() || c.Source() != p.local {
				t.Errorf("call = callee %q caller %+v transport %s source %v, want 5000 alice/Alice %s %v",
					c.Callee(), c.Caller(), c.Transport(), c.Source(), p.transport(), p.local)
			}
			if s.ActiveCalls() != 1 {
				t.Errorf("ActiveCalls() = %d, want 1", s.ActiveCalls())
			}
			p.send(d.request("BYE", "", 2, ""))
			p.expect(200, "BYE")
			if r := recvT(t, a.reason, "end reason"); r != "remote_bye" {
				t.Errorf("EndReason() = %q, want remote_bye", r)
			}
			// The same BYE again is outside any dialog now.
			p.send(d.request("BYE", "", 3, ""))
			p.expect(481, "BYE after end")
		})
		t.Run(name+"/local hangup", func(t *testing.T) {
			reason := make(chan string, 1)
			hangErr := make(chan error, 1)
			s := startServer(t, func(ctx context.Context, c *Call) {
				if _, err := c.Answer(ctx, testLocal); err != nil {
					hangErr <- err
					return
				}
				hangErr <- c.Hangup(ctx)
				reason <- c.EndReason()
				if c.Hangup(ctx) != nil {
					t.Errorf("second Hangup() != nil")
				}
			})
			p := newPhone(t, s, tcp)
			d := p.newDialog("hang")
			d.call(offerSDP)
			bye := p.expectRequest("BYE")
			if got := bye.CSeq().MethodName; got != sip.BYE {
				t.Errorf("BYE CSeq method = %s", got)
			}
			if tag, _ := bye.From().Params.Get("tag"); tag != d.toTag {
				t.Errorf("BYE From tag = %q, want our To tag %q", tag, d.toTag)
			}
			if tag, _ := bye.To().Params.Get("tag"); tag != d.fromTag {
				t.Errorf("BYE To tag = %q, want %q", tag, d.fromTag)
			}
			res := sip.NewResponseFromRequest(bye, 200, "OK", nil)
			p.send(res.String())
			if err := recvT(t, hangErr, "Hangup"); err != nil {
				t.Errorf("Hangup() = %v, want nil", err)
			}
			if r := recvT(t, reason, "reason"); r != "local_bye" {
				t.Errorf("EndReason() = %q, want local_bye", r)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	reason := make(chan string, 1)
	s := startServer(t, func(ctx context.Context, c *Call) {
		<-ctx.Done()
		reason <- c.EndReason()
	})
	p := newPhone(t, s, false)
	d := p.newDialog("cancel")
	br := d.invite(offerSDP)
	p.expect(100, "INVITE")
	p.send(d.request("CANCEL", br, 1, ""))
	// 200 to the CANCEL and 487 to the INVITE, in either order.
	got := map[string]bool{}
	for len(got) < 2 {
		m := p.recv(3 * time.Second)
		if m == nil {
			t.Fatalf("got responses %v, want 200 CANCEL and 487 INVITE", got)
		}
		if r, ok := m.(*sip.Response); ok && r.StatusCode >= 200 {
			got[string(r.CSeq().MethodName)+" "+r.Reason] = r.StatusCode == 200 && r.CSeq().MethodName == sip.CANCEL || r.StatusCode == 487
		}
	}
	for k, ok := range got {
		if !ok {
			t.Errorf("response %s, want 200 CANCEL / 487 INVITE", k)
		}
	}
	if r := recvT(t, reason, "reason"); r != "cancel" {
		t.Errorf("EndReason() = %q, want cancel", r)
	}
	// A CANCEL for no transaction gets 481 (RFC 3261 §9.2).
	p.send(p.newDialog("x").request("CANCEL", "", 1, ""))
	p.expect(481, "stray CANCEL")
}

func TestOptionsAndMethods(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) { c.Reject(486, "Busy Here") })
	reg := startServer(t, func(ctx context.Context, c *Call) {}, func(s *Server) {
		s.Handle("REGISTER", func(req *sip.Request, tx sip.ServerTransaction) {
			tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		})
	})
	tests := []struct {
		name       string
		srv        *Server
		method     string
		hdrs       []string
		want       int
		allowHas   string
		allowLacks string
	}{
		{name: "options", srv: s, method: "OPTIONS", want: 200, allowHas: "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO", allowLacks: "REGISTER"},
		{name: "options with registrar", srv: reg, method: "OPTIONS", want: 200, allowHas: "REGISTER"},
		{name: "register with registrar", srv: reg, method: "REGISTER", want: 200},
		{name: "register without registrar", srv: s, method: "REGISTER", want: 405, allowHas: "INFO"},
		{name: "subscribe", srv: s, method: "SUBSCRIBE", want: 405, allowHas: "OPTIONS"},
		{name: "made-up method", srv: s, method: "FROBNICATE", want: 501},
		{name: "require unknown", srv: s, method: "OPTIONS", hdrs: []string{"Require: 100rel"}, want: 420},
		{name: "max-forwards 0 at a UAS", srv: s, method: "OPTIONS", want: 200},
		{name: "bad version", srv: s, method: "OPTIONS", want: 505},
		{name: "cseq method mismatch", srv: s, method: "OPTIONS", want: 400},
		{name: "bye outside dialog", srv: s, method: "BYE", want: 481},
		{name: "info outside dialog", srv: s, method: "INFO", want: 481},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPhone(t, tt.srv, false)
			msg := p.newDialog("m").request(tt.method, "", 1, "", tt.hdrs...)
			switch tt.name {
			case "bad version":
				msg = strings.Replace(msg, " SIP/2.0\r\n", " SIP/3.0\r\n", 1)
			case "max-forwards 0 at a UAS":
				msg = strings.Replace(msg, "Max-Forwards: 70", "Max-Forwards: 0", 1)
			case "cseq method mismatch":
				msg = strings.Replace(msg, "CSeq: 1 OPTIONS", "CSeq: 1 INVITE", 1)
			}
			p.send(msg)
			res := p.expect(tt.want, tt.method)
			allow := ""
			if h := res.GetHeader("Allow"); h != nil {
				allow = h.Value()
			}
			if tt.allowHas != "" && !strings.Contains(allow, tt.allowHas) {
				t.Errorf("%s Allow = %q, want it to contain %q", tt.method, allow, tt.allowHas)
			}
			if tt.allowLacks != "" && strings.Contains(allow, tt.allowLacks) {
				t.Errorf("%s Allow = %q, want no %q", tt.method, allow, tt.allowLacks)
			}
			if tt.want == 420 {
				if u := res.GetHeader("Unsupported"); u == nil || u.Value() != "100rel" {
					t.Errorf("420 Unsupported = %v, want 100rel", u)
				}
			}
			if tt.method == "OPTIONS" && tt.want == 200 {
				if a := res.GetHeader("Accept"); a == nil || a.Value() != "application/sdp" {
					t.Errorf("OPTIONS Accept = %v, want application/sdp", a)
				}
			}
		})
	}
}
