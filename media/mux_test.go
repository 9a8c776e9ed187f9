//go:build linux

package media

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// newMux binds a shared socket on loopback, attached to a started pacer.
func newMux(t testing.TB, p *Pacer) *Mux {
	t.Helper()
	m, err := NewMux(netip.AddrPortFrom(loopback, 0))
	if err != nil {
		t.Fatalf("NewMux: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	p.AttachMux(m)
	return m
}

// muxStream starts a paced stream on m, signalled at remote, until the end
// of the test.
func muxStream(t testing.TB, p *Pacer, m *Mux, remote netip.AddrPort, cfg StreamConfig) *Stream {
	t.Helper()
	cfg.Mux, cfg.Remote = m, remote
	if cfg.UnlatchedSend == 0 {
		cfg.UnlatchedSend = time.Minute
	}
	s := NewStream(cfg)
	before := m.Len()
	run(t, s)
	p.Add(s)
	t.Cleanup(func() { p.Remove(s) })
	waitFor(t, func() bool { return m.Len() == before+1 }, "stream attached")
	return s
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Two calls on one shared port: each stream hears only its own peer, and
// each peer gets its own stream's packets from the one shared address.
func TestMuxDemultiplexesByAddress(t *testing.T) {
	p := startPacer(t, 2)
	m := newMux(t, p)
	pa, pb := newSender(t, m.LocalAddr(), 0), newSender(t, m.LocalAddr(), 0)
	pb.pkt.SSRC = 0x9999
	a := muxStream(t, p, m, addrOf(pa.conn), StreamConfig{})
	b := muxStream(t, p, m, addrOf(pb.conn), StreamConfig{})
	for range 5 {
		pa.send(t, 0, 0, false, a.silence)
	}
	for range 3 {
		pb.send(t, 0, 0, false, b.silence)
	}
	waitFor(t, func() bool { return a.Stats().PacketsIn == 5 && b.Stats().PacketsIn == 3 }, "5 packets on a, 3 on b")

	// What each peer receives comes from the shared port, with its own
	// stream's SSRC, and keeps coming every 20 ms.
	ssrc := map[*Stream]uint32{}
	for _, c := range []struct {
		s    *Stream
		peer *sender
	}{{a, pa}, {b, pb}} {
		first, src, ok := readPacket(t, c.peer.conn, time.Second)
		if !ok {
			t.Fatalf("peer %v got nothing", addrOf(c.peer.conn))
		}
		if src != m.LocalAddr() {
			t.Errorf("packet came from %v, want the shared socket %v", src, m.LocalAddr())
		}
		if first.SSRC != c.s.tx.ssrc {
			t.Errorf("peer got SSRC %#x, want its stream's %#x", first.SSRC, c.s.tx.ssrc)
		}
		ssrc[c.s] = first.SSRC
		for range 5 {
			p := mustRead(t, c.peer.conn)
			if p.SSRC != first.SSRC {
				t.Fatalf("SSRC changed %#x -> %#x: another stream's packet", first.SSRC, p.SSRC)
			}
		}
	}
	if ssrc[a] == ssrc[b] {
		t.Fatal("both peers got the same stream")
	}
	waitFor(t, func() bool { return m.Stats().Sent >= 12 }, "12 packets counted sent")
	st := m.Stats()
	if st.Received < 8 || st.Unknown != 0 {
		t.Errorf("mux stats %+v: want >= 8 received, 0 unknown", st)
	}
	if st.SendCalls >= st.Sent {
		t.Logf("no batching seen yet: %d sendmmsg for %d packets", st.SendCalls, st.Sent)
	}
}

// A stranger on the shared port reaches no stream, and a second call whose
// SDP names an address already taken does not take it over.
func TestMuxRefusesStrangersAndTakenAddresses(t *testing.T) {
	p := startPacer(t, 1)
	m := newMux(t, p)
	peer := newSender(t, m.LocalAddr(), 0)
	s := muxStream(t, p, m, addrOf(peer.conn), StreamConfig{})
	thief := muxStream(t, p, m, addrOf(peer.conn), StreamConfig{}) // same signalled address
	if got := m.Stats().Conflicts; got != 1 {
		t.Errorf("conflicts = %d, want 1", got)
	}
	stranger := newSender(t, m.LocalAddr(), 0)
	stranger.pkt.SSRC = 0x7777
	for range 4 {
		stranger.send(t, 0, 0, false, s.silence)
	}
	peer.send(t, 0, 0, false, s.silence)
	waitFor(t, func() bool { return s.Stats().PacketsIn == 1 }, "the peer's packet")
	waitFor(t, func() bool { return m.Stats().Unknown == 4 }, "4 unknown datagrams")
	if st := thief.Stats(); st.PacketsIn != 0 {
		t.Errorf("the second stream on a taken address got %d packets", st.PacketsIn)
	}
	if _, _, ok := readPacket(t, stranger.conn, 100*time.Millisecond); ok {
		t.Error("the stranger was sent media")
	}
}

// A NAT rebinding still works on a shared socket: the latched SSRC,
// continuing its sequence from a new address after a second of silence,
// is found by SSRC and moves the latch; the old address then reaches
// nothing.
func TestMuxFollowsRebindingBySSRC(t *testing.T) {
	p := startPacer(t, 1)
	m := newMux(t, p)
	old := newSender(t, m.LocalAddr(), 0)
	s := muxStream(t, p, m, addrOf(old.conn), StreamConfig{})
	for range 3 {
		old.send(t, 0, 0, false, s.silence)
	}
	waitFor(t, func() bool { return s.Stats().PacketsIn == 3 }, "3 packets from the old address")
	rebound := newSender(t, m.LocalAddr(), 0)
	rebound.pkt.SequenceNumber = old.pkt.SequenceNumber
	rebound.send(t, 0, 0, false, s.silence) // too soon: dropped by the latch
	waitFor(t, func() bool { return s.Stats().ForeignDropped == 1 }, "the early packet refused")
	time.Sleep(relatchSilence + 50*time.Millisecond)
	rebound.send(t, 0, 0, false, s.silence)
	waitFor(t, func() bool { return s.Remote() == addrOf(rebound.conn) }, "latch moved to the new address")
	if _, _, ok := readPacket(t, rebound.conn, time.Second); !ok {
		t.Fatal("no media at the rebound address")
	}
	in := s.Stats().PacketsIn
	rebound.send(t, 0, 0, false, s.silence)
	waitFor(t, func() bool { return s.Stats().PacketsIn == in+1 }, "a packet from the rebound address")
}

// Two bridged streams on shared sockets relay each other's packets.
func TestMuxBridge(t *testing.T) {
	p := startPacer(t, 2)
	m1, m2 := newMux(t, p), newMux(t, p)
	caller, agent := newSender(t, m1.LocalAddr(), 0), newSender(t, m2.LocalAddr(), 8)
	agent.pkt.SSRC = 0x4242
	a := muxStream(t, p, m1, addrOf(caller.conn), StreamConfig{})
	b := muxStream(t, p, m2, addrOf(agent.conn), StreamConfig{PayloadType: 8})
	Bridge(a, b)
	drain(t, agent.conn, 60*time.Millisecond)
	drain(t, caller.conn, 60*time.Millisecond)
	frame := testClip("x", 1, 40).ULaw[0]
	for range 5 {
		caller.send(t, 0, 0, false, frame)
	}
	var got []rtp.Packet
	for range 5 {
		got = append(got, mustRead(t, agent.conn))
	}
	if got[0].PayloadType != 8 || got[0].SSRC != b.tx.ssrc {
		t.Errorf("agent got pt %d ssrc %#x, want 8 and its stream's %#x", got[0].PayloadType, got[0].SSRC, b.tx.ssrc)
	}
	for i := 1; i < len(got); i++ {
		if got[i].SequenceNumber != got[i-1].SequenceNumber+1 {
			t.Errorf("relayed sequence %d -> %d", got[i-1].SequenceNumber, got[i].SequenceNumber)
		}
	}
	agent.send(t, 8, 0, false, testClip("y", 1, 40).ALaw[0])
	if p := mustRead(t, caller.conn); p.PayloadType != 0 || p.SSRC != a.tx.ssrc {
		t.Errorf("caller got pt %d ssrc %#x, want 0 and %#x", p.PayloadType, p.SSRC, a.tx.ssrc)
	}
}

// After Run ends the stream is forgotten: its peer's packets are unknown.
func TestMuxDetach(t *testing.T) {
	p := startPacer(t, 1)
	m := newMux(t, p)
	peer := newSender(t, m.LocalAddr(), 0)
	s := NewStream(StreamConfig{Mux: m, Remote: addrOf(peer.conn)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, func() bool { return m.Len() == 1 }, "attached")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	m.mu.Lock()
	kept := len(m.byAddr) + len(m.bySSRC)
	m.mu.Unlock()
	if m.Len() != 0 || kept != 0 {
		t.Fatalf("after Run: %d streams, %d keys kept", m.Len(), kept)
	}
	// A stream still attached keeps the worker draining.
	other := newSender(t, m.LocalAddr(), 0)
	muxStream(t, p, m, addrOf(other.conn), StreamConfig{})
	peer.send(t, 0, 0, false, s.silence)
	waitFor(t, func() bool { return m.Stats().Unknown == 1 }, "the detached stream's packet counted unknown")
	if s.Stats().PacketsIn != 0 {
		t.Error("a detached stream got a packet")
	}
}

// Many streams on one shared socket: the sends of a pacer slot go out
// together, in fewer sendmmsg calls than packets.
func TestMuxBatchesSends(t *testing.T) {
	p := startPacer(t, 1)
	m := newMux(t, p)
	sink := listen(t)
	if err := sink.SetReadBuffer(1 << 20); err != nil {
		t.Logf("sink buffer: %v", err)
	}
	base := addrOf(sink)
	for i := range 60 {
		// Distinct signalled addresses (the port differs); only the first
		// exists, the rest are sent to a closed loopback port, which
		// loopback accepts and drops.
		muxStream(t, p, m, netip.AddrPortFrom(base.Addr(), base.Port()+uint16(i)), StreamConfig{})
	}
	before := m.Stats()
	time.Sleep(300 * time.Millisecond)
	st := m.Stats()
	sent, calls := st.Sent-before.Sent, st.SendCalls-before.SendCalls
	if sent < 60*10 {
		t.Fatalf("sent %d packets in 300 ms for 60 streams, want >= 600", sent)
	}
	if calls*2 > sent {
		t.Errorf("%d sendmmsg calls for %d packets: want at least 2 packets a call", calls, sent)
	}
	t.Logf("%d packets in %d sendmmsg calls (%.1f a call)", sent, calls, float64(sent)/float64(calls))
}

// peerMux is a shared socket used as the far ends of many streams: one
// sendmmsg puts a packet on each.
func peerMux(tb testing.TB) *Mux {
	m, err := NewMux(netip.AddrPortFrom(loopback, 0))
	if err != nil {
		tb.Fatalf("NewMux: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

func TestMuxPathsDoNotAllocate(t *testing.T) {
	p := NewPacer(1, nil) // not started: the test drives drain and flush itself
	m, err := NewMux(netip.AddrPortFrom(loopback, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p.AttachMux(m)
	peer := peerMux(t)
	s := NewStream(StreamConfig{Mux: m, Remote: peer.LocalAddr(), EventPT: 101, HasEvents: true, Inband: true})
	m.attach(s)
	defer m.detach(s)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 0xabc, SequenceNumber: 1}, Payload: s.silence}
	allocs := testing.AllocsPerRun(300, func() {
		pkt.SequenceNumber++
		b, _ := pkt.Marshal() // the peer's side; not counted below
		peer.enqueue(b, m.LocalAddr())
		peer.flush()
	})
	_ = allocs // the peer's Marshal allocates; measured apart below
	buf := make([]byte, 1500)
	in := s.Stats().PacketsIn
	m.drain()
	if s.Stats().PacketsIn == in {
		t.Fatal("drain delivered nothing")
	}
	recv := testing.AllocsPerRun(300, func() {
		pkt.SequenceNumber++
		n, _ := pkt.MarshalTo(buf)
		peer.enqueue(buf[:n], m.LocalAddr())
		peer.flush()
		m.drain()
	})
	if recv != 0 {
		t.Errorf("shared receive path (drain + handlePacket) allocs/packet = %v, want 0", recv)
	}
	s.Play(testClip("a", 1000, 1))
	send := testing.AllocsPerRun(300, func() {
		s.tick()
		m.flush()
	})
	if send != 0 {
		t.Errorf("shared send path (tick + flush) allocs/packet = %v, want 0", send)
	}
	if st := m.Stats(); st.Sent < 300 || st.SendErrors != 0 {
		t.Errorf("mux stats %+v: want >= 300 sent, no errors", st)
	}
}

// The cost of one pacer slot's worth of packets (25: 1,000 calls on two
// workers) each way, a socket per stream against one shared socket; the
// far ends are one shared socket in both cases, so the difference is the
// gateway side. ns/packet is the figure to compare.
func BenchmarkSlot(b *testing.B) {
	const n = 25
	for _, mode := range []string{"ports", "shared"} {
		b.Run("send/"+mode, func(b *testing.B) {
			sink := peerMux(b)
			var m *Mux
			if mode == "shared" {
				m = peerMux(b)
			}
			streams := make([]*Stream, n)
			for i := range streams {
				cfg := StreamConfig{Remote: sink.LocalAddr(), Mux: m}
				if m == nil {
					cfg.Conn = listen(b)
				}
				streams[i] = NewStream(cfg)
				streams[i].Play(testClip("a", 100, 1))
			}
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range streams {
					s.tick()
				}
				if m != nil {
					m.flush()
				}
				for sink.io.recv() == muxBatch { // keep the sink's buffer empty
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/packet")
		})
		b.Run("receive/"+mode, func(b *testing.B) {
			peer := peerMux(b)
			var m *Mux
			if mode == "shared" {
				m = peerMux(b)
			}
			streams := make([]*Stream, n)
			pkts := make([][]byte, n)
			for i := range streams {
				src := netip.AddrPortFrom(loopback, peer.LocalAddr().Port())
				cfg := StreamConfig{Remote: src, Mux: m}
				if m == nil {
					cfg.Conn = listen(b)
				}
				streams[i] = NewStream(cfg)
				pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: uint32(i + 1), SequenceNumber: 1}, Payload: streams[i].silence}
				pkts[i], _ = pkt.Marshal()
			}
			if m != nil {
				// One peer address for all: key them apart by SSRC, as a
				// rebinding would, so the shared socket finds each stream.
				for i, s := range streams {
					m.mu.Lock()
					m.bySSRC[uint32(i+1)] = s
					m.mu.Unlock()
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				for i, s := range streams {
					peer.enqueue(pkts[i], s.LocalAddr())
				}
				peer.flush()
				if m != nil {
					m.drain()
				} else {
					for _, s := range streams {
						receiveOne(b, s)
					}
				}
			}
			var in uint64
			for _, s := range streams {
				in += s.Stats().PacketsIn
			}
			if in == 0 {
				b.Fatal("no packet reached a stream")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/packet")
		})
	}
}
