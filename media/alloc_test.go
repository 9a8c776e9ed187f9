package media

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/media/g711"
)

// receiveOne reads one datagram on s's socket and handles it, as Run does.
func receiveOne(tb testing.TB, s *Stream) {
	n, src, err := s.conn.ReadFromUDPAddrPort(s.rx.buf[:])
	if err != nil {
		tb.Fatalf("read: %v", err)
	}
	s.handlePacket(s.rx.buf[:n], src)
}

// receiveFixture: a stream with in-band detection and events, and a peer
// whose marshalled audio and event packets are ready to write.
func receiveFixture(tb testing.TB) (*Stream, *sender, []byte, []byte) {
	s := newStream(tb, StreamConfig{Remote: addrOf(listen(tb)), EventPT: 101, HasEvents: true, Inband: true})
	peer := newSender(tb, s.LocalAddr(), 0)
	frame := dtmfFrames(770, 1336, 20, 0, 0)[0]
	audio := marshal(tb, peer, 0, frame)
	event := marshal(tb, peer, 101, dtmf.AppendEvent(nil, dtmf.Payload{Event: 5, Duration: 160}))
	return s, peer, audio, event
}

func marshal(tb testing.TB, s *sender, pt uint8, payload []byte) []byte {
	s.pkt.PayloadType, s.pkt.Payload = pt, payload
	b, err := s.pkt.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestPerPacketPathsDoNotAllocate(t *testing.T) {
	t.Run("receive", func(t *testing.T) {
		s, peer, audio, event := receiveFixture(t)
		i := 0
		allocs := testing.AllocsPerRun(300, func() {
			i++
			if i%5 == 0 {
				peer.raw(t, event)
			} else {
				peer.raw(t, audio)
			}
			receiveOne(t, s)
		})
		if allocs != 0 {
			t.Errorf("receive path allocs/packet = %v, want 0", allocs)
		}
	})
	t.Run("foreign", func(t *testing.T) {
		s, peer, audio, event := receiveFixture(t)
		peer.raw(t, audio)
		receiveOne(t, s) // peer latches
		x := newSender(t, s.LocalAddr(), 0)
		i := 0
		allocs := testing.AllocsPerRun(300, func() {
			i++
			if i%5 == 0 {
				x.raw(t, event)
			} else {
				x.raw(t, audio)
			}
			receiveOne(t, s)
		})
		if allocs != 0 {
			t.Errorf("foreign packet allocs/packet = %v, want 0", allocs)
		}
		if st := s.Stats(); st.ForeignDropped < 300 {
			t.Errorf("Stats().ForeignDropped = %d, want >= 300", st.ForeignDropped)
		}
	})
	t.Run("send", func(t *testing.T) {
		s := newStream(t, StreamConfig{Remote: addrOf(listen(t))})
		heardFrom(t, s, s.Remote())
		s.Play(testClip("a", 1000, 1))
		if allocs := testing.AllocsPerRun(300, s.tick); allocs != 0 {
			t.Errorf("send path allocs/packet = %v, want 0", allocs)
		}
		if st := s.Stats(); st.PacketsOut < 300 || st.SendErrors != 0 {
			t.Errorf("Stats() = %+v, want >= 300 packets out and no errors", st)
		}
	})
	t.Run("relay", func(t *testing.T) {
		a, peer, audio, event := receiveFixture(t)
		b := newStream(t, StreamConfig{Remote: addrOf(listen(t)), PayloadType: g711.PayloadPCMA, EventPT: 96, HasEvents: true})
		heardFrom(t, b, b.Remote())
		Bridge(a, b)
		i := 0
		allocs := testing.AllocsPerRun(300, func() {
			i++
			if i%5 == 0 {
				peer.raw(t, event)
			} else {
				peer.raw(t, audio)
			}
			receiveOne(t, a)
		})
		if allocs != 0 {
			t.Errorf("relay path allocs/packet = %v, want 0", allocs)
		}
		if st := b.Stats(); st.Relayed < 300 {
			t.Errorf("b.Stats().Relayed = %d, want >= 300", st.Relayed)
		}
	})
}

func BenchmarkReceivePacket(b *testing.B) {
	s, peer, audio, _ := receiveFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		peer.raw(b, audio)
		receiveOne(b, s)
	}
}

func BenchmarkSendPacket(b *testing.B) {
	s := newStream(b, StreamConfig{Remote: addrOf(listen(b))})
	s.Play(testClip("a", 100, 1))
	b.ReportAllocs()
	for b.Loop() {
		s.tick()
	}
}

func BenchmarkRelayPacket(b *testing.B) {
	a, peer, audio, _ := receiveFixture(b)
	out := newStream(b, StreamConfig{Remote: addrOf(listen(b)), PayloadType: g711.PayloadPCMA})
	heardFrom(b, out, out.Remote())
	Bridge(a, out)
	b.ReportAllocs()
	for b.Loop() {
		peer.raw(b, audio)
		receiveOne(b, a)
	}
}

// TestPacerLateness is the load measurement behind PERF.md. It is skipped
// unless IVRGW_PERF_STREAMS lists stream counts, e.g.
//
//	IVRGW_PERF_STREAMS=200,1000 IVRGW_PERF_SECONDS=5 go test -run TestPacerLateness -v ./media
func TestPacerLateness(t *testing.T) {
	env := os.Getenv("IVRGW_PERF_STREAMS")
	if env == "" {
		t.Skip("set IVRGW_PERF_STREAMS=200,1000 to measure pacing")
	}
	secs, _ := strconv.Atoi(os.Getenv("IVRGW_PERF_SECONDS"))
	if secs <= 0 {
		secs = 5
	}
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 5000 {
			t.Fatalf("IVRGW_PERF_STREAMS entry %q: want 1-5000", f)
		}
		t.Run(fmt.Sprintf("streams=%d", n), func(t *testing.T) { measurePacer(t, n, time.Duration(secs)*time.Second) })
	}
}

func measurePacer(t *testing.T, n int, d time.Duration) {
	sink := listen(t)
	if err := sink.SetReadBuffer(8 << 20); err != nil {
		t.Logf("sink read buffer: %v", err)
	}
	var received uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := sink.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			received++
		}
	})
	p := startPacer(t, 0)
	clip := testClip("prompt", 250, 1) // 5 s, then silence
	streams := make([]*Stream, n)
	for i := range streams {
		streams[i] = newStream(t, StreamConfig{Remote: addrOf(sink)})
		streams[i].Play(clip)
		p.Add(streams[i])
	}
	time.Sleep(time.Second) // warm-up
	p.ResetStats()
	time.Sleep(d)
	st := p.Stats()
	for _, s := range streams {
		p.Remove(s)
	}
	sink.Close()
	wg.Wait()
	want := uint64(n) * uint64(d/FrameDuration)
	t.Logf("streams=%d workers=%d duration=%v ticks=%d (want %d) p50=%v p99=%v max=%v catch_up=%d resyncs=%d sink_received=%d",
		n, len(p.workers), d, st.Sent, want, st.P50, st.P99, st.Max, st.CatchUp, st.Resyncs, received)
}

// BenchmarkHandlePacket is the receive path's own CPU, without the
// kernel: a latched peer's audio, with the in-band detector running on a
// tone (its worst case), on silence (the energy gate skips the filters),
// and paused (SetInband(false): -inband-dtmf auto on a leg with RFC 4733,
// or bridged).
func BenchmarkHandlePacket(b *testing.B) {
	silence := make([]byte, FrameSamples)
	for i := range silence {
		silence[i] = 0xFF // µ-law zero
	}
	for _, bc := range []struct {
		name    string
		tone    bool
		running bool
	}{{"inband_tone", true, true}, {"inband_silence", false, true}, {"inband_paused", true, false}} {
		b.Run(bc.name, func(b *testing.B) {
			s, peer, audio, _ := receiveFixture(b)
			if !bc.tone {
				audio = marshal(b, peer, 0, silence)
			}
			s.SetInband(bc.running)
			src := addrOf(peer.conn)
			b.ReportAllocs()
			for b.Loop() {
				s.handlePacket(audio, src)
			}
		})
	}
}
