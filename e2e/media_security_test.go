package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/sip/testphone"
)

// gatewayRTP is the gateway's RTP address from the SDP of its answer.
func gatewayRTP(t *testing.T, answer string) netip.AddrPort {
	t.Helper()
	c := regexp.MustCompile(`(?m)^c=IN IP4 (\S+)\r?$`).FindStringSubmatch(answer)
	m := regexp.MustCompile(`(?m)^m=audio (\d+) `).FindStringSubmatch(answer)
	if c == nil || m == nil {
		t.Fatalf("no c= or m=audio line in the answer:\n%s", answer)
	}
	ip, err := netip.ParseAddr(c[1])
	port, err2 := strconv.Atoi(m[1])
	if err != nil || err2 != nil {
		t.Fatalf("answer's RTP address %s:%s: %v %v", c[1], m[1], err, err2)
	}
	return netip.AddrPortFrom(ip, uint16(port))
}

// keepTalking sends a frame of silence every 20 ms from conn to the
// gateway's RTP address in answer, as a real phone does from the moment it
// has the answer (the gateway sends only briefly to a peer that has not),
// until the test ends; at most two minutes of packets.
func keepTalking(t *testing.T, conn *net.UDPConn, answer string, pt uint8, silence byte) {
	t.Helper()
	to := gatewayRTP(t, answer)
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(done); wg.Wait() })
	wg.Go(func() {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: rand.Uint32(), SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()},
			Payload: []byte(strings.Repeat(string([]byte{silence}), 160))}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for range 6000 {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if b, err := p.Marshal(); err == nil {
				_, _ = conn.WriteToUDPAddrPort(b, to)
			}
			p.SequenceNumber++
			p.Timestamp += 160
		}
	})
}

// stranger is an attacker on another socket aiming valid RTP at a call.
type stranger struct {
	conn *net.UDPConn
	to   netip.AddrPort
	pkt  rtp.Packet
}

func newStranger(t *testing.T, to netip.AddrPort) *stranger {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &stranger{conn: conn, to: to, pkt: rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 0xbad, SequenceNumber: 1, Timestamp: 160}}}
}

func (s *stranger) send(t *testing.T, pt uint8, marker bool, payload []byte) {
	t.Helper()
	s.pkt.PayloadType, s.pkt.Marker, s.pkt.Payload = pt, marker, payload
	b, err := s.pkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.conn.WriteToUDPAddrPort(b, s.to); err != nil {
		t.Fatal(err)
	}
	s.pkt.SequenceNumber++
}

// received counts the packets that reach s until it has heard nothing for quiet.
func (s *stranger) received(quiet time.Duration) int {
	buf := make([]byte, 1500)
	n := 0
	for n < 10000 {
		_ = s.conn.SetReadDeadline(time.Now().Add(quiet))
		if _, _, err := s.conn.ReadFromUDPAddrPort(buf); err != nil {
			return n
		}
		n++
	}
	return n
}

// TestRTPHijackRefused: a stranger who aims valid RTP (the call's payload
// types) at a live call's port gets none of the caller's audio and its key
// presses do nothing; the caller's call goes on. Before issue 6's fix
// three packets from a new address moved the stream to it, and a
// telephone-event from anywhere was a key press.
func TestRTPHijackRefused(t *testing.T) {
	g := startGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "hijacked", To: "support", Codecs: []uint8{0}, EventPT: 101})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	start := time.Now()
	fbAtMenu(ctx, t, c, start)

	m := c.Media()
	x := newStranger(t, m.Remote)
	for i := range 50 {
		x.send(t, m.Codec, i == 0, make([]byte, 160))
	}
	// 1 (billing) as an RFC 4733 press, as a phone sends it.
	for i, end := range []bool{false, false, false, true, true, true} {
		// The timestamp stays: one event, one timestamp (RFC 4733 §2.2.1).
		x.send(t, m.EventPT, i == 0, dtmf.AppendEvent(nil, dtmf.Payload{Event: 1, End: end, Volume: 10, Duration: uint16(160 * (i + 1))}))
	}
	if n := x.received(500 * time.Millisecond); n != 0 {
		t.Errorf("stranger received %d RTP packets from the call, want 0", n)
	}

	// The caller's call is unharmed: its own 3 leads to order status.
	before := len(c.Received())
	t1 := time.Now()
	if err := c.SendDigit4733('3', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitPrompt(ctx, c, t1, promptSignature(t, promptSet(t), "en", "order_status", m.Codec)); err != nil {
		t.Fatalf("caller's own key after the attack: %v", err)
	}
	if after := len(c.Received()); after <= before {
		t.Errorf("caller received %d packets after the attack, want more than %d", after, before)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	line, err := g.waitLog(ctx, "call summary", c.CallID())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "keys=3 ") {
		t.Errorf("call summary = %s\nwant keys=3 (the stranger's 1 must not count)", line)
	}
}

// TestSilentPeerGetsBoundedRTP: an INVITE whose SDP names an address that
// never sends (a victim of reflection) gets about two seconds of RTP, not
// -no-rtp-timeout's thirty (issue 6: ~300x the INVITE's bytes).
func TestSilentPeerGetsBoundedRTP(t *testing.T) {
	g := startGateway(t)
	victim, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	offer := fmt.Sprintf("v=0\no=- 7 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio %d RTP/AVP 0\na=sendrecv\n", victim.LocalAddr().(*net.UDPAddr).Port)
	d := newRawSIP(t, g.SIP).invite("reflect-1", "reflector", offer)
	if _, err := d.answered(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	d.request("ACK", 1)

	// Count for 4 s: twice the bound, and at 50 packets a second the old
	// behaviour shows 200.
	const bound = 100 // media.DefaultUnlatchedSend / 20 ms
	got := 0
	buf := make([]byte, 1500)
	deadline := time.Now().Add(4 * time.Second)
	for got < 10000 {
		_ = victim.SetReadDeadline(deadline)
		if _, _, err := victim.ReadFromUDP(buf); err != nil {
			break
		}
		got++
	}
	if got == 0 || got > bound {
		t.Errorf("packets at an address that never sent, over 4 s = %d, want 1..%d", got, bound)
	}
	d.request("BYE", 2)
	if _, err := d.r.wait(5*time.Second, "SIP/2.0 200"); err != nil {
		t.Errorf("BYE: %v", err)
	}
}
