package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRelay is a tiny rtpengine for tests: it answers ping, offer, answer
// and delete over NG and relays RTP between a call's two legs, one port
// facing each, as rtpengine does.
type fakeRelay struct {
	t      *testing.T
	conn   *net.UDPConn
	refuse bool // answer every offer with an error

	mu      sync.Mutex
	calls   map[string]*fakeCall
	offers  int
	deletes int
	relays  sync.WaitGroup
}

type fakeCall struct {
	pa, pb *net.UDPConn // pa faces leg A (A sends here), pb faces B
	aAddr  netip.AddrPort
}

func startFakeRelay(t *testing.T, refuse bool) *fakeRelay {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRelay{t: t, conn: conn, refuse: refuse, calls: map[string]*fakeCall{}}
	var serving sync.WaitGroup
	serving.Go(f.serve)
	t.Cleanup(func() {
		conn.Close()
		serving.Wait()
		f.mu.Lock()
		for _, c := range f.calls {
			c.pa.Close()
			c.pb.Close()
		}
		f.mu.Unlock()
		f.relays.Wait()
	})
	return f
}

func (f *fakeRelay) addr() string { return f.conn.LocalAddr().String() }

func (f *fakeRelay) serve() {
	buf := make([]byte, 65536)
	for range 1 << 20 {
		n, from, err := f.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		cookie, body, ok := bytes.Cut(buf[:n], []byte{' '})
		if !ok {
			continue
		}
		v, err := bencodeDecode(body)
		req, _ := v.(map[string]any)
		if err != nil || req == nil {
			f.t.Errorf("fake relay: bad request %q: %v", body, err)
			continue
		}
		reply := f.handle(req)
		out, err := bencodeEncode(append(append([]byte{}, cookie...), ' '), reply)
		if err != nil {
			f.t.Errorf("fake relay: encode %v: %v", reply, err)
			continue
		}
		f.conn.WriteToUDPAddrPort(out, from)
	}
}

func (f *fakeRelay) handle(req map[string]any) map[string]any {
	fail := func(why string) map[string]any { return map[string]any{"result": "error", "error-reason": why} }
	cmd, _ := req["command"].(string)
	callID, _ := req["call-id"].(string)
	sdp, _ := req["sdp"].(string)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch cmd {
	case "ping":
		return map[string]any{"result": "pong"}
	case "offer":
		f.offers++
		if f.refuse {
			return fail("refused")
		}
		a, err := sdpAudioTarget(sdp)
		if err != nil || req["from-tag"] == nil {
			return fail("bad offer")
		}
		c := &fakeCall{aAddr: a}
		if c.pa, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return fail(err.Error())
		}
		if c.pb, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			c.pa.Close()
			return fail(err.Error())
		}
		f.calls[callID] = c
		// The offer goes on to B: it names the port facing B.
		return map[string]any{"result": "ok", "sdp": legSDP(netip.MustParseAddr("127.0.0.1"), port(c.pb), 0)}
	case "answer":
		c := f.calls[callID]
		b, err := sdpAudioTarget(sdp)
		if c == nil || err != nil || req["to-tag"] == nil {
			return fail("bad answer")
		}
		f.relays.Go(func() { relayFrom(c.pa, c.pb, b) })
		f.relays.Go(func() { relayFrom(c.pb, c.pa, c.aAddr) })
		return map[string]any{"result": "ok", "sdp": legSDP(netip.MustParseAddr("127.0.0.1"), port(c.pa), 0)}
	case "delete":
		c := f.calls[callID]
		if c == nil {
			return fail("Unknown call-id")
		}
		delete(f.calls, callID)
		c.pa.Close()
		c.pb.Close()
		f.deletes++
		return map[string]any{"result": "ok"}
	}
	return fail("unknown command " + cmd)
}

func port(c *net.UDPConn) uint16 { return c.LocalAddr().(*net.UDPAddr).AddrPort().Port() }

// relayFrom forwards what arrives on in to dst, sent from out.
func relayFrom(in, out *net.UDPConn, dst netip.AddrPort) {
	buf := make([]byte, 2048)
	for range 1 << 20 {
		n, _, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		out.WriteToUDPAddrPort(buf[:n], dst)
	}
}

func TestRunAgainstFakeRelay(t *testing.T) {
	f := startFakeRelay(t, false)
	const sessions = 20
	o := options{
		ng: netip.MustParseAddrPort(f.addr()), sessions: sessions, ramp: 200,
		duration: time.Second, settle: 200 * time.Millisecond, pid: os.Getpid(),
		strict: true, ngTimeout: time.Second,
	}
	var out strings.Builder
	rep, err := run(context.Background(), o, &out)
	if err != nil {
		t.Fatalf("run() error %v, report:\n%s", err, out.String())
	}
	if rep.SetUp != sessions || rep.Failed != 0 || rep.DeleteFailed != 0 {
		t.Errorf("run() set up %d, failed %d, delete failed %d, want %d, 0, 0", rep.SetUp, rep.Failed, rep.DeleteFailed, sessions)
	}
	// Every session sends for at least settle+duration at 50 a second.
	minSent := uint64(sessions * 50 * 1.2 * 0.9)
	for name, d := range map[string]direction{"a->b": rep.AtoB, "b->a": rep.BtoA} {
		if d.Sent < minSent || d.Received != d.Sent || d.LostSeq != 0 || d.Bad != 0 {
			t.Errorf("run() %s = %+v, want sent >= %d, all received, none lost or bad", name, d, minSent)
		}
	}
	if want := uint64(sessions * 2 * 50 * 0.9); rep.SteadyPackets < want {
		t.Errorf("run() steady packets = %d, want >= %d", rep.SteadyPackets, want)
	}
	if rep.Cost == nil || rep.Cost.CPU < 0 {
		t.Errorf("run() cost = %+v, want a measurement of pid %d", rep.Cost, o.pid)
	}
	f.mu.Lock()
	if f.deletes != sessions || len(f.calls) != 0 {
		t.Errorf("fake relay saw %d deletes, %d calls left, want %d, 0", f.deletes, len(f.calls), sessions)
	}
	f.mu.Unlock()
	if !regexp.MustCompile(`(?m)^RESULT sessions=20 setup=20 failed=0 lost_ab=0 lost_ba=0 .*ms_per_session_s=[0-9.]+ us_per_packet=[0-9.]+ `).MatchString(out.String()) {
		t.Errorf("run() report =\n%s\nwant a RESULT line", out.String())
	}
}

func TestRunRefusedOffers(t *testing.T) {
	f := startFakeRelay(t, true)
	o := options{
		ng: netip.MustParseAddrPort(f.addr()), sessions: 3, ramp: 1000,
		duration: 100 * time.Millisecond, strict: true, ngTimeout: time.Second,
	}
	var out strings.Builder
	rep, err := run(context.Background(), o, &out)
	if !errors.Is(err, errNotClean) {
		t.Errorf("run() error = %v, want errNotClean", err)
	}
	if rep == nil || rep.Failed != 3 || rep.SetUp != 0 || rep.DeleteFailed != 0 {
		t.Fatalf("run() = %+v, want 3 failed, none set up, no deletes tried", rep)
	}
	if !strings.Contains(out.String(), `result "error": refused`) {
		t.Errorf("run() report =\n%s\nwant the relay's error-reason", out.String())
	}
}

func TestRunNoRelay(t *testing.T) {
	// A bound but silent socket: every ping try times out.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := options{ng: c.LocalAddr().(*net.UDPAddr).AddrPort(), sessions: 1, ramp: 1, duration: time.Second, ngTimeout: 50 * time.Millisecond}
	if _, err := run(context.Background(), o, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "no reply after 3 tries") {
		t.Errorf("run(silent relay) error = %v, want no reply after 3 tries", err)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
	}{
		{[]string{"-ng", "127.0.0.1:2223", "-sessions", "500", "-duration", "20s", "-pid", "1"}, true},
		{[]string{"-ng", "10.0.0.1:2223"}, false},
		{[]string{"-ng", "localhost:2223"}, false},
		{[]string{"-sessions", "0"}, false},
		{[]string{"-sessions", "5001"}, false},
		{[]string{"-ramp", "0"}, false},
		{[]string{"-ramp", "NaN"}, false},
		{[]string{"-duration", "11m"}, false},
		{[]string{"-pid", "-1"}, false},
		{[]string{"extra"}, false},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, &strings.Builder{})
		if (err == nil) != tt.ok {
			t.Errorf("parseFlags(%q) error = %v, want ok %v", tt.args, err, tt.ok)
		}
	}
}

// The pacer's per-packet path allocates nothing.
func TestLegSendAllocs(t *testing.T) {
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	l, err := newLeg(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.conn.Close()
	l.relay = sink.LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, packetLen)
	frame := int64(0)
	if n := testing.AllocsPerRun(100, func() { frame++; l.send(buf, frame) }); n != 0 {
		t.Errorf("leg.send allocates %v per packet, want 0", n)
	}
}

// A leg counts the peer's packets from the relay port, calls other RTP
// from that port bad, and sets aside datagrams from anywhere else.
func TestLegReceiveSorts(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	relay, err := newLeg(ip)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.conn.Close()
	other, err := newLeg(ip)
	if err != nil {
		t.Fatal(err)
	}
	defer other.conn.Close()
	l, err := newLeg(ip)
	if err != nil {
		t.Fatal(err)
	}
	l.relay, l.recv.wantSSRC = relay.local, relay.ssrc
	relay.relay, other.relay = l.local, l.local
	buf := make([]byte, packetLen)
	for f := range int64(5) {
		relay.send(buf, f)
	}
	other.send(buf, 0)                                        // foreign
	relay.conn.WriteToUDPAddrPort([]byte("not rtp"), l.local) // bad
	relay.seq += 3                                            // a gap of 3
	relay.send(buf, 9)
	var done sync.WaitGroup
	done.Go(func() { l.receive(time.Now().Add(300 * time.Millisecond)) })
	done.Wait()
	l.conn.Close()
	r := &l.recv
	if r.packets.Load() != 6 || r.bad.Load() != 1 || r.foreign.Load() != 1 || r.expected() != 9 {
		t.Errorf("receive: packets %d, bad %d, foreign %d, expected %d, want 6, 1, 1, 9",
			r.packets.Load(), r.bad.Load(), r.foreign.Load(), r.expected())
	}
}
