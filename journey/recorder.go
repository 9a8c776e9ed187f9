package journey

import (
	"strconv"
	"sync"
	"time"
)

// MaxSteps bounds a journey's steps: a caller pressing keys for an hour
// must not grow the record (or the Redis stream entry) without end. Later
// steps are counted in Dropped; the end step is always kept.
const MaxSteps = 200

// Recorder builds one call's Journey as things happen. Its methods are safe
// for concurrent use: keys arrive on the media goroutine, menu steps on the
// call's, the fallback's on its own.
type Recorder struct {
	now func() time.Time

	mu          sync.Mutex
	j           Journey
	start       time.Time
	answeredAt  time.Time // the call was answered: the menu starts
	escalatedAt time.Time
	queuedAt    time.Time
	dropped     int
	done        bool
}

// NewRecorder starts the journey of a call that arrived at start. now is
// the clock (time.Now outside tests).
func NewRecorder(callID, caller string, start time.Time, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{now: now, start: start, j: Journey{CallID: callID, Caller: caller, Start: start}}
}

// Set changes fields that are known once (codec, transport, gateway).
func (r *Recorder) Set(f func(j *Journey)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.j)
}

// Answered notes that the menu starts now.
func (r *Recorder) Answered() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answeredAt = r.now()
}

// Add records a step at the current time and keeps the derived figures
// (escalation, time to a person, queue wait) up to date.
func (r *Recorder) Add(s Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	t := r.now()
	s.At = Millis(t.Sub(r.start))
	switch s.Kind {
	case StepEscalate:
		if r.escalatedAt.IsZero() { // the first request counts: that is when the caller asked
			r.escalatedAt = t
			r.j.Escalated, r.j.Queue = s.Reason, s.Queue
			r.j.InMenu = Millis(t.Sub(r.menuStart()))
		}
	case StepQueued:
		if r.queuedAt.IsZero() {
			r.queuedAt = t
		}
	case StepRinging:
		if r.j.ToRinging == 0 && !r.escalatedAt.IsZero() {
			r.j.ToRinging = Millis(max(t.Sub(r.escalatedAt), time.Millisecond))
		}
	case StepAnswered:
		if r.j.ToPerson == 0 && !r.escalatedAt.IsZero() {
			r.j.ToPerson = Millis(max(t.Sub(r.escalatedAt), time.Millisecond))
		}
		if !r.queuedAt.IsZero() && r.j.QueueWait == 0 {
			r.j.QueueWait = Millis(t.Sub(r.queuedAt))
		}
		r.j.Agent = s.Agent
	}
	if len(r.j.Steps) >= MaxSteps {
		r.dropped++
		return
	}
	r.j.Steps = append(r.j.Steps, s)
}

func (r *Recorder) menuStart() time.Time {
	if r.answeredAt.IsZero() {
		return r.start
	}
	return r.answeredAt
}

// Finish closes the journey: how the call ended and by whom, then f fills
// in what the gateway learnt at the end (the menu's summary, RTP counts).
// It returns the finished record; later calls return nil.
func (r *Recorder) Finish(reason, by string, f func(j *Journey)) *Journey {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil
	}
	r.done = true
	t := r.now()
	r.j.Duration = Millis(t.Sub(r.start))
	r.j.EndReason, r.j.EndedBy = reason, by
	if r.escalatedAt.IsZero() && !r.answeredAt.IsZero() {
		r.j.InMenu = Millis(t.Sub(r.answeredAt))
	}
	if r.dropped > 0 {
		r.j.Steps = append(r.j.Steps, Step{At: r.j.Duration, Kind: "dropped", Reason: "too many steps", Key: strconv.Itoa(r.dropped)})
	}
	r.j.Steps = append(r.j.Steps, Step{At: r.j.Duration, Kind: StepEnd, Reason: reason, By: by})
	if f != nil {
		f(&r.j)
	}
	j := r.j
	return &j
}
