package media

import (
	"bytes"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/media/g711"
)

func TestBridgeRelay(t *testing.T) {
	// Leg A: PCMU with events on PT 101. Leg B: PCMA with events on PT 96.
	pa, pb := listen(t), listen(t)
	a := newStream(t, StreamConfig{Remote: addrOf(pa), PayloadType: g711.PayloadPCMU, EventPT: 101, HasEvents: true})
	b := newStream(t, StreamConfig{Remote: addrOf(pb), PayloadType: g711.PayloadPCMA, EventPT: 96, HasEvents: true})
	run(t, a)
	run(t, b)
	pacer := startPacer(t, 1)
	pacer.Add(a)
	pacer.Add(b)
	beforeB := mustRead(t, pb) // paced silence from B, before the bridge
	mustRead(t, pa)

	Bridge(a, b)
	time.Sleep(30 * time.Millisecond)
	drain(t, pa, 30*time.Millisecond)
	drain(t, pb, 30*time.Millisecond)
	// Bridged streams are not paced: nothing arrives unless relayed.
	if p, _, ok := readPacket(t, pb, 80*time.Millisecond); ok {
		t.Fatalf("paced packet seq %d arrived on a bridged stream, want none", p.SequenceNumber)
	}

	// A's caller talks (sending from the address A sends to, so symmetric).
	callerA := &sender{conn: pa, to: a.LocalAddr()}
	callerA.pkt.Version, callerA.pkt.SSRC, callerA.pkt.SequenceNumber = 2, 0xAAAA, 1
	var sent [][]byte
	for i := range 4 {
		f := make([]byte, FrameSamples)
		for j := range f {
			f[j] = byte(i*16 + j%16)
		}
		sent = append(sent, f)
		callerA.send(t, 0, 90000+uint32(i)*FrameSamples, i == 0, f)
	}
	var got [][]byte
	first := mustRead(t, pb)
	for i := range 4 {
		p := first
		if i > 0 {
			p = mustRead(t, pb)
		}
		if p.PayloadType != g711.PayloadPCMA {
			t.Errorf("relayed packet %d PT = %d, want 8", i, p.PayloadType)
		}
		if p.SSRC != beforeB.SSRC {
			t.Errorf("relayed packet %d SSRC = %#x, want B's own %#x", i, p.SSRC, beforeB.SSRC)
		}
		if want := first.SequenceNumber + uint16(i); p.SequenceNumber != want {
			t.Errorf("relayed packet %d seq = %d, want %d", i, p.SequenceNumber, want)
		}
		if want := first.Timestamp + uint32(i)*FrameSamples; p.Timestamp != want {
			t.Errorf("relayed packet %d timestamp = %d, want %d", i, p.Timestamp, want)
		}
		if p.Marker != (i == 0) {
			t.Errorf("relayed packet %d marker = %v, want %v", i, p.Marker, i == 0)
		}
		got = append(got, p.Payload)
	}
	if d := first.SequenceNumber - beforeB.SequenceNumber; d == 0 || d > 100 {
		t.Errorf("first relayed seq = %d after paced %d, want B's sequence to carry on", first.SequenceNumber, beforeB.SequenceNumber)
	}
	if d := first.Timestamp - beforeB.Timestamp; d == 0 || d > 100*FrameSamples {
		t.Errorf("first relayed timestamp = %d after paced %d, want B's own clock carried on", first.Timestamp, beforeB.Timestamp)
	}
	for i := range sent {
		want := g711.ULawToALaw(make([]byte, FrameSamples), sent[i])
		if !bytes.Equal(got[i], want) {
			t.Errorf("relayed payload %d = %x..., want A-law of what A received %x...", i, got[i][:4], want[:4])
		}
	}

	// A telephone event goes out with B's event PT, and A still sees the digit.
	ev := dtmf.AppendEvent(nil, dtmf.Payload{Event: 3, Volume: 10, Duration: 160})
	callerA.send(t, 101, 91000, true, ev)
	p := mustRead(t, pb)
	if p.PayloadType != 96 || !bytes.Equal(p.Payload, ev) {
		t.Errorf("relayed event PT %d payload %x, want PT 96 payload %x", p.PayloadType, p.Payload, ev)
	}
	select {
	case e := <-a.Events():
		if e.Digit != '3' {
			t.Errorf("A.Events() = %q while bridged, want '3'", e.Digit)
		}
	case <-time.After(time.Second):
		t.Error("A.Events() got nothing while bridged, want '3'")
	}

	// The other direction: B's caller in A-law reaches A's caller in μ-law.
	callerB := &sender{conn: pb, to: b.LocalAddr()}
	callerB.pkt.Version, callerB.pkt.SSRC = 2, 0xBBBB
	f := bytes.Repeat([]byte{0x2A, 0xD5, 0x55}, 50)
	callerB.send(t, 8, 1, true, f)
	p = mustRead(t, pa)
	if want := g711.ALawToULaw(make([]byte, len(f)), f); p.PayloadType != 0 || !bytes.Equal(p.Payload, want) {
		t.Errorf("B→A relayed PT %d payload %x..., want PT 0 payload %x...", p.PayloadType, p.Payload[:4], want[:4])
	}

	Unbridge(a, b)
	p = mustRead(t, pb)
	if !p.Marker || p.Payload[0] != g711.SilenceALaw {
		t.Errorf("first packet after Unbridge marker %v payload %#x, want marked silence", p.Marker, p.Payload[0])
	}
	if st := b.Stats(); st.Relayed != 5 {
		t.Errorf("B Stats().Relayed = %d, want 5", st.Relayed)
	}
}

func TestBridgeDropsEventsWithoutEventPT(t *testing.T) {
	pa, pb := listen(t), listen(t)
	a := newStream(t, StreamConfig{Remote: addrOf(pa), EventPT: 101, HasEvents: true})
	b := newStream(t, StreamConfig{Remote: addrOf(pb)}) // no telephone-event
	run(t, a)
	Bridge(a, b)
	callerA := &sender{conn: pa, to: a.LocalAddr()}
	callerA.pkt.Version = 2
	callerA.send(t, 101, 1, true, dtmf.AppendEvent(nil, dtmf.Payload{Event: 1}))
	callerA.send(t, 0, 1, false, make([]byte, FrameSamples))
	p := mustRead(t, pb)
	if p.PayloadType != 0 {
		t.Errorf("first relayed packet PT = %d, want 0 (the event dropped)", p.PayloadType)
	}
	if _, _, ok := readPacket(t, pb, 50*time.Millisecond); ok {
		t.Error("extra packet relayed, want the event dropped")
	}
}
