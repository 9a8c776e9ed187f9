package sip

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

func TestRetransmittedInvite(t *testing.T) {
	var handlers atomic.Int32
	release := make(chan struct{})
	s := startServer(t, func(ctx context.Context, c *Call) {
		handlers.Add(1)
		<-release
		c.Reject(486, "Busy Here")
	})
	p := newPhone(t, s, false)
	d := p.newDialog("retx")
	br := d.invite(offerSDP)
	p.expect(100, "INVITE")
	// The same transaction again: sipgo's transaction matching.
	p.send(d.request("INVITE", br, 1, offerSDP))
	p.expect(100, "INVITE retransmission")
	// Same Call-ID, From tag and CSeq on another branch, as a retransmission
	// arriving after its transaction died looks: our guard.
	p.send(d.request("INVITE", "", 1, offerSDP))
	p.expect(100, "late INVITE retransmission")
	close(release)
	p.expect(486, "INVITE")
	p.send(d.request("INVITE", "", 1, offerSDP))
	p.expect(486, "late INVITE retransmission after reject")
	if n := handlers.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
}

func TestInviteRejections(t *testing.T) {
	var handlers atomic.Int32
	s := startServer(t, func(ctx context.Context, c *Call) {
		handlers.Add(1)
		c.Answer(ctx, testLocal)
	})
	noCodec := strings.Replace(offerSDP, "RTP/AVP 0 8 101", "RTP/AVP 18 101", 1)
	tests := []struct {
		name    string
		body    string
		hdrs    []string
		want    int
		header  string // header the response must carry
		handler bool
	}{
		{name: "no common codec", body: noCodec, want: 488, handler: true},
		{name: "malformed sdp", body: "hello\r\n", want: 400, handler: true},
		{name: "accept excludes sdp", body: offerSDP, hdrs: []string{"Accept: text/html"}, want: 406, header: "Accept"},
		{name: "body not sdp", body: "hello", hdrs: []string{"Content-Type: text/plain"}, want: 415, header: "Accept"},
		{name: "unknown Require", body: offerSDP, hdrs: []string{"Require: foo, bar"}, want: 420, header: "Unsupported"},
		{name: "re-INVITE for no dialog", body: offerSDP, hdrs: []string{"X-To-Tag: yes"}, want: 481},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := handlers.Load()
			p := newPhone(t, s, false)
			d := p.newDialog("rej")
			if tt.name == "re-INVITE for no dialog" {
				d.toTag = "nosuchtag"
			}
			d.invite(tt.body, tt.hdrs...)
			res := p.expect(tt.want, "INVITE")
			if tt.header != "" && res.GetHeader(tt.header) == nil {
				t.Errorf("%d response lacks %s", tt.want, tt.header)
			}
			// ACK the final response, as a caller does (RFC 3261 §17.1.1.3).
			if got := handlers.Load() - before; (got == 1) != tt.handler {
				t.Errorf("handler calls = %d, want handler %v", got, tt.handler)
			}
		})
	}
}

func TestReinvite(t *testing.T) {
	a := newAnswerer()
	s := startServer(t, a.handle)
	p := newPhone(t, s, false)
	d := p.newDialog("reinv")
	ok := d.call(offerSDP)
	recvT(t, a.media, "answer")
	c := recvT(t, a.calls, "call")
	version := func(body []byte) string {
		for _, l := range strings.Split(string(body), "\r\n") {
			if strings.HasPrefix(l, "o=") {
				return strings.Fields(l)[2]
			}
		}
		return ""
	}
	lastVersion := version(ok.Body())
	hold := strings.Replace(offerSDP, "a=sendrecv", "a=sendonly", 1)
	moved := strings.Replace(offerSDP, "m=audio 10000", "m=audio 12000", 1)
	moved = strings.Replace(moved, "c=IN IP4 127.0.0.1", "c=IN IP4 127.0.0.7", 1)
	g729 := strings.Replace(offerSDP, "RTP/AVP 0 8 101", "RTP/AVP 18", 1)
	tests := []struct {
		name     string
		body     string
		want     int
		wantLine string // line of our SDP in the 200
		media    sdp.Media
	}{
		{name: "hold", body: hold, want: 200, wantLine: "a=recvonly",
			media: sdp.Media{Remote: netip.MustParseAddrPort("127.0.0.1:10000"), EventPT: 101, HasEvents: true, Direction: sdp.SendOnly, Ptime: 20, Hold: true}},
		{name: "unhold", body: offerSDP, want: 200, wantLine: "a=sendrecv",
			media: sdp.Media{Remote: netip.MustParseAddrPort("127.0.0.1:10000"), EventPT: 101, HasEvents: true, Ptime: 20}},
		{name: "new address", body: moved, want: 200, wantLine: "m=audio 40000 RTP/AVP 0 101",
			media: sdp.Media{Remote: netip.MustParseAddrPort("127.0.0.7:12000"), EventPT: 101, HasEvents: true, Ptime: 20}},
		{name: "unacceptable", body: g729, want: 488},
		{name: "refresh without sdp", body: "", want: 200, wantLine: "m=audio 40000 RTP/AVP 0 101",
			media: sdp.Media{Remote: netip.MustParseAddrPort("127.0.0.1:10000"), EventPT: 101, HasEvents: true, Ptime: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.cseq++
			d.invite(tt.body)
			res := p.expect(tt.want, "re-INVITE")
			if tt.want != 200 {
				p.send(d.request("ACK", "", d.cseq, "")) // ACK for a non-2xx: absorbed by the transaction
				select {
				case m := <-c.MediaUpdates():
					t.Errorf("MediaUpdates() = %+v after %d, want nothing", m, tt.want)
				case <-time.After(100 * time.Millisecond):
				}
				return
			}
			if toTagRes(res) != d.toTag {
				t.Errorf("re-INVITE 200 To tag = %q, want %q", toTagRes(res), d.toTag)
			}
			if !strings.Contains(string(res.Body()), tt.wantLine+"\r\n") {
				t.Errorf("re-INVITE 200 SDP lacks %q:\n%s", tt.wantLine, res.Body())
			}
			v := version(res.Body())
			if v == lastVersion {
				t.Errorf("o= version = %s, want a new one after %s", v, lastVersion)
			}
			lastVersion = v
			ack := ""
			if tt.body == "" {
				ack = strings.Replace(offerSDP, "m=audio 10000 RTP/AVP 0 8 101", "m=audio 10000 RTP/AVP 0 101", 1)
			}
			p.send(d.request("ACK", "", d.cseq, ack))
			m := recvT(t, c.MediaUpdates(), "media update")
			if m != tt.media {
				t.Errorf("MediaUpdates() = %+v, want %+v", m, tt.media)
			}
		})
	}
	select {
	case <-c.Done():
		t.Errorf("call ended (%s) during re-INVITEs", c.EndReason())
	default:
	}
}

func TestDelayedOffer(t *testing.T) {
	tests := []struct {
		name    string
		ackBody string
		want    sdp.Media
		wantErr error
	}{
		{name: "answer in ACK", ackBody: strings.Replace(offerSDP, "RTP/AVP 0 8 101", "RTP/AVP 8 101", 1),
			want: sdp.Media{Remote: netip.MustParseAddrPort("127.0.0.1:10000"), PayloadType: 8, Codec: 8, EventPT: 101, HasEvents: true, Ptime: 20}},
		{name: "ACK without answer", ackBody: "", wantErr: ErrBadACKAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAnswerer()
			s := startServer(t, a.handle)
			p := newPhone(t, s, false)
			d := p.newDialog("delayed")
			d.invite("")
			ok := p.expect(200, "INVITE")
			d.toTag = toTagRes(ok)
			if !strings.Contains(string(ok.Body()), "m=audio 40000 RTP/AVP 0 8 101\r\n") {
				t.Errorf("200 offer = %q, want all our codecs and 101", ok.Body())
			}
			p.send(d.request("ACK", "", 1, tt.ackBody))
			if tt.wantErr != nil {
				bye := p.expectRequest("BYE")
				p.send(sip.NewResponseFromRequest(bye, 200, "OK", nil).String())
				if err := recvT(t, a.errs, "Answer error"); !errors.Is(err, tt.wantErr) {
					t.Errorf("Answer() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if m := recvT(t, a.media, "media"); m != tt.want {
				t.Errorf("Answer() = %+v, want %+v", m, tt.want)
			}
		})
	}
}

func TestInfoDigits(t *testing.T) {
	a := newAnswerer()
	s := startServer(t, a.handle)
	p := newPhone(t, s, true)
	d := p.newDialog("info")
	d.call(offerSDP)
	c := recvT(t, a.calls, "call")
	tests := []struct {
		name  string
		ctype string
		body  string
		want  int
		digit byte
	}{
		{name: "dtmf-relay", ctype: "application/dtmf-relay", body: "Signal=5\r\nDuration=160\r\n", want: 200, digit: '5'},
		{name: "dtmf", ctype: "application/dtmf", body: "#", want: 200, digit: '#'},
		{name: "keep-alive", want: 200},
		{name: "other body", ctype: "text/plain", body: "hi", want: 415},
		{name: "bad digit", ctype: "application/dtmf-relay", body: "Signal=X\r\n", want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.cseq++
			var hdrs []string
			if tt.ctype != "" {
				hdrs = append(hdrs, "Content-Type: "+tt.ctype)
			}
			p.send(d.request("INFO", "", d.cseq, tt.body, hdrs...))
			res := p.expect(tt.want, "INFO")
			if tt.want == 415 {
				if h := res.GetHeader("Accept"); h == nil || !strings.Contains(h.Value(), "application/dtmf-relay") {
					t.Errorf("415 Accept = %v, want application/dtmf-relay", h)
				}
			}
			if tt.digit == 0 {
				return
			}
			ev := recvT(t, c.Digits(), "digit")
			if ev.Digit != tt.digit {
				t.Errorf("Digits() = %q, want %q", ev.Digit, tt.digit)
			}
		})
	}
}

func TestHandlerPanic(t *testing.T) {
	for _, answered := range []bool{false, true} {
		t.Run(map[bool]string{false: "before answer", true: "after answer"}[answered], func(t *testing.T) {
			s := startServer(t, func(ctx context.Context, c *Call) {
				if answered {
					c.Answer(ctx, testLocal)
				}
				panic("boom")
			})
			p := newPhone(t, s, false)
			d := p.newDialog("panic")
			if answered {
				d.call(offerSDP)
				bye := p.expectRequest("BYE")
				p.send(sip.NewResponseFromRequest(bye, 200, "OK", nil).String())
			} else {
				d.invite(offerSDP)
				p.expect(500, "INVITE")
			}
			p.send(p.newDialog("o").request("OPTIONS", "", 1, ""))
			p.expect(200, "OPTIONS after panic")
		})
	}
}

func TestShutdownHangsUp(t *testing.T) {
	a := newAnswerer()
	udp := newPhoneServer(t, a.handle)
	p := newPhone(t, udp.s, false)
	d := p.newDialog("shutdown")
	d.call(offerSDP)
	recvT(t, a.media, "answer")
	udp.cancel()
	bye := p.expectRequest("BYE")
	p.send(sip.NewResponseFromRequest(bye, 200, "OK", nil).String())
	if r := recvT(t, a.reason, "reason"); r != "shutdown" {
		t.Errorf("EndReason() = %q, want shutdown", r)
	}
	select {
	case <-udp.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

type runningServer struct {
	s      *Server
	cancel context.CancelFunc
	done   chan struct{}
}

func newPhoneServer(t *testing.T, h CallHandler) runningServer {
	t.Helper()
	s, err := NewServer(Config{Listen: "127.0.0.1:0", PublicIP: netip.MustParseAddr("127.0.0.1")}, h)
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr().Port() != s.TCPAddr().Port() {
		t.Errorf("Addr() = %v, TCPAddr() = %v, want the same port", s.Addr(), s.TCPAddr())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(cancel)
	return runningServer{s: s, cancel: cancel, done: done}
}

func TestAckTimeout(t *testing.T) {
	a := newAnswerer()
	s := startServer(t, a.handle, func(s *Server) { s.ackWait = 1200 * time.Millisecond })
	p := newPhone(t, s, false)
	d := p.newDialog("noack")
	d.invite(offerSDP)
	p.expect(200, "INVITE")
	// RFC 3261 §13.3.1.4: the 2xx is retransmitted (first after T1) until
	// the ACK, then the call is ended with a BYE.
	p.expect(200, "INVITE 2xx retransmission")
	bye := p.expectRequest("BYE")
	p.send(sip.NewResponseFromRequest(bye, 200, "OK", nil).String())
	if err := recvT(t, a.errs, "Answer error"); !errors.Is(err, ErrNoACK) {
		t.Errorf("Answer() error = %v, want %v", err, ErrNoACK)
	}
	if r := recvT(t, a.reason, "reason"); r != "ack_timeout" {
		t.Errorf("EndReason() = %q, want ack_timeout", r)
	}
}
