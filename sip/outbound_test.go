package sip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

func TestDialAgentAnswered(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(map[bool]string{false: "udp", true: "tcp"}[tcp], func(t *testing.T) {
			s := startServer(t, nopHandler)
			a := newAgent(t, s, tcp)
			r := a.dialRequest()
			r.FromUser = "+1 555;x"
			r.FromDisplay = "Bob \"The\" \\ Builder\r\nX-Evil: 1"
			r.Headers = map[string]string{"X-IVR-Path": "main>sales", "X-IVR-Reason": "asked for agent", "X-IVR-Digits": ""}
			res := dialAsync(context.Background(), s, r)

			inv := a.request("INVITE")
			if got := inv.Recipient.String(); got != r.Contact { // parameters and all
				t.Errorf("INVITE Request-URI = %s, want %s", got, r.Contact)
			}
			if got, want := inv.To().Value(), "<sip:1001@127.0.0.9:5062>"; got != want {
				t.Errorf("INVITE To = %s, want %s", got, want)
			}
			from := inv.From()
			if tag, _ := from.Params.Get("tag"); tag == "" || from.Address.User != "+1%20555%3Bx" || from.Address.Host != "127.0.0.1" {
				t.Errorf("INVITE From = %s, want user +1%%20555%%3Bx at 127.0.0.1 with a tag", from.Value())
			}
			if got, want := from.DisplayName, `Bob \"The\" \\ BuilderX-Evil: 1`; got != want {
				t.Errorf("INVITE From display = %q, want %q", got, want)
			}
			if inv.GetHeader("X-Evil") != nil {
				t.Errorf("INVITE has an X-Evil header injected through the display name")
			}
			for k, v := range map[string]string{"X-IVR-Path": "main>sales", "X-IVR-Reason": "asked for agent"} {
				if h := inv.GetHeader(k); h == nil || h.Value() != v {
					t.Errorf("INVITE %s = %v, want %q", k, h, v)
				}
			}
			if inv.GetHeader("X-IVR-Digits") != nil {
				t.Errorf("INVITE carries the empty X-IVR-Digits, want it left out")
			}
			wantContact := "<sip:" + s.Addr().String() + ">"
			port := s.Addr().Port()
			if tcp {
				wantContact = "<sip:" + s.TCPAddr().String() + ";transport=tcp>"
				port = s.TCPAddr().Port()
			}
			if h := inv.GetHeader("Contact"); h == nil || h.Value() != wantContact {
				t.Errorf("INVITE Contact = %v, want %s", h, wantContact)
			}
			if v := inv.Via(); v.Host != "127.0.0.1" || v.Port != int(port) || !strings.EqualFold(v.Transport, a.transport()) {
				t.Errorf("INVITE Via = %s, want %s 127.0.0.1:%d", v.Value(), a.transport(), port)
			}
			if !strings.Contains(string(inv.Body()), "m=audio 40002 RTP/AVP 8 0 101\r\n") {
				t.Errorf("INVITE SDP = %q, want m=audio 40002 RTP/AVP 8 0 101", inv.Body())
			}

			a.respond(inv, 100, "Trying", "")
			a.respond(inv, 180, "Ringing", "")
			ok := a.respond(inv, 200, "OK", agentSDP)
			ack := a.request("ACK")
			if ack.Recipient.String() != a.contact() {
				t.Errorf("ACK Request-URI = %s, want the 200's Contact %s", ack.Recipient.String(), a.contact())
			}
			if ack.CSeq().SeqNo != inv.CSeq().SeqNo || branchOf(ack) == branchOf(inv) || toTag(ack) != a.tag {
				t.Errorf("ACK CSeq %d branch %s to-tag %s, want CSeq %d, a new branch (not %s), to-tag %s",
					ack.CSeq().SeqNo, branchOf(ack), toTag(ack), inv.CSeq().SeqNo, branchOf(inv), a.tag)
			}
			got := recvT(t, res, "DialAgent")
			if got.err != nil {
				t.Fatalf("DialAgent() error = %v, want nil", got.err)
			}
			o := got.o
			want := sdp.Media{Remote: netip.MustParseAddrPort("127.0.0.1:30000"), PayloadType: 8, Codec: 8, EventPT: 101, HasEvents: true, Ptime: 20}
			if m := o.Media(); m != want {
				t.Errorf("Media() = %+v, want %+v", m, want)
			}
			if o.ID() != inv.CallID().Value() {
				t.Errorf("ID() = %s, want the INVITE's Call-ID %s", o.ID(), inv.CallID().Value())
			}

			// A retransmitted 200 gets the ACK again (RFC 3261 §13.2.2.4).
			a.send(ok.String())
			a.request("ACK")

			// INFO digit from the agent.
			a.inDialog(inv, "INFO", 1, "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")
			a.expect(200, "INFO")
			if ev := recvT(t, o.Digits(), "digit"); ev.Digit != '5' {
				t.Errorf("Digits() = %q, want '5'", ev.Digit)
			}
			// OPTIONS in the dialog.
			a.inDialog(inv, "OPTIONS", 2, "", "")
			a.expect(200, "OPTIONS")

			// Hold by re-INVITE: 200 with our SDP, version +1, our codec
			// only, recvonly for their sendonly.
			hold := strings.Replace(agentSDP, "a=sendrecv", "a=sendonly", 1)
			hold = strings.Replace(hold, "o=agent 5 5", "o=agent 5 6", 1)
			a.inDialog(inv, "INVITE", 3, "application/sdp", hold)
			ok2 := a.expect(200, "re-INVITE")
			body := string(ok2.Body())
			for _, l := range []string{"o=- 7 2 IN IP4 127.0.0.1", "m=audio 40002 RTP/AVP 8 101", "a=recvonly"} {
				if !strings.Contains(body, l+"\r\n") {
					t.Errorf("re-INVITE 200 SDP = %q, want line %q", body, l)
				}
			}
			a.inDialog(inv, "ACK", 3, "", "")
			if m := recvT(t, o.MediaUpdates(), "media update"); !m.Hold || m.Direction != sdp.SendOnly {
				t.Errorf("MediaUpdates() = %+v, want hold, sendonly", m)
			}

			// The agent hangs up.
			a.inDialog(inv, "BYE", 4, "", "")
			a.expect(200, "BYE")
			recvT(t, o.Done(), "Done")
			if r := o.EndReason(); r != reasonRemoteBye {
				t.Errorf("EndReason() = %q, want %q", r, reasonRemoteBye)
			}
			if err := o.Hangup(context.Background()); err != nil {
				t.Errorf("Hangup() after remote BYE = %v, want nil", err)
			}
			a.quiet("BYE", 300*time.Millisecond)
			// The dialog is gone: a second BYE gets 481.
			a.inDialog(inv, "BYE", 5, "", "")
			a.expect(481, "BYE after end")
		})
	}
}

func TestDialAgentHangup(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(map[bool]string{false: "udp", true: "tcp"}[tcp], func(t *testing.T) {
			s := startServer(t, nopHandler)
			a := newAgent(t, s, tcp)
			o, inv := a.answer(context.Background(), a.dialRequest())
			errc := make(chan error, 1)
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a cancelled context still sends the BYE
			go func() { errc <- o.Hangup(ctx) }()
			bye := a.request("BYE")
			if bye.Recipient.String() != a.contact() || toTag(bye) != a.tag || bye.CallID().Value() != o.ID() || bye.CSeq().SeqNo <= inv.CSeq().SeqNo {
				t.Errorf("BYE = %s To-tag %s Call-ID %s CSeq %d, want Request-URI %s, tag %s, Call-ID %s, CSeq > %d",
					bye.Recipient.String(), toTag(bye), bye.CallID().Value(), bye.CSeq().SeqNo, a.contact(), a.tag, o.ID(), inv.CSeq().SeqNo)
			}
			if tag, _ := bye.From().Params.Get("tag"); tag == "" || bye.From().Value() != inv.From().Value() {
				t.Errorf("BYE From = %s, want the INVITE's %s", bye.From().Value(), inv.From().Value())
			}
			a.respond(bye, 200, "OK", "")
			if err := recvT(t, errc, "Hangup"); err != nil {
				t.Errorf("Hangup() = %v, want nil", err)
			}
			select {
			case <-o.Done():
			default:
				t.Errorf("Done() not closed after Hangup")
			}
			if r := o.EndReason(); r != reasonLocalBye {
				t.Errorf("EndReason() = %q, want %q", r, reasonLocalBye)
			}
			if err := o.Hangup(context.Background()); err != nil {
				t.Errorf("second Hangup() = %v, want nil", err)
			}
			a.quiet("BYE", 200*time.Millisecond)
		})
	}
}

func TestDialAgentRefused(t *testing.T) {
	s := startServer(t, nopHandler)
	for _, tc := range []struct {
		code   int
		reason string
	}{
		{486, "Busy Here"},
		{603, "Decline"},
		{404, "Not Found"},
		{480, "Temporarily Unavailable"},
		{503, "Service Unavailable"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			a := newAgent(t, s, false)
			res := dialAsync(context.Background(), s, a.dialRequest())
			inv := a.request("INVITE")
			a.respond(inv, 180, "Ringing", "")
			a.respond(inv, tc.code, tc.reason, "")
			// The transaction ACKs a non-2xx, with the INVITE's branch
			// (RFC 3261 §17.1.1.3).
			ack := a.request("ACK")
			if branchOf(ack) != branchOf(inv) || toTag(ack) != a.tag {
				t.Errorf("ACK branch %s to-tag %s, want %s and %s", branchOf(ack), toTag(ack), branchOf(inv), a.tag)
			}
			got := recvT(t, res, "DialAgent")
			var se *StatusError
			if !errors.As(got.err, &se) || se.Code != tc.code || se.Reason != tc.reason {
				t.Fatalf("DialAgent() = %v, %v, want *StatusError{%d %s}", got.o, got.err, tc.code, tc.reason)
			}
			a.quiet("CANCEL", 200*time.Millisecond)
		})
	}
}

func TestDialAgentNotAnswered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ring    time.Duration
		abandon bool // the caller hangs up (ctx cancelled) instead
		race    bool // the agent answers 200 as the CANCEL arrives
		wantErr error
	}{
		{name: "ring timeout", ring: 300 * time.Millisecond, wantErr: ErrNoAnswer},
		{name: "caller abandons", ring: 5 * time.Second, abandon: true, wantErr: context.Canceled},
		{name: "200 crosses cancel", ring: 300 * time.Millisecond, race: true, wantErr: ErrNoAnswer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, nopHandler)
			a := newAgent(t, s, false)
			r := a.dialRequest()
			r.RingTimeout = tc.ring
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := dialAsync(ctx, s, r)
			inv := a.request("INVITE")
			a.respond(inv, 180, "Ringing", "")
			if tc.abandon {
				time.Sleep(100 * time.Millisecond)
				cancel()
			}
			cn := a.request("CANCEL")
			if cn.Recipient.String() != inv.Recipient.String() || branchOf(cn) != branchOf(inv) ||
				cn.CSeq().SeqNo != inv.CSeq().SeqNo || cn.CSeq().MethodName != sip.CANCEL ||
				cn.CallID().Value() != inv.CallID().Value() || cn.From().Value() != inv.From().Value() || toTag(cn) != "" {
				t.Errorf("CANCEL = %s, want the INVITE's Request-URI, branch, CSeq number, Call-ID, From, To (RFC 3261 §9.1)", cn.String())
			}
			got := recvT(t, res, "DialAgent")
			if !errors.Is(got.err, tc.wantErr) || got.o != nil {
				t.Fatalf("DialAgent() = %v, %v, want error %v", got.o, got.err, tc.wantErr)
			}
			if !tc.abandon && (got.el < tc.ring || got.el > tc.ring+time.Second) {
				t.Errorf("DialAgent() returned after %v, want about %v", got.el, tc.ring)
			}
			a.respond(cn, 200, "OK", "")
			if tc.race {
				a.respond(inv, 200, "OK", agentSDP)
				a.request("ACK")
				bye := a.request("BYE")
				if toTag(bye) != a.tag {
					t.Errorf("BYE To-tag %s, want %s", toTag(bye), a.tag)
				}
				a.respond(bye, 200, "OK", "")
			} else {
				a.respond(inv, 487, "Request Terminated", "")
				if ack := a.request("ACK"); branchOf(ack) != branchOf(inv) {
					t.Errorf("ACK for 487 branch %s, want %s", branchOf(ack), branchOf(inv))
				}
			}
			waitReaps(t, s)
		})
	}
}

// RFC 3261 §9.1: no CANCEL before a provisional response; one comes when
// the agent finally rings.
func TestDialAgentCancelWaitsForProvisional(t *testing.T) {
	s := startServer(t, nopHandler)
	a := newAgent(t, s, false)
	r := a.dialRequest()
	r.RingTimeout = 200 * time.Millisecond
	res := dialAsync(context.Background(), s, r)
	inv := a.request("INVITE")
	got := recvT(t, res, "DialAgent")
	if !errors.Is(got.err, ErrNoAnswer) {
		t.Fatalf("DialAgent() error = %v, want ErrNoAnswer", got.err)
	}
	a.quiet("CANCEL", 300*time.Millisecond)
	a.respond(inv, 180, "Ringing", "")
	cn := a.request("CANCEL")
	a.respond(cn, 200, "OK", "")
	a.respond(inv, 487, "Request Terminated", "")
	a.request("ACK")
	waitReaps(t, s)
}

func TestDialAgentBadAnswer(t *testing.T) {
	s := startServer(t, nopHandler)
	for _, tc := range []struct {
		name, body string
	}{
		{"no sdp", ""},
		{"no common codec", strings.NewReplacer("RTP/AVP 8 101", "RTP/AVP 9 101", "a=rtpmap:8 PCMA/8000", "a=rtpmap:9 G722/8000").Replace(agentSDP)},
		{"not sdp", "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgent(t, s, false)
			res := dialAsync(context.Background(), s, a.dialRequest())
			inv := a.request("INVITE")
			a.respond(inv, 200, "OK", tc.body)
			a.request("ACK")
			bye := a.request("BYE")
			a.respond(bye, 200, "OK", "")
			got := recvT(t, res, "DialAgent")
			if !errors.Is(got.err, ErrBadAnswer) || got.o != nil {
				t.Fatalf("DialAgent() = %v, %v, want ErrBadAnswer", got.o, got.err)
			}
		})
	}
}

// A 2xx retransmitted after sipgo's INVITE transaction is gone reaches
// the stray-response handler, which ACKs it again for a live leg.
func TestDialAgentStray2xx(t *testing.T) {
	s := startServer(t, nopHandler)
	a := newAgent(t, s, false)
	res := dialAsync(context.Background(), s, a.dialRequest())
	inv := a.request("INVITE")
	ok := a.respond(inv, 200, "OK", agentSDP)
	a.request("ACK")
	got := recvT(t, res, "DialAgent")
	if got.err != nil {
		t.Fatalf("DialAgent() error = %v", got.err)
	}
	got.o.tx.Terminate()
	a.send(ok.String())
	if ack := a.request("ACK"); toTag(ack) != a.tag || ack.CSeq().SeqNo != inv.CSeq().SeqNo {
		t.Errorf("ACK to-tag %s CSeq %d, want %s %d", toTag(ack), ack.CSeq().SeqNo, a.tag, inv.CSeq().SeqNo)
	}
	// Once the leg has ended, a stray 2xx is dropped.
	a.inDialog(inv, "BYE", 1, "", "")
	a.expect(200, "BYE")
	a.send(ok.String())
	a.quiet("ACK", 200*time.Millisecond)
}

// An agent whose registration connection is gone: the gateway dials its
// source address.
func TestDialAgentTCPDials(t *testing.T) {
	s := startServer(t, nopHandler)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := DialRequest{Contact: "sip:1001@127.0.0.9:5062;transport=tcp", Source: addrPortOf(ln.Addr()),
		FromUser: "100", Local: outLocal, RingTimeout: 5 * time.Second}
	res := dialAsync(context.Background(), s, r)
	a := tcpListenAgent{ln}.accept(t, s)
	inv := a.request("INVITE")
	if !strings.EqualFold(inv.Via().Transport, "TCP") {
		t.Errorf("INVITE Via transport = %s, want TCP (from the contact's transport parameter)", inv.Via().Transport)
	}
	a.respond(inv, 486, "Busy Here", "")
	got := recvT(t, res, "DialAgent")
	var se *StatusError
	if !errors.As(got.err, &se) || se.Code != 486 {
		t.Fatalf("DialAgent() error = %v, want *StatusError 486", got.err)
	}
}

func TestDialAgentInvalid(t *testing.T) {
	s := startServer(t, nopHandler)
	good := DialRequest{Contact: agentContact, Source: netip.MustParseAddrPort("127.0.0.1:5062"), Local: outLocal}
	for _, tc := range []struct {
		name string
		mod  func(*DialRequest)
	}{
		{"bad contact", func(r *DialRequest) { r.Contact = "not a uri" }},
		{"sips contact", func(r *DialRequest) { r.Contact = "sips:1001@127.0.0.1" }},
		{"contact with CRLF", func(r *DialRequest) { r.Contact = "sip:1001@127.0.0.1\r\nX: y" }},
		{"tls transport", func(r *DialRequest) { r.Transport = "tls" }},
		{"no source", func(r *DialRequest) { r.Source = netip.AddrPort{} }},
		{"no codecs", func(r *DialRequest) { r.Local.Codecs = nil }},
		{"header value CRLF", func(r *DialRequest) { r.Headers = map[string]string{"X-IVR-Path": "a\r\nVia: evil"} }},
		{"header name not token", func(r *DialRequest) { r.Headers = map[string]string{"X IVR": "a"} }},
		{"header name with colon", func(r *DialRequest) { r.Headers = map[string]string{"X-A:": "a"} }},
		{"reserved header", func(r *DialRequest) { r.Headers = map[string]string{"Call-ID": "x"} }},
		{"caller number CRLF", func(r *DialRequest) { r.FromUser = "1\r\n2" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.mod(&r)
			o, err := s.DialAgent(context.Background(), r)
			if !errors.Is(err, ErrBadDialRequest) || o != nil {
				t.Errorf("DialAgent(%s) = %v, %v, want ErrBadDialRequest", tc.name, o, err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.DialAgent(ctx, good); !errors.Is(err, context.Canceled) {
		t.Errorf("DialAgent(cancelled ctx) error = %v, want context.Canceled", err)
	}
}

func TestEscapes(t *testing.T) {
	for _, tc := range []struct{ in, user, display string }{
		{"", "anonymous", ""},
		{"+15551234", "+15551234", "+15551234"},
		{"1 2;3?4@5:6", "1%202%3B3%3F4%405%3A6", "1 2;3?4@5:6"},
		{"%2B1", "%2B1", "%2B1"},
		{"100%", "100%25", "100%"},
		{`a"b\c`, "a%22b%5Cc", `a\"b\\c`},
		{"x\r\ny\x00", "x%0D%0Ay%00", "xy"},
		{strings.Repeat("é", 40), strings.Repeat("%C3%A9", 40), strings.Repeat("é", 32)},
	} {
		if got := escapeUser(tc.in); got != tc.user {
			t.Errorf("escapeUser(%q) = %q, want %q", tc.in, got, tc.user)
		}
		if got := quoteDisplay(tc.in); got != tc.display {
			t.Errorf("quoteDisplay(%q) = %q, want %q", tc.in, got, tc.display)
		}
	}
}

// Every goroutine a leg starts ends with it: dial, ring out, answer, hang
// up, and the count returns to where it was.
func TestDialAgentNoGoroutineLeak(t *testing.T) {
	s := startServer(t, nopHandler)
	a := newAgent(t, s, false)
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	for range 3 {
		r := a.dialRequest()
		r.RingTimeout = 100 * time.Millisecond
		res := dialAsync(context.Background(), s, r)
		inv := a.request("INVITE")
		a.respond(inv, 180, "Ringing", "")
		cn := a.request("CANCEL")
		a.respond(cn, 200, "OK", "")
		a.respond(inv, 487, "Request Terminated", "")
		a.request("ACK")
		if got := recvT(t, res, "DialAgent"); !errors.Is(got.err, ErrNoAnswer) {
			t.Fatalf("DialAgent() error = %v, want ErrNoAnswer", got.err)
		}
		waitReaps(t, s)

		o, inv2 := a.answer(context.Background(), a.dialRequest())
		a.inDialog(inv2, "BYE", 1, "", "")
		a.expect(200, "BYE")
		recvT(t, o.Done(), "Done")
	}
	if n := settleGoroutines(base); n > base {
		t.Errorf("goroutines after 6 legs = %d, want <= %d", n, base)
	}
}

// Shutdown sends BYE on answered outbound legs and refuses new ones.
func TestDialAgentShutdown(t *testing.T) {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Config{PublicIP: netip.MustParseAddr("127.0.0.1"), UDPConn: udp, TCPListener: tcp}, nopHandler)
	if err != nil {
		t.Fatal(err)
	}
	s.drainWait = 2 * time.Second
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()

	a := newAgent(t, s, false)
	o, _ := a.answer(context.Background(), a.dialRequest())
	stop()
	bye := a.request("BYE")
	a.respond(bye, 200, "OK", "")
	if err := recvT(t, ran, "Run"); err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if r := o.EndReason(); r != reasonShutdown {
		t.Errorf("EndReason() = %q, want %q", r, reasonShutdown)
	}
	if _, err := s.DialAgent(context.Background(), a.dialRequest()); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("DialAgent() after shutdown error = %v, want ErrShuttingDown", err)
	}
}
