package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// floodRTPRange picks n free RTP ports (n/2 calls: even ports only) below
// the kernel's ephemeral range, like rtpRange but wider.
func floodRTPRange(t *testing.T, n int) string {
	t.Helper()
	for range 50 {
		base := 20000 + 2*rand.IntN((12000-n)/2)
		free := true
		for p := base; p < base+n && free; p++ {
			c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				free = false
				break
			}
			c.Close()
		}
		if free {
			return fmt.Sprintf("%d-%d", base, base+n-1)
		}
	}
	t.Fatalf("no free range of %d RTP ports in 20000-31999", n)
	return ""
}

// flooder sends INVITEs from one loopback address and never ACKs them.
type flooder struct {
	conn *net.UDPConn
	gw   string

	mu       sync.Mutex
	finals   map[string]int // Call-ID → first final status
	received int
}

func newFlooder(t *testing.T, ip, gw string) *flooder {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("bind %s: %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return &flooder{conn: c, gw: gw, finals: map[string]int{}}
}

func (f *flooder) invite(i int) {
	local := f.conn.LocalAddr().String()
	host := strings.Split(local, ":")[0]
	body := fmt.Sprintf("v=0\r\no=- %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n", i, host, host)
	msg := fmt.Sprintf("INVITE sip:support@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-flood-%d;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:flood@%s>;tag=fl%d\r\nTo: <sip:support@%s>\r\n"+
		"Call-ID: flood-%d@%s\r\nCSeq: 1 INVITE\r\nContact: <sip:flood@%s>\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		f.gw, local, i, host, i, f.gw, i, host, local, len(body), body)
	udp, _ := net.ResolveUDPAddr("udp4", f.gw)
	f.conn.WriteToUDP([]byte(msg), udp)
}

// read records the first final response per Call-ID until the socket is
// closed or the deadline passes.
func (f *flooder) read(deadline time.Time) {
	buf := make([]byte, 4096)
	f.conn.SetReadDeadline(deadline)
	for {
		n, _, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		msg := string(buf[:n])
		var code int
		if _, err := fmt.Sscanf(msg, "SIP/2.0 %d", &code); err != nil || code < 200 {
			continue
		}
		id := ""
		for _, l := range strings.Split(msg, "\r\n") {
			if name, v, ok := strings.Cut(l, ":"); ok && (strings.EqualFold(name, "Call-ID") || name == "i") {
				id = strings.TrimSpace(v)
			}
		}
		f.mu.Lock()
		f.received++
		if _, seen := f.finals[id]; !seen {
			f.finals[id] = code
		}
		f.mu.Unlock()
	}
}

func (f *flooder) counts() map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int]int{}
	for _, c := range f.finals {
		out[c]++
	}
	return out
}

// TestFloodOneSourceOthersAnswered: 127.0.0.2 floods INVITEs and never
// ACKs (issue 6: 20,000 such INVITEs held every RTP port for over a
// minute). It holds at most -sip-max-pending (16) calls and RTP ports,
// its excess gets 503 or nothing, and a caller from 127.0.0.1 is answered
// and hears the menu all through the flood, and again after it.
func TestFloodOneSourceOthersAnswered(t *testing.T) {
	// 30 calls' worth of RTP ports: the flooder alone could take them all.
	g := startGateway(t, "-rtp-ports", floodRTPRange(t, 60))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	f := newFlooder(t, "127.0.0.2", g.SIP)
	const floodFor, sent = 6 * time.Second, 1200 // 200 INVITEs a second
	readDone := make(chan struct{})
	go func() { f.read(time.Now().Add(floodFor + 3*time.Second)); close(readDone) }()
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		tick := time.NewTicker(floodFor / sent)
		defer tick.Stop()
		for i := range sent {
			f.invite(i)
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Let the flood take what it can before the legitimate caller dials.
	for range 100 {
		if f.counts()[200] > 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	dial := func(name string) *testphone.Call {
		t.Helper()
		c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: name, To: "support"})
		if err != nil {
			t.Fatalf("%s call from 127.0.0.1: Dial: %v (flooder got %v)", name, err, f.counts())
		}
		return c
	}
	c := dial("legit")
	defer c.Close()
	start := time.Now()
	if err := c.WaitForSpeech(ctx, 500*time.Millisecond); err != nil {
		t.Fatalf("legit call: no speech during the flood: %v", err)
	}
	<-floodDone
	end := time.Now()
	// Audio throughout: RTP every 20 ms from answer to the end of the
	// flood, with no silence gap of a second.
	var n int
	var last time.Time
	gap := time.Duration(0)
	for _, p := range c.Received() {
		if p.Arrival.Before(start) || p.Arrival.After(end) {
			continue
		}
		if !last.IsZero() {
			gap = max(gap, p.Arrival.Sub(last))
		}
		last = p.Arrival
		n++
	}
	want := int(end.Sub(start)/(20*time.Millisecond)) * 3 / 4
	if n < want || gap > time.Second {
		t.Errorf("legit call during the flood: %d RTP packets in %v (longest gap %v), want >= %d and no gap over 1s", n, end.Sub(start).Round(time.Millisecond), gap, want)
	}
	// Another caller after the flood, while the flooder's calls still wait
	// for their ACK.
	c2 := dial("after")
	if err := c2.WaitForSpeech(ctx, 300*time.Millisecond); err != nil {
		t.Errorf("call after the flood: no speech: %v", err)
	}
	c2.Close()

	<-readDone
	got := f.counts()
	if got[200] == 0 || got[200] > 16 {
		t.Errorf("flooder: %d calls answered 200, want 1..16 (-sip-max-pending)", got[200])
	}
	if got[503] == 0 {
		t.Errorf("flooder: no 503, want the excess refused (%v)", got)
	}
	answered := 0
	for _, k := range got {
		answered += k
	}
	if answered >= sent {
		t.Errorf("flooder: %d of %d INVITEs answered, want the far excess dropped", answered, sent)
	}
	t.Logf("flooder: %d INVITEs, finals by status %v, %d unanswered", sent, got, sent-answered)
}
