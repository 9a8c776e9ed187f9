package media

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/media/g711"
)

var (
	srtpKeyA = []byte("0123456789abcdefghijklmnopqrst") // the gateway's
	srtpKeyB = []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123") // the peer's
	srtpKeyX = []byte("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX") // nobody's
)

func mustSRTP(tb testing.TB, local, remote []byte) *SRTP {
	tb.Helper()
	s, err := NewSRTP(SRTPConfig{Suite: SuiteAES128SHA1_80, LocalKey: local, RemoteKey: remote})
	if err != nil {
		tb.Fatalf("NewSRTP() error = %v", err)
	}
	return s
}

// srtpPeer is the far end of an SRTP leg: it protects what it sends with
// its own context and unprotects what it reads.
type srtpPeer struct {
	*sender
	ctx *SRTP
	out [1500 + srtpMaxTag]byte
}

func newSRTPPeer(tb testing.TB, to *Stream, pt uint8, local, remote []byte) *srtpPeer {
	return &srtpPeer{sender: newSender(tb, to.LocalAddr(), pt), ctx: mustSRTP(tb, local, remote)}
}

// sendSRTP marshals a packet like sender.send and protects it.
func (p *srtpPeer) sendSRTP(tb testing.TB, pt uint8, ts uint32, marker bool, payload []byte) []byte {
	tb.Helper()
	p.pkt.PayloadType, p.pkt.Timestamp, p.pkt.Marker, p.pkt.Payload = pt, ts, marker, payload
	n, err := p.pkt.MarshalTo(p.buf[:])
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	p.pkt.SequenceNumber++
	out, err := p.ctx.Protect(p.out[:0], p.buf[:n])
	if err != nil {
		tb.Fatalf("Protect() error = %v", err)
	}
	p.raw(tb, out)
	return out
}

// readSRTP reads one datagram on c and unprotects it with ctx.
func readSRTP(tb testing.TB, c *net.UDPConn, ctx *SRTP) (raw []byte, p rtp.Packet, err error) {
	tb.Helper()
	buf := make([]byte, 1500)
	if err := c.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		tb.Fatal(err)
	}
	n, _, rerr := c.ReadFromUDPAddrPort(buf)
	if rerr != nil {
		tb.Fatalf("no packet within 1s: %v", rerr)
	}
	plain, err := ctx.Unprotect(nil, buf[:n])
	if err != nil {
		return buf[:n], p, err
	}
	if err := p.Unmarshal(plain); err != nil {
		tb.Fatalf("unmarshal unprotected packet: %v", err)
	}
	return buf[:n], p, nil
}

func TestNewSRTPRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  SRTPConfig
	}{
		{"unknown suite", SRTPConfig{Suite: "AES_256_CM_HMAC_SHA1_80", LocalKey: srtpKeyA, RemoteKey: srtpKeyB}},
		{"short local key", SRTPConfig{Suite: SuiteAES128SHA1_80, LocalKey: srtpKeyA[:16], RemoteKey: srtpKeyB}},
		{"no remote key", SRTPConfig{Suite: SuiteAES128SHA1_32, LocalKey: srtpKeyA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSRTP(tt.cfg); !errors.Is(err, ErrSRTPConfig) {
				t.Errorf("NewSRTP(%+v) error = %v, want ErrSRTPConfig", tt.cfg, err)
			}
		})
	}
}

// TestSRTPStreamSend: what the pacer sends is SRTP under our key: the
// payload on the wire is not the clip, and the peer's context recovers it.
func TestSRTPStreamSend(t *testing.T) {
	peerConn := listen(t)
	s := newStream(t, StreamConfig{Remote: addrOf(peerConn), SRTP: mustSRTP(t, srtpKeyA, srtpKeyB)})
	clip := testClip("a", 3, 1)
	s.Play(clip)
	peer := mustSRTP(t, srtpKeyB, srtpKeyA)
	for i := range 3 {
		s.tick()
		raw, p, err := readSRTP(t, peerConn, peer)
		if err != nil {
			t.Fatalf("packet %d: Unprotect() error = %v, want the peer's context to take it", i, err)
		}
		if len(raw) != rtpHeaderLen+FrameSamples+srtpMaxTag {
			t.Errorf("packet %d on the wire is %d bytes, want %d (header, payload, 80-bit tag)", i, len(raw), rtpHeaderLen+FrameSamples+srtpMaxTag)
		}
		if bytes.Contains(raw, clip.ULaw[i]) {
			t.Errorf("packet %d carries the clip's frame in the clear", i)
		}
		if !bytes.Equal(p.Payload, clip.ULaw[i]) {
			t.Errorf("packet %d decrypted payload = % x..., want frame %d of the clip", i, p.Payload[:4], i)
		}
	}
	if _, err := mustSRTP(t, srtpKeyB, srtpKeyX).Unprotect(nil, marshalTick(t, s, peerConn)); err == nil {
		t.Errorf("Unprotect() with the wrong key error = nil, want an authentication failure")
	}
}

// marshalTick sends one more paced packet and returns it as read.
func marshalTick(t *testing.T, s *Stream, c *net.UDPConn) []byte {
	t.Helper()
	s.tick()
	buf := make([]byte, 1500)
	if err := c.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf[:n]
}

// TestSRTPStreamReceive: only packets that authenticate under the peer's
// key count: they latch, carry RFC 4733 events and refresh LastReceived;
// plain RTP, another key's packets and replays are garbage.
func TestSRTPStreamReceive(t *testing.T) {
	sdpAddr := addrOf(listen(t))
	s := newStream(t, StreamConfig{Remote: sdpAddr, EventPT: 101, HasEvents: true, SRTP: mustSRTP(t, srtpKeyA, srtpKeyB)})
	press := func(send func(pt uint8, ts uint32, marker bool, payload []byte), code uint8, ts uint32) {
		send(101, ts, true, dtmf.AppendEvent(nil, dtmf.Payload{Event: code, Volume: 10}))
		for range 3 {
			send(101, ts, false, dtmf.AppendEvent(nil, dtmf.Payload{Event: code, End: true, Volume: 10, Duration: 800}))
		}
	}
	plain := newSender(t, s.LocalAddr(), 101)
	forger := newSRTPPeer(t, s, 101, srtpKeyX, srtpKeyA)
	peer := newSRTPPeer(t, s, 101, srtpKeyB, srtpKeyA)

	press(func(pt uint8, ts uint32, m bool, b []byte) { plain.send(t, pt, ts, m, b); receiveOne(t, s) }, 1, 1000)
	press(func(pt uint8, ts uint32, m bool, b []byte) { forger.sendSRTP(t, pt, ts, m, b); receiveOne(t, s) }, 2, 2000)
	var first []byte
	press(func(pt uint8, ts uint32, m bool, b []byte) {
		out := peer.sendSRTP(t, pt, ts, m, b)
		if first == nil {
			first = bytes.Clone(out)
		}
		receiveOne(t, s)
	}, 3, 3000)
	peer.raw(t, first) // a replay of the press's first packet
	receiveOne(t, s)

	var got []byte
	for len(s.Events()) > 0 {
		got = append(got, (<-s.Events()).Digit)
	}
	if string(got) != "3" {
		t.Errorf("Events() = %q, want only the authenticated press %q", got, "3")
	}
	st := s.Stats()
	if st.PacketsIn != 4 || st.Garbage != 9 {
		t.Errorf("Stats() in = %d, garbage = %d, want 4 and 9 (4 plain, 4 forged, 1 replay)", st.PacketsIn, st.Garbage)
	}
	if got, want := s.Remote(), addrOf(peer.conn); got != want {
		t.Errorf("Remote() = %v, want the authenticated source %v", got, want)
	}
}

// TestSRTPBridge: a bridged call with SRTP on one leg and plain RTP on the
// other: each leg decrypts what it receives and encrypts what it sends
// with its own keys; audio (transcoded) and events cross both ways.
func TestSRTPBridge(t *testing.T) {
	aPeerConn, bPeerConn := listen(t), listen(t)
	a := newStream(t, StreamConfig{Remote: addrOf(aPeerConn), EventPT: 101, HasEvents: true, SRTP: mustSRTP(t, srtpKeyA, srtpKeyB)})
	b := newStream(t, StreamConfig{Remote: addrOf(bPeerConn), PayloadType: g711.PayloadPCMA, EventPT: 96, HasEvents: true})
	Bridge(a, b)
	aPeer := &srtpPeer{sender: &sender{conn: aPeerConn, to: a.LocalAddr(), pkt: rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 7, SequenceNumber: 1}}},
		ctx: mustSRTP(t, srtpKeyB, srtpKeyA)}
	bPeer := &sender{conn: bPeerConn, to: b.LocalAddr(), pkt: rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 8, SequenceNumber: 1}}}

	frame := bytes.Repeat([]byte{0x55}, FrameSamples)
	aPeer.sendSRTP(t, 0, 160, false, frame)
	receiveOne(t, a)
	if p := mustRead(t, bPeerConn); p.PayloadType != g711.PayloadPCMA || !bytes.Equal(p.Payload, g711.Transcode(make([]byte, FrameSamples), frame, g711.PayloadPCMU, g711.PayloadPCMA)) {
		t.Errorf("b's peer got pt %d, want the SRTP leg's audio decrypted and transcoded to PCMA", p.PayloadType)
	}

	ev := dtmf.AppendEvent(nil, dtmf.Payload{Event: 9, Volume: 10, Duration: 160})
	bPeer.send(t, 96, 320, true, ev)
	receiveOne(t, b)
	_, p, err := readSRTP(t, aPeerConn, aPeer.ctx)
	if err != nil {
		t.Fatalf("a's peer: Unprotect() error = %v, want the relayed event under a's key", err)
	}
	if p.PayloadType != 101 || !bytes.Equal(p.Payload, ev) {
		t.Errorf("a's peer got pt %d payload % x, want pt 101 payload % x", p.PayloadType, p.Payload, ev)
	}
	if d := <-b.Events(); d.Digit != '9' {
		t.Errorf("b.Events() = %q, want '9'", d.Digit)
	}
}

// TestSRTPPathAllocs: with SRTP on, too, the per-packet paths allocate
// nothing once a source's state exists (the plain paths' zero is asserted
// by TestPerPacketPathsDoNotAllocate).
func TestSRTPPathAllocs(t *testing.T) {
	s := newStream(t, StreamConfig{Remote: addrOf(listen(t)), SRTP: mustSRTP(t, srtpKeyA, srtpKeyB)})
	s.Play(testClip("a", 1000, 1))
	send := testing.AllocsPerRun(300, s.tick)
	peer := newSRTPPeer(t, s, 0, srtpKeyB, srtpKeyA)
	frame := bytes.Repeat([]byte{0x55}, FrameSamples)
	recv := testing.AllocsPerRun(300, func() {
		peer.sendSRTP(t, 0, 160, false, frame)
		receiveOne(t, s)
	})
	if send != 0 || recv != 0 {
		t.Errorf("srtp allocs/packet: send %v, receive %v, want 0 and 0", send, recv)
	}
}

func BenchmarkReceivePacketSRTP(b *testing.B) {
	s := newStream(b, StreamConfig{Remote: addrOf(listen(b)), EventPT: 101, HasEvents: true, Inband: true, SRTP: mustSRTP(b, srtpKeyA, srtpKeyB)})
	peer := newSRTPPeer(b, s, 0, srtpKeyB, srtpKeyA)
	frame := dtmfFrames(770, 1336, 20, 0, 0)[0]
	b.ReportAllocs()
	for b.Loop() {
		peer.sendSRTP(b, 0, 160, false, frame)
		receiveOne(b, s)
	}
}

func BenchmarkSendPacketSRTP(b *testing.B) {
	s := newStream(b, StreamConfig{Remote: addrOf(listen(b)), SRTP: mustSRTP(b, srtpKeyA, srtpKeyB)})
	s.Play(testClip("a", 100, 1))
	b.ReportAllocs()
	for b.Loop() {
		s.tick()
	}
}

// BenchmarkSRTPProtectUnprotect is the crypto alone, without the socket:
// one 160-byte G.711 packet protected by one side and unprotected by the
// other.
func BenchmarkSRTPProtectUnprotect(b *testing.B) {
	tx, rx := mustSRTP(b, srtpKeyA, srtpKeyB), mustSRTP(b, srtpKeyB, srtpKeyA)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: bytes.Repeat([]byte{0x55}, FrameSamples)}
	var plain, sealed, opened [1500]byte
	b.ReportAllocs()
	for b.Loop() {
		pkt.SequenceNumber++
		n, _ := pkt.MarshalTo(plain[:])
		out, err := tx.Protect(sealed[:0], plain[:n])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rx.Unprotect(opened[:0], out); err != nil {
			b.Fatal(err)
		}
	}
}
