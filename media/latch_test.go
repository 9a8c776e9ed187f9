package media

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/media/g711"
)

var (
	peerA     = netip.MustParseAddrPort("127.0.0.1:40000") // the caller's real source
	strangerB = netip.MustParseAddrPort("127.0.0.2:40002") // anyone else
	sdpAddr   = netip.MustParseAddrPort("127.0.0.1:40004") // what the SDP said
)

// source fabricates the packets of one RTP sender: its SSRC, and a
// sequence number and timestamp that advance by one frame per packet.
type source struct {
	ssrc uint32
	seq  uint16
	ts   uint32
	at   netip.AddrPort
}

func (c *source) packet(t testing.TB, pt uint8, marker bool, payload []byte) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SSRC: c.ssrc, SequenceNumber: c.seq, Timestamp: c.ts}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c.seq++
	c.ts += FrameSamples
	return b
}

// audio hands s one frame of silence from c.
func (c *source) audio(t testing.TB, s *Stream) {
	t.Helper()
	s.handlePacket(c.packet(t, s.pt, false, s.silence), c.at)
}

// TestLatchRefusesHijack: once latched, only a re-INVITE, the signalled
// address, or a NAT rebinding that continues the latched SSRC's sequence
// after the latched source fell silent moves the latch; everything else
// is dropped and counted.
func TestLatchRefusesHijack(t *testing.T) {
	const foreign = 20
	tests := []struct {
		name string
		// attack runs after A has latched and sent 10 packets; it gets A
		// (to keep talking or fall silent) and B (whose SSRC and sequence
		// number start as A's, as an on-path observer would copy them).
		attack      func(t *testing.T, s *Stream, a, b *source)
		wantRemote  netip.AddrPort
		wantForeign uint64
		// wantRelatches counts moves of the send address: A's latch is 1.
		wantRelatches uint64
	}{
		{"other SSRC, many packets", func(t *testing.T, s *Stream, a, b *source) {
			b.ssrc = 0xbad
			for range foreign {
				b.audio(t, s)
				time.Sleep(FrameDuration)
			}
		}, peerA, foreign, 1},
		{"other SSRC after A fell silent", func(t *testing.T, s *Stream, a, b *source) {
			b.ssrc = 0xbad
			time.Sleep(5 * time.Second)
			for range foreign {
				b.audio(t, s)
			}
		}, peerA, foreign, 1},
		{"A's SSRC and sequence while A talks", func(t *testing.T, s *Stream, a, b *source) {
			for range foreign {
				b.audio(t, s)
				a.audio(t, s)
				b.seq, b.ts = a.seq, a.ts
				time.Sleep(FrameDuration)
			}
		}, peerA, foreign, 1},
		{"A's SSRC, sequence far ahead, A silent", func(t *testing.T, s *Stream, a, b *source) {
			b.seq += 1000
			time.Sleep(5 * time.Second)
			for range foreign {
				b.audio(t, s)
			}
		}, peerA, foreign, 1},
		{"A's SSRC, continuing, A silent only briefly", func(t *testing.T, s *Stream, a, b *source) {
			time.Sleep(relatchSilence - 100*time.Millisecond)
			for range foreign {
				b.audio(t, s) // all within 100 ms of fake time: none is 1 s after A
			}
		}, peerA, foreign, 1},
		{"NAT rebinding: A's stream goes on from B", func(t *testing.T, s *Stream, a, b *source) {
			// The phone keeps sending every 20 ms; its NAT maps it anew.
			// B is dropped until A has been silent for relatchSilence,
			// then takes over: 1 s of audio lost, no hijack window.
			// Packet k comes k*20 ms after A's last: 1..49 are dropped.
			for range int(relatchSilence/FrameDuration) + 5 {
				time.Sleep(FrameDuration)
				b.audio(t, s)
			}
		}, strangerB, uint64(relatchSilence/FrameDuration) - 1, 2},
		{"re-INVITE moves the media: the next source latches", func(t *testing.T, s *Stream, a, b *source) {
			s.SetRemote(strangerB)
			b.ssrc = 0xbad
			b.audio(t, s)
			a.audio(t, s) // late packet of the old address
		}, strangerB, 1, 1}, // SetRemote already sends to B: latching there moves nothing
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newStream(t, StreamConfig{Remote: sdpAddr})
				a := &source{ssrc: 0xa, seq: 100, ts: 8000, at: peerA}
				for i := range 10 {
					if i > 0 {
						time.Sleep(FrameDuration)
					}
					a.audio(t, s)
				}
				b := &source{ssrc: a.ssrc, seq: a.seq, ts: a.ts, at: strangerB}
				tt.attack(t, s, a, b)
				if got := s.Remote(); got != tt.wantRemote {
					t.Errorf("Remote() = %v, want %v", got, tt.wantRemote)
				}
				st := s.Stats()
				if st.ForeignDropped != tt.wantForeign {
					t.Errorf("Stats().ForeignDropped = %d, want %d", st.ForeignDropped, tt.wantForeign)
				}
				if st.Relatches != tt.wantRelatches {
					t.Errorf("Stats().Relatches = %d, want %d", st.Relatches, tt.wantRelatches)
				}
			})
		})
	}
}

// TestLatchSignalledAddressWins: a stranger who gets the first packet in
// (a spray over the port range at call setup) latches, but loses the
// stream as soon as the peer speaks from the address its SDP gave; and
// the stranger cannot win it back.
func TestLatchSignalledAddressWins(t *testing.T) {
	s := newStream(t, StreamConfig{Remote: sdpAddr})
	b := &source{ssrc: 0xbad, seq: 1, at: strangerB}
	real := &source{ssrc: 0xa, seq: 500, at: sdpAddr}
	b.audio(t, s)
	if got := s.Remote(); got != strangerB {
		t.Fatalf("Remote() after the first packet = %v, want %v (the first valid source latches)", got, strangerB)
	}
	real.audio(t, s)
	for range 10 {
		b.audio(t, s)
	}
	if got := s.Remote(); got != sdpAddr {
		t.Errorf("Remote() = %v, want the signalled %v", got, sdpAddr)
	}
	if st := s.Stats(); st.ForeignDropped != 10 || st.PacketsIn != 2 {
		t.Errorf("Stats() foreign, in = %d, %d, want 10, 2", st.ForeignDropped, st.PacketsIn)
	}
}

// TestForeignDigitsIgnored: key presses, as RFC 4733 events or as in-band
// tones, count only from the latched source; from anyone else they are
// dropped before detection and never relayed across a bridge.
func TestForeignDigitsIgnored(t *testing.T) {
	event := func(t *testing.T, s *Stream, c *source) {
		for i, end := range []bool{false, false, true, true, true} {
			pl := dtmf.AppendEvent(nil, dtmf.Payload{Event: 1, End: end, Volume: 10, Duration: uint16(160 * (i + 1))})
			p := c.packet(t, 101, i == 0, pl)
			c.ts -= FrameSamples // one event, one timestamp (RFC 4733 §2.2.1)
			s.handlePacket(p, c.at)
		}
		c.ts += 5 * FrameSamples
	}
	inband := func(t *testing.T, s *Stream, c *source) {
		for _, f := range dtmfFrames(697, 1209, 100, 60, g711.PayloadPCMU) {
			s.handlePacket(c.packet(t, 0, false, f), c.at)
		}
	}
	tests := []struct {
		name  string
		press func(t *testing.T, s *Stream, c *source)
	}{
		{"rfc4733", event},
		{"inband", inband},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStream(t, StreamConfig{Remote: sdpAddr, EventPT: 101, HasEvents: true, Inband: true})
			other := newStream(t, StreamConfig{Remote: addrOf(listen(t)), EventPT: 101, HasEvents: true})
			heardFrom(t, other, other.Remote())
			Bridge(s, other)
			a := &source{ssrc: 0xa, seq: 10, ts: 1000, at: peerA}
			a.audio(t, s)
			relayed := other.Stats().Relayed

			for _, b := range []*source{
				{ssrc: 0xbad, seq: 77, ts: 99999, at: strangerB},
				{ssrc: a.ssrc, seq: a.seq, ts: a.ts, at: strangerB}, // A's SSRC, continuing: A is not silent
			} {
				tt.press(t, s, b)
			}
			select {
			case ev := <-s.Events():
				t.Fatalf("Events() = %q from a foreign source, want nothing", ev.Digit)
			default:
			}
			if got := other.Stats().Relayed; got != relayed {
				t.Errorf("bridge peer Stats().Relayed = %d after foreign packets, want %d (none relayed)", got, relayed)
			}
			if s.Stats().ForeignDropped == 0 {
				t.Error("Stats().ForeignDropped = 0, want the foreign packets counted")
			}

			// The same press from the latched source is a digit: the test
			// can tell.
			tt.press(t, s, a)
			select {
			case ev := <-s.Events():
				if ev.Digit != '1' {
					t.Errorf("Events() from the latched source = %q, want '1'", ev.Digit)
				}
			default:
				t.Error("Events() from the latched source = nothing, want '1'")
			}
		})
	}
}

// TestUnlatchedSendBounded: a peer that never sends gets at most the
// UnlatchedSend budget of packets (an INVITE naming a victim's address
// must not buy 30 s of RTP at it); once the peer speaks, sending goes on,
// and SetRemote gives the new address a budget of its own.
func TestUnlatchedSendBounded(t *testing.T) {
	const ticks = 300
	tests := []struct {
		name string
		cfg  time.Duration
		want int
	}{
		{"default", 0, int(DefaultUnlatchedSend / FrameDuration)},
		{"200ms", 200 * time.Millisecond, 10},
		{"none before the peer", -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			victim := listen(t)
			s := newStream(t, StreamConfig{Remote: addrOf(victim), UnlatchedSend: tt.cfg})
			for range ticks {
				s.tick()
			}
			got := drain(t, victim, 50*time.Millisecond)
			if got != tt.want {
				t.Errorf("packets at a peer that never sent, after %d ticks = %d, want %d", ticks, got, tt.want)
			}
			if st := s.Stats(); st.PacketsOut != uint64(tt.want) || st.UnlatchedSuppressed != uint64(ticks-tt.want) {
				t.Errorf("Stats() out, suppressed = %d, %d, want %d, %d", st.PacketsOut, st.UnlatchedSuppressed, tt.want, ticks-tt.want)
			}

			// The peer speaks: from now on every tick goes out.
			heardFrom(t, s, addrOf(victim))
			for range 10 {
				s.tick()
			}
			if got := drain(t, victim, 50*time.Millisecond); got != 10 {
				t.Errorf("packets after the peer spoke, 10 ticks = %d, want 10", got)
			}

			// A re-INVITE to a new address: a fresh budget, then nothing.
			moved := listen(t)
			s.SetRemote(addrOf(moved))
			for range ticks {
				s.tick()
			}
			if got := drain(t, moved, 50*time.Millisecond); got != tt.want {
				t.Errorf("packets at a new address that never sent = %d, want %d", got, tt.want)
			}
		})
	}
}
