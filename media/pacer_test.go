package media

import (
	"testing"
	"time"
)

func TestNextSlotTime(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		slot int
		now  time.Duration
		want time.Duration
	}{
		{0, 0, 0},
		{3, 0, 3 * ms},
		{3, 3 * ms, 3 * ms},
		{3, 3*ms + 1, 23 * ms},
		{19, 40 * ms, 59 * ms},
		{0, 41 * ms, 60 * ms},
	}
	for _, tt := range tests {
		if got := nextSlotTime(tt.slot, tt.now); got != tt.want {
			t.Errorf("nextSlotTime(%d, %v) = %v, want %v", tt.slot, tt.now, got, tt.want)
		}
	}
}

func TestPacerSpreadsStreams(t *testing.T) {
	p := NewPacer(2, nil)
	sink := addrOf(listen(t))
	var streams []*Stream
	for range 80 {
		s := newStream(t, StreamConfig{Remote: sink})
		p.Add(s)
		p.Add(s) // twice: no effect
		streams = append(streams, s)
	}
	if got := p.Len(); got != 80 {
		t.Fatalf("Len() = %d, want 80", got)
	}
	for i, w := range p.workers {
		if w.n != 40 {
			t.Errorf("worker %d has %d streams, want 40", i, w.n)
		}
		for slot := range w.slots {
			if n := len(w.slots[slot]); n != 2 {
				t.Errorf("worker %d slot %d has %d streams, want 2", i, slot, n)
			}
		}
	}
	for _, s := range streams[:30] {
		p.Remove(s)
		p.Remove(s) // twice: no effect
	}
	if got := p.Len(); got != 50 {
		t.Errorf("Len() after removing 30 = %d, want 50", got)
	}
}

func TestPacerSendsEvery20ms(t *testing.T) {
	sink := listen(t)
	p := startPacer(t, 2)
	const n = 10
	var streams []*Stream
	for range n {
		streams = append(streams, newStream(t, StreamConfig{Remote: addrOf(sink)}))
	}
	start := time.Now()
	for _, s := range streams {
		p.Add(s)
	}
	time.Sleep(500 * time.Millisecond)
	for _, s := range streams {
		p.Remove(s)
	}
	elapsed := time.Since(start) // the sleep may overrun on a loaded machine
	drain(t, sink, 50*time.Millisecond)
	want := uint64(elapsed / FrameDuration)
	for i, s := range streams {
		// One per started period; the first may be up to a period away and
		// a loaded machine may leave the last few owed at Remove.
		if got := s.Stats().PacketsOut; got+5 < want || got > want+1 {
			t.Errorf("stream %d sent %d packets in %v, want about %d", i, got, elapsed, want)
		}
	}
	before := streams[0].Stats().PacketsOut
	time.Sleep(60 * time.Millisecond)
	if got := streams[0].Stats().PacketsOut; got != before {
		t.Errorf("removed stream sent %d more packets, want none", got-before)
	}
	if st := p.Stats(); st.Sent == 0 || st.P50 > 20*time.Millisecond {
		t.Errorf("Pacer.Stats() = %+v, want ticks with p50 well under a period", st)
	}
}

func TestPacerCatchUpAndResync(t *testing.T) {
	tests := []struct {
		name                    string
		behind                  time.Duration
		wantSent, wantLate      uint64
		wantResync              uint64
		wantTSGap, wantSeqSteps uint32
	}{
		{"on time", 0, 1, 0, 0, 160, 1},
		{"70 ms late sends the 4 owed", 70 * time.Millisecond, 4, 3, 0, 4 * 160, 4},
		{"500 ms late resynchronises", 500 * time.Millisecond, 1, 0, 1, 26 * 160, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := listen(t)
			p := NewPacer(1, nil) // not started: the test drives the worker
			s := newStream(t, StreamConfig{Remote: addrOf(peer)})
			p.Add(s)
			w := s.pace.w
			startTS := s.tx.ts
			startSeq := s.tx.seq
			now := p.now()
			w.mu.Lock()
			s.pace.next = now - tt.behind
			w.sendSlot(s.pace.slot, now)
			w.mu.Unlock()
			st := s.Stats()
			if st.PacketsOut != tt.wantSent || st.LateTicks != tt.wantLate || st.Resyncs != tt.wantResync {
				t.Errorf("sendSlot(%v behind) sent, late, resyncs = %d, %d, %d, want %d, %d, %d",
					tt.behind, st.PacketsOut, st.LateTicks, st.Resyncs, tt.wantSent, tt.wantLate, tt.wantResync)
			}
			if gap := s.tx.ts - startTS; gap != tt.wantTSGap {
				t.Errorf("timestamp advanced %d, want %d", gap, tt.wantTSGap)
			}
			if steps := uint32(s.tx.seq - startSeq); steps != tt.wantSeqSteps {
				t.Errorf("sequence advanced %d, want %d", steps, tt.wantSeqSteps)
			}
			if s.pace.next <= now {
				t.Errorf("next deadline %v not after now %v", s.pace.next, now)
			}
		})
	}
}
