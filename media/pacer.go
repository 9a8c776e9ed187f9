package media

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// slotsPerPeriod spreads a worker's streams over the 20 ms period in
	// 1 ms slots, so a worker sends a twentieth of its streams each
	// millisecond instead of all of them in one burst (FACTS.md: one loop
	// sending everything every 20 ms gave p99 lateness of 6-16 ms).
	slotsPerPeriod = 20
	slotWidth      = FrameDuration / slotsPerPeriod
	// maxBehind is how late a stream may fall before the pacer stops
	// catching up and resynchronises: sending 10 owed frames back to back
	// would overflow the far jitter buffer anyway.
	maxBehind = 200 * time.Millisecond
	// histBucket and histBuckets shape the lateness histogram: 50 µs
	// resolution up to 200 ms, the last bucket holding everything later.
	// earlySend lets a worker serve a deadline up to half a millisecond
	// early. Go's netpoller sleeps in whole milliseconds (epoll_wait), so a
	// worker waiting for an exact deadline wakes up to 1 ms late; serving
	// within ±0.5 ms of the deadline halves that, and 0.5 ms of jitter is
	// nothing to a jitter buffer.
	earlySend   = 500 * time.Microsecond
	histBucket  = 50 * time.Microsecond
	histBuckets = 4001
)

// Pacer sends every added stream's packet every 20 ms from a fixed set of
// worker goroutines (docs/design.md, "Media threading"). Each stream has an
// absolute deadline start + n*20 ms; a worker that wakes late sends what is
// owed (catch up, do not skip) unless a stream is more than 200 ms behind,
// which is counted and resynchronised instead.
type Pacer struct {
	log     *slog.Logger
	epoch   time.Time
	workers []*worker
	wg      sync.WaitGroup

	mu sync.Mutex // serialises Add, Remove and AttachMux

	muxes  atomic.Pointer[[]*Mux] // every attached Mux; copy on write
	polled atomic.Int32           // streams attached to any Mux (Mux.attach)
}

// paceState is a stream's place in the pacer; guarded by the worker's mu
// (w itself also by Pacer.mu).
type paceState struct {
	w    *worker
	slot int
	next time.Duration // next deadline, since the pacer's epoch
}

type worker struct {
	p     *Pacer
	kick  chan struct{}
	muxes atomic.Pointer[[]*Mux] // the shared sockets this worker drains

	mu       sync.Mutex
	slots    [slotsPerPeriod][]*Stream
	slotNext [slotsPerPeriod]time.Duration // earliest deadline in each slot
	n        int
	hist     [histBuckets]uint64 // send lateness
	sent     uint64
	catchUp  uint64
	resyncs  uint64
	maxLate  time.Duration
}

// NewPacer returns a pacer with workers goroutines (0 means GOMAXPROCS).
func NewPacer(workers int, log *slog.Logger) *Pacer {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pacer{log: log, epoch: time.Now()}
	for range workers {
		w := &worker{p: p, kick: make(chan struct{}, 1)}
		for i := range w.slotNext {
			w.slotNext[i] = -1
		}
		p.workers = append(p.workers, w)
	}
	return p
}

// Start runs the workers until ctx ends; Wait waits for them to return.
func (p *Pacer) Start(ctx context.Context) {
	for _, w := range p.workers {
		p.wg.Go(func() { w.run(ctx) })
	}
}

// Wait returns when every worker has stopped (after Start's ctx ended).
func (p *Pacer) Wait() { p.wg.Wait() }

func (p *Pacer) now() time.Duration { return time.Since(p.epoch) }

// nextSlotTime is the first deadline of slot at or after now: slot i fires
// at i ms, 20+i ms, 40+i ms, ... after the epoch.
func nextSlotTime(slot int, now time.Duration) time.Duration {
	phase := time.Duration(slot) * slotWidth
	if now <= phase {
		return phase
	}
	k := (now - phase + FrameDuration - 1) / FrameDuration
	return phase + k*FrameDuration
}

// Add starts pacing s on the least loaded worker, in that worker's least
// loaded slot. Adding a stream twice does nothing.
func (p *Pacer) Add(s *Stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.pace.w != nil {
		return
	}
	w := p.workers[0]
	for _, c := range p.workers[1:] {
		if c.load() < w.load() {
			w = c
		}
	}
	if s.mux != nil && s.mux.owner != nil {
		// The worker that reads the stream's socket sends for it too: its
		// receive and its ticks never run at once.
		w = s.mux.owner
	}
	w.mu.Lock()
	slot := 0
	for i := range w.slots {
		if len(w.slots[i]) < len(w.slots[slot]) {
			slot = i
		}
	}
	next := nextSlotTime(slot, p.now())
	s.pace = paceState{w: w, slot: slot, next: next}
	w.slots[slot] = append(w.slots[slot], s)
	if w.slotNext[slot] < 0 || next < w.slotNext[slot] {
		w.slotNext[slot] = next
	}
	w.n++
	w.mu.Unlock()
	select { // the worker may be asleep until a later slot, or idle
	case w.kick <- struct{}{}:
	default:
	}
}

// Remove stops pacing s. Removing a stream not added does nothing.
func (p *Pacer) Remove(s *Stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := s.pace.w
	if w == nil {
		return
	}
	w.mu.Lock()
	list := w.slots[s.pace.slot]
	for i, x := range list {
		if x == s {
			last := len(list) - 1
			list[i], list[last] = list[last], nil
			w.slots[s.pace.slot] = list[:last]
			w.n--
			break
		}
	}
	if len(w.slots[s.pace.slot]) == 0 {
		w.slotNext[s.pace.slot] = -1
	}
	s.pace = paceState{}
	w.mu.Unlock()
}

// AttachMux gives m to the worker with the fewest shared sockets: from
// then on that worker drains m's receive side every millisecond while
// any stream is paced on a Mux, and every worker flushes m's queued sends
// after each round. Attach every Mux before streams use it.
func (p *Pacer) AttachMux(m *Mux) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.workers[0]
	for _, c := range p.workers[1:] {
		if len(c.muxList()) < len(w.muxList()) {
			w = c
		}
	}
	m.owner = w
	wl := append(slices.Clone(w.muxList()), m)
	w.muxes.Store(&wl)
	var all []*Mux
	if l := p.muxes.Load(); l != nil {
		all = slices.Clone(*l)
	}
	all = append(all, m)
	p.muxes.Store(&all)
}

func (w *worker) muxList() []*Mux {
	if l := w.muxes.Load(); l != nil {
		return *l
	}
	return nil
}

// flush sends every Mux's queued packets (see AttachMux).
func (p *Pacer) flush() {
	if l := p.muxes.Load(); l != nil {
		for _, m := range *l {
			m.flush()
		}
	}
}

// Len is the number of streams being paced.
func (p *Pacer) Len() int {
	n := 0
	for _, w := range p.workers {
		n += w.load()
	}
	return n
}

func (w *worker) load() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *worker) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		polling := w.p.polled.Load() > 0
		if polling {
			for _, m := range w.muxList() {
				m.drain()
			}
		}
		next := w.sendDue()
		if polling {
			w.p.flush()
		}
		wait := time.Hour // idle: Add kicks us
		if next >= 0 {
			wait = next - w.p.now() - earlySend
		}
		if polling {
			// Drain the shared sockets each slot: received packets wait
			// at most about a millisecond, and one recvmmsg takes them all.
			wait = min(wait, slotWidth)
		}
		if wait <= 0 {
			continue
		}
		// One timer to the next slot deadline (time.Timer rather than a
		// ticker per stream); Go 1.23+ timers drop a stale fire on Reset.
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-w.kick:
		}
	}
}

// sendDue sends every packet owed up to now and returns the earliest
// deadline still ahead, or -1 if the worker has no streams.
func (w *worker) sendDue() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.p.now() + earlySend
	earliest := time.Duration(-1)
	for slot := range w.slots {
		if sn := w.slotNext[slot]; sn >= 0 && sn <= now {
			w.slotNext[slot] = w.sendSlot(slot, now)
		}
		if sn := w.slotNext[slot]; sn >= 0 && (earliest < 0 || sn < earliest) {
			earliest = sn
		}
	}
	return earliest
}

// sendSlot serves one slot's due streams and returns the slot's next
// deadline. w.mu held.
func (w *worker) sendSlot(slot int, now time.Duration) time.Duration {
	next := time.Duration(-1)
	for _, s := range w.slots[slot] {
		ps := &s.pace
		if ps.next <= now {
			if now-ps.next > maxBehind {
				owed := int((now - ps.next) / FrameDuration)
				s.skip(owed)
				ps.next += time.Duration(owed) * FrameDuration
				s.stats.resyncs.Add(1)
				w.resyncs++
			}
			for first := true; ps.next <= now; first = false {
				late := w.p.now() - ps.next
				s.tick()
				w.record(late)
				if !first {
					s.stats.lateTicks.Add(1)
					w.catchUp++
				}
				ps.next += FrameDuration
			}
		}
		if next < 0 || ps.next < next {
			next = ps.next
		}
	}
	return next
}

func (w *worker) record(late time.Duration) {
	w.sent++
	if late > w.maxLate {
		w.maxLate = late
	}
	w.hist[min(int(max(late, 0)/histBucket), histBuckets-1)]++
}

// PacerStats describes how punctually the pacer sent.
type PacerStats struct {
	Sent          uint64        // ticks served (packets sent or, on hold, not)
	CatchUp       uint64        // ticks served a whole period or more late
	Resyncs       uint64        // streams that fell over 200 ms behind
	P50, P99, Max time.Duration // lateness against the absolute deadline
}

// Stats returns the lateness figures since the start or the last ResetStats.
// Percentiles are read from a 50 µs histogram.
func (p *Pacer) Stats() PacerStats {
	var hist [histBuckets]uint64
	var st PacerStats
	for _, w := range p.workers {
		w.mu.Lock()
		for i, c := range w.hist {
			hist[i] += c
		}
		st.Sent += w.sent
		st.CatchUp += w.catchUp
		st.Resyncs += w.resyncs
		st.Max = max(st.Max, w.maxLate)
		w.mu.Unlock()
	}
	st.P50 = percentile(&hist, st.Sent, 0.50)
	st.P99 = percentile(&hist, st.Sent, 0.99)
	return st
}

// ResetStats clears the lateness figures (after a warm-up, say).
func (p *Pacer) ResetStats() {
	for _, w := range p.workers {
		w.mu.Lock()
		w.hist = [histBuckets]uint64{}
		w.sent, w.catchUp, w.resyncs, w.maxLate = 0, 0, 0, 0
		w.mu.Unlock()
	}
}

// percentile returns the upper edge of the bucket holding quantile q.
func percentile(hist *[histBuckets]uint64, total uint64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	var acc uint64
	for i, c := range hist {
		acc += c
		if acc > rank {
			return time.Duration(i+1) * histBucket
		}
	}
	return histBuckets * histBucket
}
