package e2e

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/sip/testphone"
	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// sharedGateway runs the gateway with two shared RTP sockets on the first
// even ports of its own range, and returns those two ports.
func sharedGateway(t *testing.T) (*gw, map[int]bool) {
	t.Helper()
	rng := rtpRangeN(t, 20)
	lo, _, _ := strings.Cut(rng, "-")
	base, err := strconv.Atoi(lo)
	if err != nil {
		t.Fatal(err)
	}
	base += base % 2
	g := fbGateway(t, "-rtp-ports", rng, "-rtp-shared", "2")
	return g, map[int]bool{base: true, base + 2: true}
}

func metricFloat(t *testing.T, ctx context.Context, g *gw, name string) float64 {
	t.Helper()
	v := metricLine(getBody(ctx, t, "http://"+g.HTTP+"/metrics"), name)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("metric %s = %q: %v", name, v, err)
	}
	return f
}

// TestSharedSockets: with -rtp-shared, a caller and the agent it is bridged
// to are both served from the shared sockets, audio flows each way, and a
// stranger aiming RTP and a key press at the shared port reaches nobody:
// it receives nothing, its press does not count, and the caller's own 0
// still reaches a person.
func TestSharedSockets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	g, shared := sharedGateway(t)
	a := agentStartConfig(t, agent.Config{Gateway: g.SIP, Ext: "1002", Password: "demo1002", Mode: agent.AutoAnswer, Tone: 700})
	start := time.Now()
	c := fbCallerConfig(ctx, t, testphone.Config{Target: g.SIP, From: "5550031", To: "support"})
	m := c.Media()
	if !shared[int(m.Remote.Port())] {
		t.Fatalf("caller's media goes to port %d, want a shared one of %v", m.Remote.Port(), shared)
	}
	fbAtMenu(ctx, t, c, start)

	unknown := metricFloat(t, ctx, g, "ivrgw_rtp_shared_unknown_total")
	x := newStranger(t, m.Remote)
	for i := range 20 {
		x.send(t, m.Codec, i == 0, make([]byte, 160))
	}
	for i, end := range []bool{false, false, false, true, true, true} { // 1, billing
		x.send(t, m.EventPT, i == 0, dtmf.AppendEvent(nil, dtmf.Payload{Event: 1, End: end, Volume: 10, Duration: uint16(160 * (i + 1))}))
	}
	if n := x.received(500 * time.Millisecond); n != 0 {
		t.Errorf("stranger received %d RTP packets from the shared socket, want 0", n)
	}
	if got := metricFloat(t, ctx, g, "ivrgw_rtp_shared_unknown_total") - unknown; got < 26 {
		t.Errorf("ivrgw_rtp_shared_unknown_total rose by %v, want at least the stranger's 26 packets", got)
	}

	if err := c.SendDigit4733('0', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ac := fbWaitCall(ctx, t, a)
	fbWaitAnswered(ctx, t, ac, "agent")
	mm := regexp.MustCompile(`(?m)^m=audio (\d+) `).FindStringSubmatch(ac.Invite())
	if mm == nil {
		t.Fatalf("no m=audio in the agent's INVITE:\n%s", ac.Invite())
	}
	if p, _ := strconv.Atoi(mm[1]); !shared[p] {
		t.Errorf("agent leg offered port %d, want a shared one of %v", p, shared)
	}
	if err := fbWaitTone(ctx, "caller", c.Audio, 700); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.SendTone(1000, 3*time.Second) }()
	if err := fbWaitTone(ctx, "agent", ac.Audio, 1000); err != nil {
		t.Fatal(err)
	}
	if n := metricFloat(t, ctx, g, "ivrgw_rtp_shared_streams"); n != 2 {
		t.Errorf("ivrgw_rtp_shared_streams = %v during the bridge, want 2", n)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	fbWaitEnded(ctx, t, ac)
	line, err := g.waitLog(ctx, "call summary", c.CallID())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(line, "keys=1") {
		t.Errorf("call summary = %s\nthe stranger's 1 counted", line)
	}
	if err := poll(ctx, "shared streams back to 0", func() bool {
		return metricFloat(t, ctx, g, "ivrgw_rtp_shared_streams") == 0
	}); err != nil {
		t.Error(err)
	}
}

// TestSharedSocketsNATCallerOwnPort: a caller whose SDP names another
// address than the one its INVITE came from (a phone behind a NAT) is
// given a port of its own even with -rtp-shared, and the menu reaches it
// at the address its RTP comes from.
func TestSharedSocketsNATCallerOwnPort(t *testing.T) {
	g, shared := sharedGateway(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The private address the phone believes it has; its packets come
	// from 127.0.0.1, like its INVITE.
	offer := fmt.Sprintf("v=0\no=- 9 1 IN IP4 127.0.0.9\ns=-\nc=IN IP4 127.0.0.9\nt=0 0\nm=audio %d RTP/AVP 0\na=sendrecv\n", conn.LocalAddr().(*net.UDPAddr).Port)
	d := newRawSIP(t, g.SIP).invite("nat-shared-1", "natted", offer)
	ok, err := d.answered(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	d.request("ACK", 1)
	body := ok[strings.Index(ok, "\r\n\r\n")+4:]
	to := gatewayRTP(t, body)
	if shared[int(to.Port())] {
		t.Fatalf("NAT'd caller was given shared port %d, want one of its own", to.Port())
	}
	keepTalking(t, conn, body, 0, 0xff)
	got := 0
	buf := make([]byte, 1500)
	deadline := time.Now().Add(3 * time.Second)
	for got < 25 {
		_ = conn.SetReadDeadline(deadline)
		if _, _, err := conn.ReadFromUDP(buf); err != nil {
			break
		}
		got++
	}
	if got < 25 {
		t.Errorf("NAT'd caller received %d RTP packets in 3 s at its real address, want 25", got)
	}
	d.request("BYE", 2)
	if _, err := d.r.wait(5*time.Second, "SIP/2.0 200"); err != nil {
		t.Errorf("BYE: %v", err)
	}
}
