package testphone

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/media/g711"
	"github.com/pion/rtp"
)

// PacketInfo is one received RTP packet, as it arrived.
type PacketInfo struct {
	Arrival    time.Time // when the kernel received it (SO_TIMESTAMPNS; wall clock), else time.Now() after the read
	Source     netip.AddrPort
	Seq        uint16
	Timestamp  uint32
	SSRC       uint32
	Marker     bool
	PT         uint8
	PayloadLen int
}

// EventInfo is one received RFC 4733 telephone-event packet (§2.3 layout).
type EventInfo struct {
	Arrival   time.Time
	Seq       uint16
	Timestamp uint32
	Marker    bool
	Event     uint8 // event code; EventDigit maps it to a digit
	End       bool
	Volume    uint8
	Duration  uint16
}

// frameStat summarises 20 ms of received audio.
type frameStat struct {
	at  time.Time // arrival of the packet that completed the frame
	rms float64
}

// recorder keeps everything the phone hears. One reader goroutine per RTP
// socket feeds it; tests read it at any time.
type recorder struct {
	log       *slog.Logger
	keepAudio bool
	onAudio   func(time.Time, uint8, []byte) // Config.OnAudio; nil: none

	mu      sync.Mutex
	eventPT int // -1 when no telephone-event was negotiated
	packets []PacketInfo
	events  []EventInfo
	audio   []int16
	pending []int16 // tail that does not yet fill a frame
	frames  []frameStat
	bad     int
	srtp    srtpHook      // srtp.go
	notify  chan struct{} // closed and replaced whenever frames grow
	stopped chan struct{} // closed when the call's media ends
}

func newRecorder(log *slog.Logger, keepAudio bool, onAudio func(time.Time, uint8, []byte)) *recorder {
	return &recorder{
		log:       log,
		keepAudio: keepAudio,
		onAudio:   onAudio,
		eventPT:   -1,
		notify:    make(chan struct{}),
		stopped:   make(chan struct{}),
	}
}

func (r *recorder) setEventPT(pt uint8, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eventPT = -1
	if ok {
		r.eventPT = int(pt)
	}
}

// readLoop reads conn until it is closed.
func (r *recorder) readLoop(conn *net.UDPConn) {
	buf := make([]byte, 1500)
	plain := make([]byte, 1500)
	oob := make([]byte, 128)
	enableKernelTimestamps(conn)
	var p rtp.Packet
	for {
		n, src, at, err := readStamped(conn, buf, oob)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				r.log.Warn("rtp read failed", "error", err)
			}
			return
		}
		if at.IsZero() {
			at = time.Now()
		}
		pkt, err := r.srtp.unprotect(plain[:0], buf[:n])
		if err == nil {
			err = p.Unmarshal(pkt)
		}
		if err != nil {
			r.mu.Lock()
			r.bad++
			r.mu.Unlock()
			continue
		}
		r.record(&p, src, at)
		if r.onAudio != nil && (p.PayloadType == g711.PayloadPCMU || p.PayloadType == g711.PayloadPCMA) {
			r.onAudio(at, p.PayloadType, p.Payload)
		}
	}
}

func (r *recorder) record(p *rtp.Packet, src netip.AddrPort, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets = append(r.packets, PacketInfo{
		Arrival: at, Source: src, Seq: p.SequenceNumber, Timestamp: p.Timestamp,
		SSRC: p.SSRC, Marker: p.Marker, PT: p.PayloadType, PayloadLen: len(p.Payload),
	})
	switch {
	case r.eventPT >= 0 && int(p.PayloadType) == r.eventPT:
		if len(p.Payload) >= 4 {
			r.events = append(r.events, EventInfo{
				Arrival: at, Seq: p.SequenceNumber, Timestamp: p.Timestamp, Marker: p.Marker,
				Event: p.Payload[0], End: p.Payload[1]&0x80 != 0, Volume: p.Payload[1] & 0x3f,
				Duration: binary.BigEndian.Uint16(p.Payload[2:4]),
			})
		}
	case p.PayloadType == g711.PayloadPCMU || p.PayloadType == g711.PayloadPCMA:
		// Payloads are appended in arrival order: a lost packet shortens
		// the audio rather than leaving a gap, which is what a listener
		// without a jitter buffer would hear.
		n := len(r.pending)
		r.pending = append(r.pending, make([]int16, len(p.Payload))...)
		g711.Decode(r.pending[n:], p.Payload, p.PayloadType)
		if r.keepAudio {
			r.audio = append(r.audio, r.pending[n:]...)
		}
		grew := false
		for len(r.pending) >= frameSamples {
			r.frames = append(r.frames, frameStat{at: at, rms: RMS(r.pending[:frameSamples])})
			r.pending = r.pending[frameSamples:]
			grew = true
		}
		if len(r.pending) == 0 {
			r.pending = r.pending[:0:0] // let the consumed array go
		}
		if grew {
			close(r.notify)
			r.notify = make(chan struct{})
		}
	}
}

// stop marks the end of media; waiters give up after a final scan.
func (r *recorder) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.stopped:
	default:
		close(r.stopped)
	}
}

// waitFrames feeds fn every frame from index from on, as frames arrive,
// until fn returns true, ctx ends or the media stops.
func (r *recorder) waitFrames(ctx context.Context, from int, fn func(frameStat) bool) error {
	i := from
	for {
		r.mu.Lock()
		// Frames are only ever appended: reading the elements of this
		// snapshot without the lock is safe.
		frames := r.frames[min(i, len(r.frames)):]
		notify, stopped := r.notify, r.stopped
		r.mu.Unlock()
		for _, f := range frames {
			i++
			if fn(f) {
				return nil
			}
		}
		select {
		case <-notify:
		case <-stopped:
			// One more pass picks up frames that raced the stop.
			r.mu.Lock()
			frames = r.frames[min(i, len(r.frames)):]
			r.mu.Unlock()
			for _, f := range frames {
				if fn(f) {
					return nil
				}
			}
			return ErrCallEnded
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (r *recorder) frameCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

// Speech detection thresholds. The floor sits about 44 dB below full
// scale: G.711 silence decodes to 0 (μ-law) or ±8 (A-law), line noise on a
// real gateway stays well below it, speech from a prompt is far above it.
const (
	speechFloor  = 200.0
	speechMaxGap = 300 * time.Millisecond // pauses between words do not end an utterance
	speechMinCV  = 0.15                   // a steady tone varies far less than speech
)

// speechRun tracks a run of loud frames for WaitForSpeech.
type speechRun struct {
	since         time.Time
	need          int // frames
	idx           int
	start, last   int
	active        bool
	n, sum, sumsq float64
}

func (s *speechRun) feed(f frameStat) bool {
	if f.at.Before(s.since) {
		return false
	}
	s.idx++
	if f.rms <= speechFloor {
		if s.active && time.Duration(s.idx-s.last)*20*time.Millisecond > speechMaxGap {
			s.active = false
		}
		return false
	}
	if !s.active {
		*s = speechRun{since: s.since, need: s.need, idx: s.idx, start: s.idx, active: true}
	}
	s.last = s.idx
	s.n++
	s.sum += f.rms
	s.sumsq += f.rms * f.rms
	if s.last-s.start+1 < s.need || s.n < 2 {
		return false
	}
	mean := s.sum / s.n
	variance := s.sumsq/s.n - mean*mean
	return math.Sqrt(max(variance, 0))/mean >= speechMinCV
}

// WaitForSpeech waits until the phone has heard speech since the call was
// answered: frames louder than about -44 dBFS over a run of at least
// minDuration (pauses up to 300 ms allowed), whose energy varies from frame
// to frame by a coefficient of variation of at least 0.15. A steady tone or
// constant noise does not count, so this tells a greeting from a stuck
// tone or silence.
func (c *Call) WaitForSpeech(ctx context.Context, minDuration time.Duration) error {
	return c.WaitForSpeechSince(ctx, time.Time{}, minDuration)
}

// WaitForSpeechSince is WaitForSpeech counting only audio that arrived at
// or after since (for example the moment a digit was sent).
func (c *Call) WaitForSpeechSince(ctx context.Context, since time.Time, minDuration time.Duration) error {
	run := &speechRun{since: since, need: max(1, int(minDuration/(20*time.Millisecond)))}
	if err := c.rec.waitFrames(ctx, 0, run.feed); err != nil {
		return fmt.Errorf("wait for speech of %v: %w", minDuration, err)
	}
	return nil
}

// WaitForSilence waits until, counting from now, the phone has received a
// run of at least minDuration of audio frames each quieter than about
// -44 dBFS. Silence means silent packets: if the other side sends nothing
// at all (on hold), this waits until ctx ends.
func (c *Call) WaitForSilence(ctx context.Context, minDuration time.Duration) error {
	need := max(1, int(minDuration/(20*time.Millisecond)))
	quiet := 0
	err := c.rec.waitFrames(ctx, c.rec.frameCount(), func(f frameStat) bool {
		if f.rms > speechFloor {
			quiet = 0
			return false
		}
		quiet++
		return quiet >= need
	})
	if err != nil {
		return fmt.Errorf("wait for silence of %v: %w", minDuration, err)
	}
	return nil
}

// Energy is the RMS level (in sample units, 0 to 32767) of the audio frames
// that arrived in [from, to); 0 when there were none.
func (c *Call) Energy(from, to time.Time) float64 {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	var sumsq float64
	n := 0
	for _, f := range c.rec.frames {
		if !f.at.Before(from) && f.at.Before(to) {
			sumsq += f.rms * f.rms
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(sumsq / float64(n))
}

// Received returns a copy of every RTP packet received so far.
func (c *Call) Received() []PacketInfo {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	return append([]PacketInfo(nil), c.rec.packets...)
}

// Events returns a copy of the RFC 4733 packets received so far.
func (c *Call) Events() []EventInfo {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	return append([]EventInfo(nil), c.rec.events...)
}

// Audio returns a copy of all received audio as 8 kHz PCM (empty when
// Config.DiscardAudio is set).
func (c *Call) Audio() []int16 {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	return append([]int16(nil), c.rec.audio...)
}

// AudioSince returns a copy of the received audio from the first 20 ms
// frame that arrived at or after t (frame granularity).
func (c *Call) AudioSince(t time.Time) []int16 {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	k := sort.Search(len(c.rec.frames), func(i int) bool { return !c.rec.frames[i].at.Before(t) })
	start := min(k*frameSamples, len(c.rec.audio))
	return append([]int16(nil), c.rec.audio[start:]...)
}
