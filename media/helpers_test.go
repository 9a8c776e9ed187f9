package media

import (
	"context"
	"errors"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/ivrgw/ivrgw/media/g711"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// listen binds a UDP socket on 127.0.0.1:0, closed at the end of the test.
func listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// newStream returns a stream on its own loopback socket, sending to remote.
func newStream(t testing.TB, cfg StreamConfig) *Stream {
	t.Helper()
	if cfg.Conn == nil {
		cfg.Conn = listen(t)
	}
	return NewStream(cfg)
}

// run starts s.Run and stops it at the end of the test, checking it returns.
func run(t testing.TB, s *Stream) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v, want nil after cancel", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("Run() did not return within 2s of cancel")
		}
	})
}

// startPacer runs a pacer until the end of the test.
func startPacer(t testing.TB, workers int) *Pacer {
	t.Helper()
	p := NewPacer(workers, nil)
	ctx, cancel := context.WithCancel(context.Background())
	p.Start(ctx)
	t.Cleanup(func() { cancel(); p.Wait() })
	return p
}

// readPacket reads one RTP packet from c, or returns ok=false after timeout.
func readPacket(t testing.TB, c *net.UDPConn, timeout time.Duration) (rtp.Packet, netip.AddrPort, bool) {
	t.Helper()
	buf := make([]byte, 1500)
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	n, src, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return rtp.Packet{}, netip.AddrPort{}, false
		}
		t.Fatalf("read udp: %v", err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		t.Fatalf("unmarshal rtp from %v: %v", src, err)
	}
	return p, src, true
}

// mustRead reads a packet or fails the test.
func mustRead(t testing.TB, c *net.UDPConn) rtp.Packet {
	t.Helper()
	p, _, ok := readPacket(t, c, time.Second)
	if !ok {
		t.Fatal("no rtp packet within 1s")
	}
	return p
}

// drain discards what is queued on c until it has been quiet for quiet.
func drain(t testing.TB, c *net.UDPConn, quiet time.Duration) int {
	t.Helper()
	n := 0
	for n < 10000 {
		if _, _, ok := readPacket(t, c, quiet); !ok {
			return n
		}
		n++
	}
	t.Fatal("drain: packets never stopped")
	return n
}

// heardFrom hands s one valid audio packet as if from src, so s latches to
// src and sends there without the unlatched bound.
func heardFrom(t testing.TB, s *Stream, src netip.AddrPort) {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: s.pt, SSRC: 0x5eed, SequenceNumber: 1}, Payload: s.silence}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s.handlePacket(b, src)
	if st := s.Stats(); st.PacketsIn == 0 {
		t.Fatalf("heardFrom(%v): packet not taken, stats %+v", src, st)
	}
}

// sender writes RTP packets from one socket.
type sender struct {
	conn *net.UDPConn
	to   netip.AddrPort
	pkt  rtp.Packet
	buf  [1500]byte
}

func newSender(t testing.TB, to netip.AddrPort, pt uint8) *sender {
	return &sender{conn: listen(t), to: to, pkt: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: 0x1234, SequenceNumber: 100, Timestamp: 5000}}}
}

// send writes one packet with the given fields; seq advances by one.
func (s *sender) send(t testing.TB, pt uint8, ts uint32, marker bool, payload []byte) {
	t.Helper()
	s.pkt.PayloadType, s.pkt.Timestamp, s.pkt.Marker, s.pkt.Payload = pt, ts, marker, payload
	n, err := s.pkt.MarshalTo(s.buf[:])
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	s.pkt.SequenceNumber++
	s.raw(t, s.buf[:n])
}

func (s *sender) raw(t testing.TB, b []byte) {
	t.Helper()
	if _, err := s.conn.WriteToUDPAddrPort(b, s.to); err != nil {
		t.Fatalf("write udp: %v", err)
	}
}

// testClip returns a clip of n frames whose frame i is filled with
// base+i (μ-law) and base+i+100 (A-law), distinct from both silences.
func testClip(name string, n int, base byte) *Clip {
	c := &Clip{Name: name}
	for i := range n {
		u, a := make([]byte, FrameSamples), make([]byte, FrameSamples)
		for j := range u {
			u[j], a[j] = base+byte(i), base+byte(i)+100
		}
		c.ULaw, c.ALaw = append(c.ULaw, u), append(c.ALaw, a)
	}
	return c
}

// dtmfFrames encodes a DTMF tone pair of ms milliseconds, then silence,
// as 20 ms G.711 frames of law pt.
func dtmfFrames(row, col float64, toneMS, silenceMS int, pt uint8) [][]byte {
	pcm := make([]int16, (toneMS+silenceMS)*8)
	for n := range toneMS * 8 {
		x := 6000*math.Sin(2*math.Pi*row*float64(n)/8000) + 6000*math.Sin(2*math.Pi*col*float64(n)/8000)
		pcm[n] = int16(x)
	}
	var frames [][]byte
	for len(pcm) >= FrameSamples {
		f := make([]byte, FrameSamples)
		if pt == g711.PayloadPCMA {
			g711.EncodeALaw(f, pcm[:FrameSamples])
		} else {
			g711.EncodeULaw(f, pcm[:FrameSamples])
		}
		frames = append(frames, f)
		pcm = pcm[FrameSamples:]
	}
	return frames
}
