package media

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/media/g711"
)

// readUntil reads packets from c until done says the list is complete; it
// fails the test if a packet takes over a second or too many arrive.
func readUntil(t *testing.T, c *net.UDPConn, done func([]rtp.Packet) bool) []rtp.Packet {
	t.Helper()
	var pkts []rtp.Packet
	for !done(pkts) {
		if len(pkts) > 1000 {
			t.Fatalf("read %d packets without seeing the end, want fewer", len(pkts))
		}
		pkts = append(pkts, mustRead(t, c))
	}
	return pkts
}

// endsSeen returns a done function for readUntil: n end packets of
// telephone-event PT pt have arrived.
func endsSeen(pt uint8, n int) func([]rtp.Packet) bool {
	return func(pkts []rtp.Packet) bool {
		ends := 0
		for _, p := range pkts {
			if p.PayloadType == pt && len(p.Payload) >= 2 && p.Payload[1]&0x80 != 0 {
				ends++
			}
		}
		return ends >= n
	}
}

// eventsOf returns the packets of payload type pt.
func eventsOf(pkts []rtp.Packet, pt uint8) []rtp.Packet {
	var out []rtp.Packet
	for _, p := range pkts {
		if p.PayloadType == pt {
			out = append(out, p)
		}
	}
	return out
}

// checkContinuity asserts one SSRC and consecutive sequence numbers over
// every packet the stream sent, audio and events alike (RFC 3550 §5.1).
func checkContinuity(t *testing.T, pkts []rtp.Packet) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		prev, p := pkts[i-1], pkts[i]
		if p.SSRC != prev.SSRC {
			t.Errorf("packet %d SSRC = %#x, want %#x", i, p.SSRC, prev.SSRC)
		}
		if p.SequenceNumber != prev.SequenceNumber+1 {
			t.Errorf("packet %d (PT %d) seq = %d, want %d", i, p.PayloadType, p.SequenceNumber, prev.SequenceNumber+1)
		}
	}
}

// checkEvent asserts that pkts are exactly one RFC 4733 key press: PT pt,
// event code, one timestamp, the marker on the first packet only, non-zero
// durations that never go down, and three end packets at the end, all with
// the final duration wantEnd (any equal value when wantEnd is 0). At most
// maxUpdates update packets may lie between the first and the end. It
// returns the event's timestamp and final duration.
func checkEvent(t *testing.T, pkts []rtp.Packet, pt, code uint8, wantEnd uint16, maxUpdates int) (uint32, uint16) {
	t.Helper()
	if n := len(pkts); n < 1+eventEndPackets || n > 1+maxUpdates+eventEndPackets {
		t.Fatalf("event has %d packets, want %d to %d", n, 1+eventEndPackets, 1+maxUpdates+eventEndPackets)
	}
	var last dtmf.Payload
	for i, p := range pkts {
		if p.PayloadType != pt {
			t.Errorf("event packet %d PT = %d, want %d", i, p.PayloadType, pt)
		}
		if p.Timestamp != pkts[0].Timestamp {
			t.Errorf("event packet %d timestamp = %d, want the event's %d (RFC 4733 §2.2.1)", i, p.Timestamp, pkts[0].Timestamp)
		}
		if p.Marker != (i == 0) {
			t.Errorf("event packet %d marker = %v, want %v (RFC 4733 §2.2.2)", i, p.Marker, i == 0)
		}
		ev, err := dtmf.ParseEvent(p.Payload)
		if err != nil {
			t.Fatalf("event packet %d: %v", i, err)
		}
		if ev.Event != code || ev.Volume != eventVolume {
			t.Errorf("event packet %d event, volume = %d, %d, want %d, %d", i, ev.Event, ev.Volume, code, eventVolume)
		}
		if ev.Duration == 0 || ev.Duration < last.Duration {
			t.Errorf("event packet %d duration = %d after %d, want non-zero and not less", i, ev.Duration, last.Duration)
		}
		isEnd := i >= len(pkts)-eventEndPackets
		if ev.End != isEnd {
			t.Errorf("event packet %d of %d E bit = %v, want %v", i, len(pkts), ev.End, isEnd)
		}
		if isEnd {
			if wantEnd != 0 && ev.Duration != wantEnd {
				t.Errorf("end packet %d duration = %d, want %d", i, ev.Duration, wantEnd)
			}
			if last.End && ev.Duration != last.Duration {
				t.Errorf("end packet %d duration = %d, want %d as the previous end packet", i, ev.Duration, last.Duration)
			}
		}
		last = ev
	}
	return pkts[0].Timestamp, last.Duration
}

func TestEventDuration(t *testing.T) {
	tests := []struct {
		in, want time.Duration
	}{
		{0, 100 * time.Millisecond},
		{-time.Second, 100 * time.Millisecond},
		{time.Millisecond, 40 * time.Millisecond},
		{40 * time.Millisecond, 40 * time.Millisecond},
		{250 * time.Millisecond, 250 * time.Millisecond},
		{5 * time.Second, 5 * time.Second},
		{time.Minute, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := eventDuration(tt.in); got != tt.want {
			t.Errorf("eventDuration(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSendEventPackets(t *testing.T) {
	tests := []struct {
		name       string
		digit      byte
		d          time.Duration
		code       uint8
		end        uint16 // 8 kHz samples
		maxUpdates int
	}{
		{"1 default duration", '1', 0, 1, 800, 1},
		{"0 negative duration", '0', -time.Second, 0, 800, 1},
		{"star shortest", '*', 40 * time.Millisecond, 10, 320, 0},
		{"hash", '#', 130 * time.Millisecond, 11, 1040, 2},
		{"A raised to 40 ms", 'A', 5 * time.Millisecond, 12, 320, 0},
		{"lower-case d", 'd', 60 * time.Millisecond, 15, 480, 1},
		{"9 long", '9', 260 * time.Millisecond, 9, 2080, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := listen(t)
			s := newStream(t, StreamConfig{Remote: addrOf(peer), EventPT: 101, HasEvents: true})
			s.mu.Lock()
			wantTS := s.tx.ts // nothing sent yet: the stream's clock as it stands
			s.mu.Unlock()
			if err := s.SendEvent(context.Background(), tt.digit, tt.d); err != nil {
				t.Fatalf("SendEvent(%q, %v) = %v, want nil", tt.digit, tt.d, err)
			}
			pkts := readUntil(t, peer, endsSeen(101, eventEndPackets))
			checkContinuity(t, pkts)
			ts, _ := checkEvent(t, pkts, 101, tt.code, tt.end, tt.maxUpdates)
			if ts != wantTS {
				t.Errorf("event timestamp = %d, want the stream's clock %d", ts, wantTS)
			}
			if p, _, ok := readPacket(t, peer, 50*time.Millisecond); ok {
				t.Errorf("packet seq %d after the third end packet, want none", p.SequenceNumber)
			}
			if st := s.Stats(); st.EventsSent != 1 || st.PacketsOut != uint64(len(pkts)) {
				t.Errorf("Stats() events sent, packets out = %d, %d, want 1, %d", st.EventsSent, st.PacketsOut, len(pkts))
			}
		})
	}
}

// An event sent while the pacer sends audio sits in the audio's sequence
// and starts at the timestamp of the next audio frame.
func TestSendEventPaced(t *testing.T) {
	peer := listen(t)
	s := newStream(t, StreamConfig{Remote: addrOf(peer), PayloadType: g711.PayloadPCMA, EventPT: 96, HasEvents: true})
	startPacer(t, 1).Add(s)
	var pkts []rtp.Packet
	for range 3 {
		pkts = append(pkts, mustRead(t, peer)) // the pacer is running
	}
	if err := s.SendEvent(context.Background(), '5', 100*time.Millisecond); err != nil {
		t.Fatalf("SendEvent = %v, want nil", err)
	}
	// Everything up to the third end packet, and the audio frame after.
	ended := endsSeen(96, eventEndPackets)
	pkts = append(pkts, readUntil(t, peer, func(p []rtp.Packet) bool {
		return ended(p) && p[len(p)-1].PayloadType == g711.PayloadPCMA
	})...)
	checkContinuity(t, pkts)
	checkEvent(t, eventsOf(pkts, 96), 96, 5, 800, 1)

	first := -1
	for i, p := range pkts {
		if p.PayloadType == 96 {
			first = i
			break
		}
	}
	if first < 1 {
		t.Fatalf("event starts at packet %d, want after some audio", first)
	}
	evTS := pkts[first].Timestamp
	var last, prev, next *rtp.Packet
	for i := range pkts {
		p := &pkts[i]
		if p.PayloadType != g711.PayloadPCMA {
			continue
		}
		if last != nil && !p.Marker && p.Timestamp != last.Timestamp+FrameSamples {
			// A marked jump would be the pacer resynchronising after a
			// stall (pacer.go), nothing to do with the event.
			t.Errorf("audio packet %d timestamp = %d, want %d: the event must not move the audio clock", i, p.Timestamp, last.Timestamp+FrameSamples)
		}
		last = p
		if i > first && next == nil {
			next = p
		}
		if i < first {
			prev = p
		}
	}
	if prev == nil || next == nil {
		t.Fatal("no audio both before and after the event's start")
	}
	// The event's timestamp is that of the next audio frame to go out
	// (unless the pacer resynchronised in between, which marks that frame).
	if !next.Marker && (evTS != prev.Timestamp+FrameSamples || next.Timestamp != evTS) {
		t.Errorf("event timestamp = %d between audio %d and %d, want %d", evTS, prev.Timestamp, next.Timestamp, prev.Timestamp+FrameSamples)
	}
}

// A bridged stream relays the other leg's audio; an event sent on it
// follows the relayed audio's timestamps and sequence numbers.
func TestSendEventBridged(t *testing.T) {
	_, b, callerA, pb := bridgedPair(t, StreamConfig{PayloadType: g711.PayloadPCMU, EventPT: 101, HasEvents: true}, StreamConfig{PayloadType: g711.PayloadPCMA, EventPT: 96, HasEvents: true})
	frame := make([]byte, FrameSamples)
	sent := 0
	talk := func() {
		callerA.send(t, 0, 70000+uint32(sent)*FrameSamples, sent == 0, frame)
		sent++
	}
	var last rtp.Packet
	for range 3 {
		talk()
		last = mustRead(t, pb)
	}
	done := make(chan error, 1)
	go func() { done <- b.SendEvent(context.Background(), '7', 100*time.Millisecond) }()
	// A's caller keeps talking while the event goes out; how many frames
	// fall inside the event does not matter.
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("SendEvent = %v, want nil", err)
			}
			running = false
		case <-time.After(FrameDuration):
			talk()
		}
	}
	talk()
	relayed := sent - 3
	pkts := readUntil(t, pb, func(p []rtp.Packet) bool {
		return endsSeen(96, eventEndPackets)(p) && len(p)-len(eventsOf(p, 96)) == relayed
	})

	checkContinuity(t, pkts)
	evTS, _ := checkEvent(t, eventsOf(pkts, 96), 96, 7, 800, 1)
	prev := &last // the relayed audio just before the event, if none came later
	seenEvent := false
	for i := range pkts {
		p := &pkts[i]
		if p.PayloadType == 96 {
			if !seenEvent && evTS != prev.Timestamp+FrameSamples {
				t.Errorf("event timestamp = %d after relayed audio %d, want %d", evTS, prev.Timestamp, prev.Timestamp+FrameSamples)
			}
			seenEvent = true
			continue
		}
		if p.PayloadType != g711.PayloadPCMA {
			t.Errorf("packet %d PT = %d, want 8 or 96", i, p.PayloadType)
		}
		if seenEvent && int32(p.Timestamp-evTS) < 0 {
			t.Errorf("audio packet %d after the event's start has timestamp %d, want at or after the event's %d", i, p.Timestamp, evTS)
		}
		prev = p
	}
	if st := b.Stats(); st.Relayed != uint64(sent) || st.EventsSent != 1 {
		t.Errorf("b.Stats() relayed, events sent = %d, %d, want %d, 1", st.Relayed, st.EventsSent, sent)
	}
}

func TestSendEventErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   StreamConfig
		setup func(*Stream)
		ctx   func() context.Context
		digit byte
		want  error
	}{
		{name: "no telephone-event", digit: '1', want: ErrNoEvents},
		{name: "letter E", cfg: StreamConfig{EventPT: 101, HasEvents: true}, digit: 'E', want: ErrBadDigit},
		{name: "letter x", cfg: StreamConfig{EventPT: 101, HasEvents: true}, digit: 'x', want: ErrBadDigit},
		{name: "plus", cfg: StreamConfig{EventPT: 101, HasEvents: true}, digit: '+', want: ErrBadDigit},
		{name: "NUL", cfg: StreamConfig{EventPT: 101, HasEvents: true}, digit: 0, want: ErrBadDigit},
		{name: "event code not digit", cfg: StreamConfig{EventPT: 101, HasEvents: true}, digit: 5, want: ErrBadDigit},
		{
			name: "on hold", cfg: StreamConfig{EventPT: 101, HasEvents: true}, digit: '1', want: ErrNotSending,
			setup: func(s *Stream) { s.SetSending(false) },
		},
		{
			name: "unspecified address", cfg: StreamConfig{EventPT: 101, HasEvents: true}, digit: '1', want: ErrNotSending,
			setup: func(s *Stream) { s.SetRemote(netip.MustParseAddrPort("0.0.0.0:4000")) },
		},
		{
			name: "context already ended", cfg: StreamConfig{EventPT: 101, HasEvents: true}, digit: '1', want: context.Canceled,
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := listen(t)
			tt.cfg.Remote = addrOf(peer)
			s := newStream(t, tt.cfg)
			if tt.setup != nil {
				tt.setup(s)
			}
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			if err := s.SendEvent(ctx, tt.digit, 0); !errors.Is(err, tt.want) {
				t.Errorf("SendEvent(%q) = %v, want %v", tt.digit, err, tt.want)
			}
			if st := s.Stats(); st.PacketsOut != 0 || st.EventsSent != 0 {
				t.Errorf("Stats() packets out, events sent = %d, %d, want 0, 0", st.PacketsOut, st.EventsSent)
			}
			if p, _, ok := readPacket(t, peer, 30*time.Millisecond); ok {
				t.Errorf("packet seq %d arrived, want nothing sent", p.SequenceNumber)
			}
		})
	}
}

// Two SendEvent calls at once give two whole events, one after the other,
// the second starting after the first's end in media time.
func TestSendEventNoOverlap(t *testing.T) {
	peer := listen(t)
	s := newStream(t, StreamConfig{Remote: addrOf(peer), EventPT: 101, HasEvents: true})
	errs := make(chan error, 2)
	start := make(chan struct{})
	for _, digit := range []byte{'1', '2'} {
		go func() {
			<-start
			errs <- s.SendEvent(context.Background(), digit, 100*time.Millisecond)
		}()
	}
	close(start)
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("SendEvent = %v, want nil", err)
		}
	}
	pkts := readUntil(t, peer, endsSeen(101, 2*eventEndPackets))
	checkContinuity(t, pkts)
	split := 0
	for ends := 0; ends < eventEndPackets; split++ {
		if ev, _ := dtmf.ParseEvent(pkts[split].Payload); ev.End {
			ends++
		}
	}
	firstCode, secondCode := pkts[0].Payload[0], pkts[split].Payload[0]
	if firstCode == secondCode || firstCode+secondCode != 3 {
		t.Fatalf("events have codes %d then %d, want 1 and 2 in either order", firstCode, secondCode)
	}
	ts1, end1 := checkEvent(t, pkts[:split], 101, firstCode, 800, 1)
	ts2, _ := checkEvent(t, pkts[split:], 101, secondCode, 800, 1)
	if gap, want := int32(ts2-ts1), int32(end1)+int32(samples(eventPause)); gap < want {
		t.Errorf("second event starts %d samples after the first, want >= %d (its duration and a pause)", gap, want)
	}
	if st := s.Stats(); st.EventsSent != 2 {
		t.Errorf("Stats().EventsSent = %d, want 2", st.EventsSent)
	}
}

// Cancelling the context cuts an event short but still ends it, and a
// caller waiting for its turn gives up without sending anything.
func TestSendEventCancel(t *testing.T) {
	peer := listen(t)
	s := newStream(t, StreamConfig{Remote: addrOf(peer), EventPT: 101, HasEvents: true})
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	doneA := make(chan error, 1)
	go func() { doneA <- s.SendEvent(ctxA, '4', 5*time.Second) }()
	firstA := mustRead(t, peer) // A holds the stream's event slot now

	ctxB, cancelB := context.WithCancel(context.Background())
	doneB := make(chan error, 1)
	go func() { doneB <- s.SendEvent(ctxB, '8', 0) }()
	time.Sleep(20 * time.Millisecond) // let B wait its turn
	cancelB()
	select {
	case err := <-doneB:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("waiting SendEvent after cancel = %v, want context.Canceled", err)
		}
	case err := <-doneA:
		t.Fatalf("first SendEvent returned %v before it was cancelled", err)
	case <-time.After(2 * time.Second):
		t.Fatal("waiting SendEvent did not return within 2s of cancel")
	}

	time.Sleep(60 * time.Millisecond) // at least one update, usually
	cancelA()
	select {
	case err := <-doneA:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("SendEvent after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("SendEvent did not return within 3s of cancel (5 s event)")
	}
	pkts := append([]rtp.Packet{firstA}, readUntil(t, peer, endsSeen(101, eventEndPackets))...)
	checkContinuity(t, pkts)
	_, end := checkEvent(t, pkts, 101, 4, 0, 100)
	if end >= samples(5*time.Second) {
		t.Errorf("end duration = %d, want less than the 5 s asked for", end)
	}

	// The slot is free again.
	if err := s.SendEvent(context.Background(), '#', 40*time.Millisecond); err != nil {
		t.Fatalf("SendEvent after a cancelled one = %v, want nil", err)
	}
	pkts = readUntil(t, peer, endsSeen(101, eventEndPackets))
	checkEvent(t, pkts, 101, 11, 320, 0)
}

// An event neither uses up a pending talkspurt marker nor puts it on its
// updates: the marker means "new event" there (RFC 4733 §2.2.2).
func TestSendEventKeepsTalkspurtMarker(t *testing.T) {
	peer := listen(t)
	s := newStream(t, StreamConfig{Remote: addrOf(peer), EventPT: 101, HasEvents: true})
	done := make(chan error, 1)
	go func() { done <- s.SendEvent(context.Background(), '3', 300*time.Millisecond) }()
	first := mustRead(t, peer)
	s.SetSending(false) // hold and resume mid-event: the next audio is marked
	s.SetSending(true)
	if err := <-done; err != nil {
		t.Fatalf("SendEvent = %v, want nil", err)
	}
	pkts := append([]rtp.Packet{first}, readUntil(t, peer, endsSeen(101, eventEndPackets))...)
	checkContinuity(t, pkts)
	checkEvent(t, pkts, 101, 3, 2400, 5)

	s.tick() // the audio that follows starts a talkspurt
	if p := mustRead(t, peer); p.PayloadType != 0 || !p.Marker {
		t.Errorf("audio after the event PT %d marker %v, want PT 0 with the marker", p.PayloadType, p.Marker)
	}
}

func TestEventPacketsDoNotAllocate(t *testing.T) {
	s := newStream(t, StreamConfig{Remote: addrOf(listen(t)), EventPT: 101, HasEvents: true})
	ev := dtmf.Payload{Event: 1, Volume: eventVolume, Duration: 400}
	if allocs := testing.AllocsPerRun(300, func() { s.continueEvent(1234, ev) }); allocs != 0 {
		t.Errorf("event packet allocs/packet = %v, want 0", allocs)
	}
}

// bridgedPair bridges two running streams configured as ca and cb (their
// Remote is set here) and returns B, a sender playing A's far end from the
// address A sends to (so A latches onto it), and the socket B's packets
// reach.
func bridgedPair(t *testing.T, ca, cb StreamConfig) (a, b *Stream, callerA *sender, pb *net.UDPConn) {
	t.Helper()
	pa, pb := listen(t), listen(t)
	ca.Remote, cb.Remote = addrOf(pa), addrOf(pb)
	a, b = newStream(t, ca), newStream(t, cb)
	run(t, a)
	run(t, b)
	Bridge(a, b)
	callerA = &sender{conn: pa, to: a.LocalAddr()}
	callerA.pkt.Version, callerA.pkt.SSRC, callerA.pkt.SequenceNumber = 2, 0xAAAA, 1
	return a, b, callerA, pb
}

// TestSendEventHoldsOffRelayedEvents: while a stream sends its own event, a
// telephone-event relayed from its bridge peer is dropped rather than
// interleaved (one event at a time on a stream); once it has ended,
// relayed events pass again.
func TestSendEventHoldsOffRelayedEvents(t *testing.T) {
	_, b, callerA, pb := bridgedPair(t, StreamConfig{EventPT: 101, HasEvents: true}, StreamConfig{EventPT: 96, HasEvents: true})
	press := func(code uint8, ts uint32) {
		for i, end := range []bool{false, false, true, true, true} {
			pl := []byte{code, 10, 0, 160}
			if end {
				pl[1] |= 0x80
			}
			callerA.send(t, 101, ts, i == 0, pl)
		}
	}

	done := make(chan error, 1)
	go func() { done <- b.SendEvent(context.Background(), '7', 300*time.Millisecond) }()
	if p := mustRead(t, pb); p.PayloadType != 96 || p.Payload[0] != 7 {
		t.Fatalf("first packet at B: PT %d event %d, want B's own event 7 on PT 96", p.PayloadType, p.Payload[0])
	}
	press(3, 80000) // during B's own event: dropped
	if err := <-done; err != nil {
		t.Fatalf("SendEvent = %v", err)
	}
	press(4, 88000) // after it: relayed
	pkts := readUntil(t, pb, func(p []rtp.Packet) bool {
		for _, q := range p {
			if q.PayloadType == 96 && q.Payload[0] == 4 && q.Payload[1]&0x80 != 0 {
				return true
			}
		}
		return false
	})
	checkContinuity(t, pkts)
	for _, p := range eventsOf(pkts, 96) {
		if p.Payload[0] == 3 {
			t.Fatalf("relayed event 3 reached B during its own event 7, want it dropped")
		}
	}
}

// TestSendEventAfterRelayedEvent: with no audio flowing, an event sent just
// after one relayed from the bridge peer gets a timestamp of its own, after
// the relayed one's end, not the relayed one's (which would make the far
// end take both for one press).
func TestSendEventAfterRelayedEvent(t *testing.T) {
	_, b, callerA, pb := bridgedPair(t, StreamConfig{EventPT: 101, HasEvents: true}, StreamConfig{EventPT: 101, HasEvents: true})
	for i, end := range []bool{false, true, true, true} {
		pl := []byte{3, 10, 0x03, 0x20} // 800 samples
		if end {
			pl[1] |= 0x80
		}
		callerA.send(t, 101, 40000, i == 0, pl)
	}
	relayed := readUntil(t, pb, endsSeen(101, 3))
	if err := b.SendEvent(context.Background(), '9', 60*time.Millisecond); err != nil {
		t.Fatalf("SendEvent = %v", err)
	}
	own := eventsOf(readUntil(t, pb, endsSeen(101, 3)), 101)
	relTS, ownTS := relayed[0].Timestamp, own[0].Timestamp
	if gap := int32(ownTS - relTS); gap < 800 {
		t.Errorf("own event timestamp %d is %d after the relayed event's %d, want at least its 800-sample length", ownTS, gap, relTS)
	}
}
