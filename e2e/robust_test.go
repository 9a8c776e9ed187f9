package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// rawSIP is a bare UDP socket that speaks SIP text, for the cases a real
// phone would never produce.
type rawSIP struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
}

func newRawSIP(t *testing.T, target string) *rawSIP {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	to, err := net.ResolveUDPAddr("udp4", target)
	if err != nil {
		t.Fatal(err)
	}
	return &rawSIP{t: t, conn: conn, to: to}
}

func (r *rawSIP) local() string { return r.conn.LocalAddr().String() }

func (r *rawSIP) send(msg string) {
	r.t.Helper()
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	if _, err := r.conn.WriteToUDP([]byte(msg), r.to); err != nil {
		r.t.Fatal(err)
	}
}

// wait reads messages until one starts with prefix (e.g. "SIP/2.0 200", "BYE").
func (r *rawSIP) wait(d time.Duration, prefix string) (string, error) {
	buf := make([]byte, 65535)
	deadline := time.Now().Add(d)
	for {
		_ = r.conn.SetReadDeadline(deadline)
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return "", fmt.Errorf("waiting for %q: %w", prefix, err)
		}
		if msg := string(buf[:n]); strings.HasPrefix(msg, prefix) {
			return msg, nil
		}
	}
}

// reply answers a request with status, copying the headers RFC 3261 §8.2.6.2 says to.
func (r *rawSIP) reply(req, status string) {
	r.t.Helper()
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\n")
	for _, l := range strings.Split(req, "\r\n") {
		name, _, _ := strings.Cut(strings.ToLower(l), ":")
		switch strings.TrimSpace(name) {
		case "via", "v", "from", "f", "to", "t", "call-id", "i", "cseq":
			b.WriteString(l + "\n")
		}
	}
	b.WriteString("Content-Length: 0\n\n")
	r.send(b.String())
}

func (r *rawSIP) options(callID string) string {
	return fmt.Sprintf(`OPTIONS sip:support@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s;rport
Max-Forwards: 70
From: <sip:probe@127.0.0.1>;tag=p1
To: <sip:support@%s>
Call-ID: %s
CSeq: 1 OPTIONS
Content-Length: 0

`, r.to, r.local(), callID, r.to, callID)
}

// rawDialog is one call placed with raw SIP text.
type rawDialog struct {
	r      *rawSIP
	callID string
	user   string // From user; the From tag is the Call-ID's
	to     string // the To header value, with the gateway's tag once answered
}

// invite sends an INVITE offering sdp (LF line ends, sent as CRLF).
func (r *rawSIP) invite(callID, user, sdp string) *rawDialog {
	r.t.Helper()
	d := &rawDialog{r: r, callID: callID, user: user, to: fmt.Sprintf(" <sip:support@%s>", r.to)}
	body := strings.ReplaceAll(sdp, "\n", "\r\n")
	r.send(fmt.Sprintf(`INVITE sip:support@%[1]s SIP/2.0
Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK-%[3]s-invite;rport
Max-Forwards: 70
From: <sip:%[4]s@127.0.0.1>;tag=%[3]s
To:%[5]s
Call-ID: %[3]s
CSeq: 1 INVITE
Contact: <sip:%[4]s@%[2]s>
Content-Type: application/sdp
Content-Length: %[6]d

%[7]s`, r.to, r.local(), callID, user, d.to, len(body), sdp))
	return d
}

// answered waits for the 200 to the INVITE, keeps its To (with the
// gateway's tag) for the dialog's requests, and returns it.
func (d *rawDialog) answered(wait time.Duration) (string, error) {
	ok, err := d.r.wait(wait, "SIP/2.0 200")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(ok, "\r\n") {
		if strings.HasPrefix(strings.ToLower(l), "to:") {
			d.to = l[3:]
		}
	}
	return ok, nil
}

// request sends method in the dialog (ACK with CSeq 1, BYE with a later
// one), or a CANCEL of the INVITE.
func (d *rawDialog) request(method string, cseq int) {
	d.r.t.Helper()
	d.r.send(fmt.Sprintf(`%[1]s sip:support@%[2]s SIP/2.0
Via: SIP/2.0/UDP %[3]s;branch=z9hG4bK-%[4]s-%[6]s;rport
Max-Forwards: 70
From: <sip:%[5]s@127.0.0.1>;tag=%[4]s
To:%[7]s
Call-ID: %[4]s
CSeq: %[8]d %[1]s
Content-Length: 0

`, method, d.r.to, d.r.local(), d.callID, d.user, branchOf(method), d.to, cseq))
}

// branchOf is the Via branch suffix of a raw request: a CANCEL must carry
// its INVITE's branch (RFC 3261 §9.1); an ACK for a 2xx and a BYE are new
// transactions.
func branchOf(method string) string {
	if method == "CANCEL" {
		return "invite"
	}
	return strings.ToLower(method)
}

// TestBadInputLosesNothing sends malformed SIP and garbage RTP to the real
// gateway during a live call: the bad input is answered 400 or dropped, the
// call keeps its menu, and OPTIONS is still answered.
func TestBadInputLosesNothing(t *testing.T) {
	g := startGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "robust", To: "support"})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	raw := newRawSIP(t, g.SIP)

	// A request whose headers are readable but whose CSeq is broken: 400.
	raw.send(fmt.Sprintf(`INVITE sip:support@%s SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-bad1;rport
Max-Forwards: 70
From: <sip:x@127.0.0.1>;tag=b1
To: <sip:support@%s>
Call-ID: bad-cseq-1
CSeq: notanumber INVITE
Content-Length: 0

`, g.SIP, raw.local(), g.SIP))
	if _, err := raw.wait(3*time.Second, "SIP/2.0 400"); err != nil {
		t.Errorf("malformed CSeq: %v", err)
	}
	// Pure garbage and a truncated message: dropped, nothing crashes.
	raw.send("\x00\x01garbage that is not SIP\n\n")
	raw.send("INVITE sip:x SIP/2.0\nVia: SIP/2.0/UDP")
	// Garbage at the call's RTP port, from a stranger's address.
	rtpJunk, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(c.Media().Remote))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		_, _ = rtpJunk.Write([]byte(strings.Repeat("x", i*7)))
	}
	rtpJunk.Close()

	// OPTIONS still answered, with Allow and Accept.
	raw.send(raw.options("probe-after-junk"))
	resp, err := raw.wait(3*time.Second, "SIP/2.0 200")
	if err != nil {
		t.Fatalf("OPTIONS after junk: %v", err)
	}
	for _, h := range []string{"Allow:", "INVITE", "Accept: application/sdp"} {
		if !strings.Contains(resp, h) {
			t.Errorf("OPTIONS answer lacks %q:\n%s", h, resp)
		}
	}
	// The live call still follows keys, and still gets our audio.
	before := len(c.Received())
	t1 := time.Now()
	if err := c.SendDigit4733('3', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitPrompt(ctx, c, t1, promptSignature(t, promptSet(t), "en", "order_status", c.Media().Codec)); err != nil {
		t.Fatalf("menu after junk: %v", err)
	}
	if len(c.Received()) <= before {
		t.Error("no RTP after the junk")
	}
	_ = c.Hangup(ctx)
}

// TestHoldDelayedOfferCancel covers the dialog cases on the real binary.
func TestHoldDelayedOfferCancel(t *testing.T) {
	g := startGateway(t)

	t.Run("hold-unhold", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "holder", To: "support"})
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		defer c.Close()
		if err := c.WaitForSpeech(ctx, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := c.Hold(ctx); err != nil {
			t.Fatalf("Hold: %v", err)
		}
		time.Sleep(200 * time.Millisecond) // packets in flight
		n := len(c.Received())
		time.Sleep(time.Second)
		if got := len(c.Received()) - n; got > 2 {
			t.Errorf("on hold (we sent a=sendonly) the gateway sent %d packets in 1 s, want none", got)
		}
		if err := c.Unhold(ctx); err != nil {
			t.Fatalf("Unhold: %v", err)
		}
		n = len(c.Received())
		time.Sleep(time.Second)
		if got := len(c.Received()) - n; got < 40 {
			t.Errorf("after unhold the gateway sent %d packets in 1 s, want about 50", got)
		}
		if err := c.Hangup(ctx); err != nil {
			t.Fatalf("Hangup after hold: %v", err)
		}
	})

	t.Run("delayed-offer", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "late", To: "support", NoSDP: true, Codecs: []uint8{8}})
		if err != nil {
			t.Fatalf("Dial without SDP: %v", err)
		}
		defer c.Close()
		if c.Media().Codec != 8 {
			t.Errorf("delayed offer: codec %d, want 8 (the only one in our answer)", c.Media().Codec)
		}
		if err := c.WaitForSpeech(ctx, 300*time.Millisecond); err != nil {
			t.Fatalf("no speech after delayed offer: %v", err)
		}
		_ = c.Hangup(ctx)
	})

	t.Run("no-common-codec", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "g729", To: "support", Codecs: []uint8{18}})
		var se *testphone.StatusError
		if !errors.As(err, &se) || se.Code != 488 {
			t.Fatalf("Dial offering only G.729 = %v, want 488", err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		// A raw INVITE lets us CANCEL before any answer could be sent: the
		// gateway answers at once, so race the CANCEL against the 200.
		raw := newRawSIP(t, g.SIP)
		d := raw.invite("cancel-test-1", "canceller", sdpOffer)
		d.request("CANCEL", 1)
		// Either the CANCEL won (200 to CANCEL, 487 to INVITE) or the 200
		// to the INVITE did (200 or 481 to CANCEL, and a live call): both
		// are RFC 3261 §9.2. Whichever won, both transactions get their
		// final answer, and a won call is a real dialog that BYE ends.
		var invite, cancel int
		for invite == 0 || cancel == 0 {
			msg, err := raw.wait(5*time.Second, "SIP/2.0 ")
			if err != nil {
				t.Fatalf("final answers: INVITE %d, CANCEL %d: %v", invite, cancel, err)
			}
			code, _ := strconv.Atoi(msg[8:11])
			switch {
			case code < 200:
			case strings.Contains(msg, "CSeq: 1 INVITE"):
				invite = code
				if code == 200 {
					for _, l := range strings.Split(msg, "\r\n") {
						if strings.HasPrefix(strings.ToLower(l), "to:") {
							d.to = l[3:]
						}
					}
				}
			case strings.Contains(msg, "CSeq: 1 CANCEL"):
				cancel = code
			}
		}
		t.Logf("INVITE answered %d, CANCEL %d", invite, cancel)
		switch {
		case invite == 487 && cancel == 200:
		case invite == 200 && (cancel == 200 || cancel == 481):
			d.request("ACK", 1)
			d.request("BYE", 2)
			if bye, err := raw.wait(5*time.Second, "SIP/2.0 "); err != nil || !strings.HasPrefix(bye, "SIP/2.0 200") {
				t.Errorf("BYE of the call the CANCEL lost to: %v\n%s", err, bye)
			}
		default:
			t.Errorf("INVITE answered %d and CANCEL %d, want 487 and 200, or 200 and 200/481", invite, cancel)
		}
	})
}

const sdpOffer = `v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 9 RTP/AVP 0 101
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
`

// TestNoRTPHangsUp: a caller whose phone never sends RTP is hung up on after
// -no-rtp-timeout, with a BYE.
func TestNoRTPHangsUp(t *testing.T) {
	g := startGateway(t, "-no-rtp-timeout", "2s")
	raw := newRawSIP(t, g.SIP)
	d := raw.invite("silent-caller-1", "silent", sdpOffer)
	if _, err := d.answered(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	d.request("ACK", 1)
	start := time.Now()
	bye, err := raw.wait(8*time.Second, "BYE")
	if err != nil {
		t.Fatalf("no BYE for a caller without RTP: %v", err)
	}
	if waited := time.Since(start); waited < 1500*time.Millisecond {
		t.Errorf("BYE after %v, want after the 2 s timeout", waited)
	}
	if !strings.Contains(bye, "silent-caller-1") {
		t.Errorf("BYE for another call:\n%s", bye)
	}
	raw.reply(bye, "200 OK")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := g.waitLog(ctx, "call summary", "silent-caller-1", "ended=no_rtp"); err != nil {
		t.Error(err)
	}
}
