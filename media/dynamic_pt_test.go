package media

import (
	"bytes"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/media/g711"
)

// TestDynamicPayloadType: an offer may map PCMU or PCMA to a dynamic payload
// type (RFC 3551 §3, "a=rtpmap:97 PCMA/8000"). The stream then sends and
// accepts that number on the wire and uses the law behind it for silence,
// prompts, in-band DTMF and transcoding.
func TestDynamicPayloadType(t *testing.T) {
	t.Run("paced silence and prompts", func(t *testing.T) {
		sink := listen(t)
		s := newStream(t, StreamConfig{Remote: addrOf(sink), PayloadType: 97, Codec: g711.PayloadPCMA})
		if s.PayloadType() != 97 || s.Codec() != g711.PayloadPCMA {
			t.Fatalf("PayloadType(), Codec() = %d, %d, want 97, 8", s.PayloadType(), s.Codec())
		}
		clip := testClip("p", 2, 1)
		s.Play(clip)
		p := startPacer(t, 1)
		p.Add(s)
		defer p.Remove(s)
		want := [][]byte{clip.ALaw[0], clip.ALaw[1], silenceALaw}
		for i, w := range want {
			got := mustRead(t, sink)
			if got.PayloadType != 97 {
				t.Errorf("packet %d PT = %d, want 97", i, got.PayloadType)
			}
			if !bytes.Equal(got.Payload, w) {
				t.Errorf("packet %d payload starts %x, want the A-law frame %x", i, got.Payload[:4], w[:4])
			}
		}
	})

	t.Run("in-band DTMF decoded with the mapped law", func(t *testing.T) {
		s := newStream(t, StreamConfig{Remote: addrOf(listen(t)), PayloadType: 96, Codec: g711.PayloadPCMA, Inband: true})
		run(t, s)
		peer := newSender(t, s.LocalAddr(), 96)
		for i, f := range dtmfFrames(852, 1209, 80, 60, g711.PayloadPCMA) { // '7' in A-law
			peer.send(t, 96, uint32(i*FrameSamples), i == 0, f)
		}
		select {
		case ev := <-s.Events():
			if ev.Digit != '7' || ev.Source != dtmf.Inband {
				t.Errorf("Events() = %q from %v, want '7' in-band", ev.Digit, ev.Source)
			}
		case <-time.After(time.Second):
			t.Fatal("no in-band key from A-law audio on PT 96 within 1 s")
		}
	})

	t.Run("relay transcodes by law, not by number", func(t *testing.T) {
		pa, pb := listen(t), listen(t)
		a := newStream(t, StreamConfig{Remote: addrOf(pa), PayloadType: 97, Codec: g711.PayloadPCMA})
		b := newStream(t, StreamConfig{Remote: addrOf(pb), PayloadType: g711.PayloadPCMU})
		c := newStream(t, StreamConfig{Remote: addrOf(listen(t)), PayloadType: 98, Codec: g711.PayloadPCMU})
		run(t, a)
		run(t, b)
		Bridge(a, b)
		callerA := &sender{conn: pa, to: a.LocalAddr()}
		callerA.pkt.Version, callerA.pkt.SSRC = 2, 0xAAAA
		frame := bytes.Repeat([]byte{0x55, 0xD5, 0x2A, 0xAA}, FrameSamples/4)
		callerA.send(t, 97, 1000, true, frame)
		got := mustRead(t, pb)
		wantPayload := g711.Transcode(make([]byte, FrameSamples), frame, g711.PayloadPCMA, g711.PayloadPCMU)
		if got.PayloadType != 0 || !bytes.Equal(got.Payload, wantPayload) {
			t.Errorf("relayed PT %d payload %x…, want PT 0 with the frame transcoded A-law→μ-law %x…", got.PayloadType, got.Payload[:4], wantPayload[:4])
		}
		// Packets on the static number are not A's audio when it
		// negotiated 97: they are dropped, not relayed.
		callerA.send(t, 8, 1160, false, frame)
		if p, _, ok := readPacket(t, pb, 200*time.Millisecond); ok {
			t.Errorf("packet on PT 8 from a PT 97 leg relayed as PT %d, want dropped", p.PayloadType)
		}
		if c.Codec() != g711.PayloadPCMU || c.PayloadType() != 98 {
			t.Errorf("PT 98 mapped to PCMU: PayloadType(), Codec() = %d, %d, want 98, 0", c.PayloadType(), c.Codec())
		}
	})
}
