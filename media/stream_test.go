package media

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/media/g711"
)

// checkSequence asserts RFC 3550 continuity between consecutive packets we sent.
func checkSequence(t *testing.T, pkts []rtp.Packet) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		prev, p := pkts[i-1], pkts[i]
		if p.SSRC != prev.SSRC {
			t.Errorf("packet %d SSRC = %#x, want %#x", i, p.SSRC, prev.SSRC)
		}
		if p.SequenceNumber != prev.SequenceNumber+1 {
			t.Errorf("packet %d seq = %d, want %d", i, p.SequenceNumber, prev.SequenceNumber+1)
		}
		if p.Timestamp != prev.Timestamp+FrameSamples {
			t.Errorf("packet %d timestamp = %d, want %d", i, p.Timestamp, prev.Timestamp+FrameSamples)
		}
		if p.Marker {
			t.Errorf("packet %d has the marker bit, want only on the first", i)
		}
	}
}

func TestPlayClipThenSilence(t *testing.T) {
	tests := []struct {
		name    string
		pt      uint8
		clips   []*Clip
		silence byte
	}{
		{"PCMU one clip", g711.PayloadPCMU, []*Clip{testClip("a", 5, 1)}, g711.SilenceULaw},
		{"PCMA one clip", g711.PayloadPCMA, []*Clip{testClip("a", 5, 1)}, g711.SilenceALaw},
		{"PCMU clips in sequence with an empty one", g711.PayloadPCMU, []*Clip{testClip("a", 3, 1), {Name: "empty"}, testClip("b", 2, 10)}, g711.SilenceULaw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := listen(t)
			s := newStream(t, StreamConfig{Remote: addrOf(peer), PayloadType: tt.pt})
			pb := s.Play(tt.clips...)
			var want [][]byte
			for _, c := range tt.clips {
				want = append(want, c.Frames(tt.pt)...)
			}
			startPacer(t, 1).Add(s)

			var pkts []rtp.Packet
			for range len(want) + 3 {
				pkts = append(pkts, mustRead(t, peer))
			}
			if !pkts[0].Marker {
				t.Error("first packet has no marker bit, want it set (RFC 3551 §4.1)")
			}
			checkSequence(t, pkts)
			for i, p := range pkts {
				if p.PayloadType != tt.pt {
					t.Errorf("packet %d PT = %d, want %d", i, p.PayloadType, tt.pt)
				}
				wantPayload := bytes.Repeat([]byte{tt.silence}, FrameSamples)
				if i < len(want) {
					wantPayload = want[i]
				}
				if !bytes.Equal(p.Payload, wantPayload) {
					t.Errorf("packet %d payload starts %#x, want %#x", i, p.Payload[0], wantPayload[0])
				}
			}
			select {
			case <-pb.Done():
			case <-time.After(time.Second):
				t.Fatal("Playback.Done() not closed after the last frame")
			}
			if pb.Interrupted() {
				t.Error("Interrupted() = true for a playback that ran to the end, want false")
			}
		})
	}
}

func TestPlayNothingIsDone(t *testing.T) {
	s := newStream(t, StreamConfig{Remote: addrOf(listen(t))})
	for _, clips := range [][]*Clip{nil, {nil}, {{Name: "empty"}}} {
		pb := s.Play(clips...)
		select {
		case <-pb.Done():
		default:
			t.Errorf("Play(%d empty clips).Done() not closed, want closed at once", len(clips))
		}
		if pb.Interrupted() {
			t.Errorf("Play(%d empty clips).Interrupted() = true, want false", len(clips))
		}
	}
}

func TestStopPlaybackBargeIn(t *testing.T) {
	peer := listen(t)
	s := newStream(t, StreamConfig{Remote: addrOf(peer)})
	clip := testClip("long", 200, 1)
	pb := s.Play(clip)
	startPacer(t, 1).Add(s)
	for i := range 3 {
		if p := mustRead(t, peer); p.Payload[0] != clip.ULaw[i][0] {
			t.Fatalf("packet %d payload = %#x, want clip frame %#x", i, p.Payload[0], clip.ULaw[i][0])
		}
	}
	s.StopPlayback()
	select {
	case <-pb.Done():
	default:
		t.Fatal("Done() not closed right after StopPlayback")
	}
	if !pb.Interrupted() {
		t.Error("Interrupted() = false after StopPlayback, want true")
	}
	// At most one clip frame may already be on its way; then only silence.
	var pkts []rtp.Packet
	for range 6 {
		pkts = append(pkts, mustRead(t, peer))
	}
	for i, p := range pkts[1:] {
		if p.Payload[0] != g711.SilenceULaw {
			t.Errorf("packet %d after StopPlayback payload = %#x, want silence", i+1, p.Payload[0])
		}
	}

	// A new Play replaces (and interrupts) the current one.
	first := s.Play(clip)
	second := s.Play(testClip("b", 1, 50))
	<-first.Done()
	if !first.Interrupted() {
		t.Error("replaced playback Interrupted() = false, want true")
	}
	select {
	case <-second.Done():
		if second.Interrupted() {
			t.Error("second playback Interrupted() = true, want false")
		}
	case <-time.After(time.Second):
		t.Error("second playback never finished")
	}
}

func TestSymmetricLatching(t *testing.T) {
	sdpPeer := listen(t) // where the SDP said to send
	s := newStream(t, StreamConfig{Remote: addrOf(sdpPeer)})
	run(t, s)
	startPacer(t, 1).Add(s)
	mustRead(t, sdpPeer) // before any RTP arrives we send where SDP said

	// The peer really sends from elsewhere (a NAT): we must follow.
	nat := newSender(t, s.LocalAddr(), 0)
	nat.send(t, 0, 1000, true, make([]byte, 160))
	if _, src, ok := readPacket(t, nat.conn, time.Second); !ok {
		t.Fatal("latched source got no packet within 1s")
	} else if src != s.LocalAddr() {
		t.Errorf("packet came from %v, want %v", src, s.LocalAddr())
	}
	if got := s.Remote(); got != addrOf(nat.conn) {
		t.Errorf("Remote() = %v, want latched %v", got, addrOf(nat.conn))
	}

	// Another source does not steal the stream, however much it sends
	// (issue 6: five packets used to be enough to get the caller's audio).
	other := newSender(t, s.LocalAddr(), 0)
	other.pkt.SSRC = 0x9999
	for i := range 10 {
		other.send(t, 0, 1160+uint32(i)*160, false, make([]byte, 160))
	}
	if _, _, ok := readPacket(t, other.conn, 200*time.Millisecond); ok {
		t.Error("a foreign source got a packet, want none")
	}
	if got := s.Remote(); got != addrOf(nat.conn) {
		t.Errorf("Remote() after 10 foreign packets = %v, want still %v", got, addrOf(nat.conn))
	}
	if got := s.Stats().Relatches; got != 1 {
		t.Errorf("Stats().Relatches = %d, want 1", got)
	}

	// SetRemote (a re-INVITE) moves us back to the signalled address. Drain
	// first what reached it before the latch (it is quiet now), so the read
	// below can only see a packet sent after SetRemote.
	drain(t, sdpPeer, 30*time.Millisecond)
	s.SetRemote(addrOf(sdpPeer))
	if _, _, ok := readPacket(t, sdpPeer, time.Second); !ok {
		t.Fatal("SetRemote address got no packet within 1s")
	}
}

func TestGarbageIgnored(t *testing.T) {
	sdpPeer := listen(t)
	s := newStream(t, StreamConfig{Remote: addrOf(sdpPeer), EventPT: 101, HasEvents: true})
	run(t, s)
	junk := newSender(t, s.LocalAddr(), 0)

	valid := func(pt uint8, b1 byte) []byte {
		h := make([]byte, 12, 200)
		h[0], h[1] = b1, pt
		return append(h, make([]byte, 160)...)
	}
	padZero := valid(0, 0xA0) // padding bit with a zero pad length
	padZero[len(padZero)-1] = 0
	garbage := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", []byte{0x80, 0, 1}},
		{"version 1", valid(0, 0x40)},
		{"version 0 (STUN-like)", valid(0, 0x00)},
		{"unknown payload type", valid(96, 0x80)},
		{"other law", valid(8, 0x80)},
		{"RTCP sender report", valid(200, 0x80)},
		{"CSRC count beyond packet", []byte{0x8F, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"zero padding", padZero},
	}
	for _, g := range garbage {
		junk.raw(t, g.b)
	}
	// The stream still works: a digit from a proper source arrives.
	good := newSender(t, s.LocalAddr(), 101)
	good.send(t, 101, 4000, true, dtmf.AppendEvent(nil, dtmf.Payload{Event: 9, Volume: 10}))
	select {
	case ev := <-s.Events():
		if ev.Digit != '9' {
			t.Errorf("Events() digit = %q, want '9'", ev.Digit)
		}
	case <-time.After(time.Second):
		t.Fatal("no event within 1s after garbage")
	}
	st := s.Stats()
	if st.Garbage != uint64(len(garbage)) {
		t.Errorf("Stats().Garbage = %d, want %d", st.Garbage, len(garbage))
	}
	if st.PacketsIn != 1 {
		t.Errorf("Stats().PacketsIn = %d, want 1", st.PacketsIn)
	}
	// Garbage never latches: we latched to the good source only.
	if got := s.Remote(); got != addrOf(good.conn) {
		t.Errorf("Remote() = %v, want %v (garbage must not latch)", got, addrOf(good.conn))
	}
}

func TestEventsRFC4733(t *testing.T) {
	s := newStream(t, StreamConfig{Remote: addrOf(listen(t)), EventPT: 101, HasEvents: true})
	run(t, s)
	if !s.LastReceived().IsZero() {
		t.Errorf("LastReceived() = %v before any packet, want zero", s.LastReceived())
	}
	peer := newSender(t, s.LocalAddr(), 101)
	before := time.Now()
	// Two presses as a phone sends them: start x3, continuation, end x3.
	for i, code := range []uint8{5, 11} {
		ts := uint32(8000 + i*4000)
		for range 3 {
			peer.send(t, 101, ts, true, dtmf.AppendEvent(nil, dtmf.Payload{Event: code, Volume: 10}))
		}
		peer.send(t, 101, ts, false, dtmf.AppendEvent(nil, dtmf.Payload{Event: code, Volume: 10, Duration: 400}))
		for range 3 {
			peer.send(t, 101, ts, false, dtmf.AppendEvent(nil, dtmf.Payload{Event: code, End: true, Volume: 10, Duration: 800}))
		}
	}
	for _, want := range []byte{'5', '#'} {
		select {
		case ev := <-s.Events():
			if ev.Digit != want || ev.Source != dtmf.RFC4733 {
				t.Errorf("Events() = %q from %v, want %q from rfc4733", ev.Digit, ev.Source, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("no event %q within 1s", want)
		}
	}
	select {
	case ev := <-s.Events():
		t.Errorf("Events() = extra %q, want exactly one per press", ev.Digit)
	case <-time.After(100 * time.Millisecond):
	}
	if lr := s.LastReceived(); lr.Before(before) || lr.After(time.Now()) {
		t.Errorf("LastReceived() = %v, want between %v and now", lr, before)
	}
}

func TestEventsInband(t *testing.T) {
	for _, pt := range []uint8{g711.PayloadPCMU, g711.PayloadPCMA} {
		s := newStream(t, StreamConfig{Remote: addrOf(listen(t)), PayloadType: pt, Inband: true})
		run(t, s)
		peer := newSender(t, s.LocalAddr(), pt)
		frames := append(dtmfFrames(852, 1209, 80, 60, pt), dtmfFrames(941, 1477, 80, 60, pt)...) // '7', '#'
		for i, f := range frames {
			peer.send(t, pt, uint32(i*FrameSamples), i == 0, f)
		}
		for _, want := range []byte{'7', '#'} {
			select {
			case ev := <-s.Events():
				if ev.Digit != want || ev.Source != dtmf.Inband {
					t.Errorf("PT %d Events() = %q from %v, want %q from inband", pt, ev.Digit, ev.Source, want)
				}
			case <-time.After(time.Second):
				t.Fatalf("PT %d: no in-band event %q within 1s", pt, want)
			}
		}
	}
}

// A paused in-band detector hears no tone; resumed, it hears the next one
// (and nothing of a tone from before the pause).
func TestSetInband(t *testing.T) {
	pt := uint8(g711.PayloadPCMU)
	s := newStream(t, StreamConfig{Remote: addrOf(listen(t)), PayloadType: pt, Inband: true})
	run(t, s)
	peer := newSender(t, s.LocalAddr(), pt)
	i := 0
	send := func(frames [][]byte) {
		for _, f := range frames {
			peer.send(t, pt, uint32(i*FrameSamples), i == 0, f)
			i++
		}
	}
	s.SetInband(false)
	send(dtmfFrames(852, 1209, 80, 60, pt)) // '7' while paused
	// Half a '5' paused, half resumed: neither half is a press of 40 ms.
	five := dtmfFrames(770, 1336, 60, 0, pt)
	send(five[:2])
	time.Sleep(100 * time.Millisecond) // the reader has taken them, paused
	s.SetInband(true)
	send(five[2:])
	send(dtmfFrames(941, 1477, 80, 60, pt)) // '#' resumed
	select {
	case ev := <-s.Events():
		if ev.Digit != '#' {
			t.Errorf("Events() = %q, want only '#' (sent after SetInband(true))", ev.Digit)
		}
	case <-time.After(time.Second):
		t.Fatal("no in-band event after SetInband(true)")
	}
	select {
	case ev := <-s.Events():
		t.Errorf("Events() = extra %q", ev.Digit)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestEventsFullDropsNotBlocks(t *testing.T) {
	s := newStream(t, StreamConfig{Remote: addrOf(listen(t)), EventPT: 101, HasEvents: true})
	n := eventQueue + 5
	for i := range n {
		s.handlePacket(eventPacket(t, uint32(i*1000), 1), netip.MustParseAddrPort("127.0.0.1:9"))
	}
	st := s.Stats()
	if st.Events != eventQueue || st.EventsDropped != 5 {
		t.Errorf("Stats() events, dropped = %d, %d, want %d, 5", st.Events, st.EventsDropped, eventQueue)
	}
}

func eventPacket(t testing.TB, ts uint32, code uint8) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, Timestamp: ts, SSRC: 7}, Payload: dtmf.AppendEvent(nil, dtmf.Payload{Event: code})}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSetSendingHold(t *testing.T) {
	peer := listen(t)
	s := newStream(t, StreamConfig{Remote: addrOf(peer)})
	startPacer(t, 1).Add(s)
	last := mustRead(t, peer)
	s.SetSending(false)
	held := time.Now()
	last2 := last
	for {
		p, _, ok := readPacket(t, peer, 40*time.Millisecond)
		if !ok {
			break
		}
		last2 = p // at most a packet already in flight
	}
	if p, _, ok := readPacket(t, peer, 150*time.Millisecond); ok {
		t.Fatalf("packet seq %d arrived on hold, want none", p.SequenceNumber)
	}
	s.SetSending(true)
	p := mustRead(t, peer)
	heldFrames := uint32(time.Since(held) / FrameDuration)
	if !p.Marker {
		t.Error("first packet after resume has no marker, want it set")
	}
	if p.SequenceNumber != last2.SequenceNumber+1 {
		t.Errorf("seq after resume = %d, want %d (no gap in sequence)", p.SequenceNumber, last2.SequenceNumber+1)
	}
	if gap := p.Timestamp - last2.Timestamp; gap < (heldFrames-3)*FrameSamples {
		t.Errorf("timestamp gap after %d held frames = %d, want >= %d (the clock ran on)", heldFrames, gap, (heldFrames-3)*FrameSamples)
	}

	// An unspecified address (0.0.0.0, the old hold form) also sends nothing.
	s.SetRemote(netip.MustParseAddrPort("0.0.0.0:4000"))
	drain(t, peer, 40*time.Millisecond)
	if _, _, ok := readPacket(t, peer, 100*time.Millisecond); ok {
		t.Error("packet sent to 0.0.0.0 remote reached the old peer, want nothing sent")
	}
	if st := s.Stats(); st.SendErrors != 0 {
		t.Errorf("Stats().SendErrors = %d, want 0", st.SendErrors)
	}
}

func TestRunReturnsOnCancel(t *testing.T) {
	s := newStream(t, StreamConfig{Remote: addrOf(listen(t))})
	run(t, s) // the cleanup asserts Run returns nil within 2 s
	time.Sleep(20 * time.Millisecond)
}
