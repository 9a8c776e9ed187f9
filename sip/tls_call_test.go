package sip

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

// testCert is a self-signed certificate for 127.0.0.1 and a client config
// that trusts it.
func testCert(t *testing.T) (tls.Certificate, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// startTLSServer is startServer with a TLS listener and an SRTP policy.
func startTLSServer(t *testing.T, h CallHandler, mode sdp.SRTPMode) (*Server, *tls.Config) {
	t.Helper()
	cert, client := testCert(t)
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(Config{PublicIP: netip.MustParseAddr("127.0.0.1"), UserAgent: "ivrgw-test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		UDPConn: udp, TCPListener: tcp, TLSListener: tl, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, SRTP: mode}, h)
	if err != nil {
		t.Fatal(err)
	}
	s.drainWait = 300 * time.Millisecond
	s.tlsL.(*tlsListener).wait = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s, client
}

// tlsPhone is the raw test phone over a TLS connection it opened: the
// messages dlg builds say TCP, and are sent saying TLS.
type tlsPhone struct{ *phone }

func newTLSPhone(t *testing.T, s *Server, client *tls.Config) *tlsPhone {
	t.Helper()
	c, err := tls.Dial("tcp4", s.TLSAddr().String(), client)
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &tlsPhone{&phone{t: t, tcp: true, c: c, r: bufio.NewReader(c), local: addrPortOf(c.LocalAddr())}}
}

func (p *tlsPhone) sendTLS(msg string) {
	p.t.Helper()
	msg = strings.Replace(msg, "SIP/2.0/TCP ", "SIP/2.0/TLS ", 1)
	p.send(strings.Replace(msg, ";transport=tcp>", ";transport=tls>", 1))
}

const savpOfferSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 10000 RTP/SAVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n" +
	"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0\r\n"

// TestTLSCall: a call over TLS with SRTP required: the 200 answers
// RTP/SAVP on the offer's tag with a key of ours and a Contact saying TLS
// (sips for a sips: Request-URI); our BYE comes back on the caller's TLS
// connection; a plain offer gets 488.
func TestTLSCall(t *testing.T) {
	a := newAnswerer()
	s, client := startTLSServer(t, a.handle, sdp.SRTPRequired)
	tlsPort := s.TLSAddr().Port()

	for _, tt := range []struct {
		name, ruri, wantContact string
	}{
		{"sip uri", "sip:5000@127.0.0.1", "<sip:127.0.0.1:" + strconv.Itoa(int(tlsPort)) + ";transport=tls>"},
		{"sips uri", "sips:5000@127.0.0.1", "<sips:127.0.0.1:" + strconv.Itoa(int(tlsPort)) + ">"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newTLSPhone(t, s, client)
			d := p.newDialog("tls")
			p.sendTLS(strings.Replace(d.request("INVITE", "", d.cseq, savpOfferSDP), "INVITE sip:5000@127.0.0.1 ", "INVITE "+tt.ruri+" ", 1))
			ok := p.expect(200, "INVITE over TLS")
			d.toTag = toTagRes(ok)
			p.sendTLS(d.request("ACK", "", d.cseq, ""))
			if h := ok.GetHeader("Contact"); h == nil || h.Value() != tt.wantContact {
				t.Errorf("200 Contact = %v, want %s", h, tt.wantContact)
			}
			body := string(ok.Body())
			if !strings.Contains(body, "m=audio 40000 RTP/SAVP 0 101\r\n") || !strings.Contains(body, "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:") {
				t.Errorf("200 SDP = %q, want RTP/SAVP with a=crypto on tag 3", body)
			}
			m := recvT(t, a.media, "answered media")
			c := recvT(t, a.calls, "call")
			if m.SRTP == nil || string(m.SRTP.RemoteKey) != "0123456789abcdefghijklmnopqrst" || len(m.SRTP.LocalKey) != sdp.KeyLen {
				t.Fatalf("Answer() SRTP = %+v, want the caller's key and a %d-byte one of ours", m.SRTP, sdp.KeyLen)
			}
			if !strings.Contains(body, base64.StdEncoding.EncodeToString(m.SRTP.LocalKey)) {
				t.Errorf("200 SDP does not carry the key Answer() reports")
			}
			if !c.TLS() {
				t.Errorf("Call.TLS() = false, want true")
			}
			go c.Hangup(context.Background())
			bye := p.expectRequest("BYE")
			if v := bye.Via(); !strings.EqualFold(v.Transport, "TLS") || v.Port != int(tlsPort) {
				t.Errorf("BYE Via = %s, want TLS on port %d", v.Value(), tlsPort)
			}
			res := sip.NewResponseFromRequest(bye, 200, "OK", nil)
			p.send(res.String())
			recvT(t, a.reason, "end reason")
		})
	}

	t.Run("plain offer", func(t *testing.T) {
		p := newTLSPhone(t, s, client)
		d := p.newDialog("plain")
		p.sendTLS(d.request("INVITE", "", d.cseq, offerSDP))
		p.expect(488, "plain INVITE over TLS")
		recvT(t, a.calls, "call")
		if err := recvT(t, a.errs, "answer error"); !errors.Is(err, sdp.ErrSRTPRequired) {
			t.Errorf("Answer() error = %v, want ErrSRTPRequired", err)
		}
		recvT(t, a.reason, "end reason")
	})
}

// TestDialAgentTLS: an agent connected over TLS is called on that
// connection (Via and Contact say TLS), offered RTP/SAVP with our key when
// SRTP is required, and its answer's key is taken.
func TestDialAgentTLS(t *testing.T) {
	s, client := startTLSServer(t, nopHandler, sdp.SRTPRequired)
	p := newTLSPhone(t, s, client)
	d := p.newDialog("reg")
	p.sendTLS(d.request("OPTIONS", "", 1, "")) // sipgo has pooled the connection once it answers
	p.expect(200, "OPTIONS")
	ag := &agent{phone: p.phone, s: s, tag: "agt-tls"}

	r := DialRequest{Contact: "sip:1001@127.0.0.9:5062;transport=tls", Source: p.local, Transport: "tls", FromUser: "+15551234",
		Local: outLocal, RingTimeout: 5 * time.Second}
	res := dialAsync(context.Background(), s, r)
	inv := ag.request("INVITE")
	if v := inv.Via(); !strings.EqualFold(v.Transport, "TLS") || v.Port != int(s.TLSAddr().Port()) {
		t.Errorf("INVITE Via = %s, want TLS on port %d", v.Value(), s.TLSAddr().Port())
	}
	if h := inv.GetHeader("Contact"); h == nil || !strings.HasSuffix(h.Value(), ";transport=tls>") {
		t.Errorf("INVITE Contact = %v, want transport=tls", h)
	}
	body := string(inv.Body())
	if !strings.Contains(body, "m=audio 40002 RTP/SAVP 8 0 101\r\n") || !strings.Contains(body, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Fatalf("INVITE SDP = %q, want RTP/SAVP with a=crypto:1", body)
	}
	answer := strings.Replace(strings.Replace(agentSDP, "RTP/AVP", "RTP/SAVP", 1), "a=sendrecv\r\n",
		"a=sendrecv\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIz\r\n", 1)
	ag.respond(inv, 200, "OK", answer)
	ag.request("ACK")
	got := recvT(t, res, "DialAgent")
	if got.err != nil {
		t.Fatalf("DialAgent() error = %v", got.err)
	}
	if m := got.o.Media(); m.SRTP == nil || string(m.SRTP.RemoteKey) != "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123" {
		t.Errorf("Outbound.Media().SRTP = %+v, want the agent's key", m.SRTP)
	}

	t.Run("agent over udp with srtp required", func(t *testing.T) {
		r := DialRequest{Contact: "sip:1001@127.0.0.9:5062", Source: p.local, Transport: "udp", Local: outLocal}
		if _, err := s.DialAgent(context.Background(), r); !errors.Is(err, ErrBadDialRequest) || !errors.Is(err, ErrSRTPNeedsTLS) {
			t.Errorf("DialAgent(udp) error = %v, want ErrBadDialRequest and ErrSRTPNeedsTLS", err)
		}
	})
}

// TestTLSHandshakeBounded: a client that connects to the TLS port and never
// starts the handshake is disconnected (after the shortened handshake
// timeout), and a real client still gets in afterwards.
func TestTLSHandshakeBounded(t *testing.T) {
	s, client := startTLSServer(t, nopHandler, sdp.SRTPOff)
	c, err := net.Dial("tcp4", s.TLSAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("silent connection still open after 5 s, want it closed after the handshake timeout")
	}
	if n != 0 || err == nil {
		t.Fatalf("Read() on a silent connection = %d, %v, want 0 and EOF", n, err)
	}
	p := newTLSPhone(t, s, client)
	d := p.newDialog("after")
	p.sendTLS(d.request("OPTIONS", "", 1, ""))
	p.expect(200, "OPTIONS after a stalled handshake")
}

// TestTLSDelayedOfferAndReinvite: a delayed offer over TLS with SRTP
// required gets our RTP/SAVP offer with a=crypto:1 and takes the key from
// the ACK; a re-INVITE that keeps the key is answered 200 with our same
// key, one that changes it (or drops SRTP) gets 488.
func TestTLSDelayedOfferAndReinvite(t *testing.T) {
	a := newAnswerer()
	s, client := startTLSServer(t, a.handle, sdp.SRTPRequired)
	p := newTLSPhone(t, s, client)
	d := p.newDialog("late")
	p.sendTLS(d.request("INVITE", "", d.cseq, ""))
	ok := p.expect(200, "delayed-offer INVITE over TLS")
	d.toTag = toTagRes(ok)
	body := string(ok.Body())
	if !strings.Contains(body, "m=audio 40000 RTP/SAVP 0 8 101\r\n") || !strings.Contains(body, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Fatalf("200 offer = %q, want RTP/SAVP with a=crypto:1", body)
	}
	answer := strings.Replace(savpOfferSDP, "a=crypto:3 ", "a=crypto:1 ", 1)
	p.sendTLS(d.request("ACK", "", d.cseq, answer, "Content-Type: application/sdp"))
	m := recvT(t, a.media, "answered media")
	if m.SRTP == nil || string(m.SRTP.RemoteKey) != "0123456789abcdefghijklmnopqrst" {
		t.Fatalf("Answer() SRTP = %+v, want the key of the ACK's answer", m.SRTP)
	}
	ourKey := base64.StdEncoding.EncodeToString(m.SRTP.LocalKey)

	otherKey := strings.Replace(savpOfferSDP, "MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIz", 1)
	for _, tt := range []struct {
		name, offer string
		want        int
	}{
		{"same key", savpOfferSDP, 200},
		{"new key", otherKey, 488},
		{"plain", offerSDP, 488},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := reinviteTLS(t, p, d, tt.offer)
			if res.StatusCode != tt.want {
				t.Fatalf("re-INVITE %s: status = %d, want %d", tt.name, res.StatusCode, tt.want)
			}
			if tt.want == 200 && !strings.Contains(string(res.Body()), "inline:"+ourKey) {
				t.Errorf("re-INVITE answer = %q, want our key of the first answer", res.Body())
			}
		})
	}
}

// reinviteTLS sends a re-INVITE and ACKs its final response. A 500 means
// the previous re-INVITE's handling has not quite finished (RFC 3261
// §14.2, Retry-After): it is sent again, a bounded number of times.
func reinviteTLS(t *testing.T, p *tlsPhone, d *dlg, offer string) *sip.Response {
	t.Helper()
	for range 20 {
		d.cseq++
		p.sendTLS(d.request("INVITE", "", d.cseq, offer))
		var res *sip.Response
		for res == nil {
			m := p.recv(5 * time.Second)
			if m == nil {
				t.Fatal("no final response to the re-INVITE")
			}
			if r, ok := m.(*sip.Response); ok && r.StatusCode >= 200 {
				res = r
			}
		}
		p.sendTLS(d.request("ACK", "", d.cseq, ""))
		if res.StatusCode != 500 {
			return res
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("re-INVITE refused with 500 twenty times")
	return nil
}
