package e2e

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/ivrgw/ivrgw/media/g711"
)

// TestDynamicPayloadTypeCall: a caller whose SDP maps PCMA to a dynamic
// payload type (m=audio … RTP/AVP 97 101, a=rtpmap:97 PCMA/8000; RFC 3551
// §3 allows it, some trunks do it) is answered with the same number
// (RFC 3264 §6.1) and hears the greeting, bit-exact in A-law, on PT 97.
func TestDynamicPayloadTypeCall(t *testing.T) {
	g := startGateway(t)
	media, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer media.Close()
	port := media.LocalAddr().(*net.UDPAddr).Port
	offer := fmt.Sprintf(`v=0
o=- 7 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio %d RTP/AVP 97 101
a=rtpmap:97 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
`, port)
	d := newRawSIP(t, g.SIP).invite("dynamic-pt-1", "dynamic", offer)
	ok, err := d.answered(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^m=audio \d+ RTP/AVP 97 101\r$`).MatchString(ok) || !strings.Contains(ok, "a=rtpmap:97 PCMA/8000\r\n") {
		t.Fatalf("200 does not answer with PT 97 as PCMA:\n%s", ok)
	}
	d.request("ACK", 1)
	// Like a real phone, the caller sends from the answer on (on PT 97):
	// the gateway sends only briefly to a peer that never has.
	keepTalking(t, media, ok, 97, 0xD5)

	sig := promptSignature(t, promptSet(t), "en", "main_menu", g711.PayloadPCMA)
	var audio []int16
	buf := make([]byte, 1500)
	var p rtp.Packet
	deadline := time.Now().Add(15 * time.Second)
	for !sig.heardIn(audio) {
		_ = media.SetReadDeadline(deadline)
		n, _, err := media.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("main menu not heard in A-law on PT 97 (%d samples received): %v", len(audio), err)
		}
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatalf("gateway sent a packet that is not RTP: %v", err)
		}
		if p.PayloadType != 97 {
			t.Fatalf("gateway sent RTP with PT %d, want the negotiated 97", p.PayloadType)
		}
		audio = append(audio, g711.Decode(make([]int16, len(p.Payload)), p.Payload, g711.PayloadPCMA)...)
	}
	d.request("BYE", 2)
	if _, err := d.r.wait(5*time.Second, "SIP/2.0 200"); err != nil {
		t.Errorf("BYE: %v", err)
	}
}
