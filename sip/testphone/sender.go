package testphone

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/media/g711"
	"github.com/pion/rtp"
)

const (
	framePeriod = 20 * time.Millisecond
	// eventVolume is the RFC 4733 §2.3.4 volume field: -10 dBm0, the level
	// of each tone of an in-band digit.
	eventVolume = 10
	// eventEndPackets: the final packet of an event is sent three times
	// (RFC 4733 §2.5.1.4) so one loss does not lose the end.
	eventEndPackets = 3
	// maxEventDuration keeps the 16-bit duration field from wrapping
	// (RFC 4733 §2.5.1.3 describes the long-event split we do not need).
	maxEventDuration = 5 * time.Second
)

// item is one thing queued for sending: audio or a telephone event.
type item struct {
	pcm []int16
	pos int

	event   bool
	code    uint8
	packets int // event packets before the end packets
	k       int // event packets sent so far
	startTS uint32
	firstAt time.Time // when the event's first packet went out

	done chan struct{}
}

// sender sends one RTP packet every 20 ms from the phone's socket, so the
// gateway sees symmetric RTP (RFC 4961) from the very first frame after the
// answer, and plays whatever is queued (silence otherwise).
type sender struct {
	log *slog.Logger

	mu    sync.Mutex
	conn  *net.UDPConn
	media Media
	queue []*item

	stopped chan struct{}

	// Owned by the run goroutine.
	seq     uint16
	ts      uint32
	ssrc    uint32
	started bool
	pkt     rtp.Packet
	buf     [1500]byte
	srtp    srtpHook        // srtp.go
	sbuf    [1500 + 16]byte // the packet as protected
	pcm     [frameSamples]int16
	payload [frameSamples]byte

	sentMu sync.Mutex
	sent   int
}

func newSender(log *slog.Logger) *sender {
	// RFC 3550 §5.1: sequence number and timestamp start at random values.
	return &sender{
		log:     log,
		stopped: make(chan struct{}),
		seq:     uint16(rand.Uint32()),
		ts:      rand.Uint32(),
		ssrc:    rand.Uint32(),
	}
}

func (s *sender) setConn(c *net.UDPConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = c
}

func (s *sender) setMedia(m Media) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media = m
}

// run paces packets on absolute 20 ms deadlines until ctx ends. A stall of
// more than 200 ms (a stopped process, an overloaded box) restarts the
// schedule instead of bursting the missed frames.
func (s *sender) run(ctx context.Context) {
	defer s.stop()
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s.tick()
		next = next.Add(framePeriod)
		now := time.Now()
		if now.Sub(next) > 10*framePeriod {
			next = now
		}
		timer.Reset(next.Sub(now))
	}
}

func (s *sender) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stopped:
	default:
		close(s.stopped)
	}
}

// tick builds and sends one packet.
func (s *sender) tick() {
	s.mu.Lock()
	conn, m := s.conn, s.media
	var it *item
	if len(s.queue) > 0 {
		it = s.queue[0]
	}
	finished := false
	p := &s.pkt
	p.Version = 2
	p.SSRC = s.ssrc
	p.Marker = false
	if it != nil && it.event {
		// RFC 4733 §2.5.1: every packet of one event carries the
		// timestamp of its start and a growing duration; the first
		// has the marker bit; the final one is repeated with E set.
		if it.k == 0 {
			it.startTS = s.ts
			p.Marker = true
		}
		dur := uint16(min(it.k+1, it.packets) * frameSamples)
		flags := uint8(eventVolume)
		if it.k >= it.packets {
			flags |= 0x80
		}
		s.payload[0] = it.code
		s.payload[1] = flags
		binary.BigEndian.PutUint16(s.payload[2:4], dur)
		p.Payload = s.payload[:4]
		p.PayloadType = m.EventPT
		p.Timestamp = it.startTS
		it.k++
		finished = it.k == it.packets+eventEndPackets
	} else {
		clear(s.pcm[:])
		if it != nil {
			it.pos += copy(s.pcm[:], it.pcm[it.pos:])
			finished = it.pos >= len(it.pcm)
		}
		if m.Codec == g711.PayloadPCMA {
			p.Payload = g711.EncodeALaw(s.payload[:], s.pcm[:])
		} else {
			p.Payload = g711.EncodeULaw(s.payload[:], s.pcm[:])
		}
		p.PayloadType = m.Codec
		p.Timestamp = s.ts
		// RFC 3551 §4.1: the marker flags the first packet of a talkspurt;
		// for a phone that always sends, that is the first packet only.
		p.Marker = !s.started
	}
	if finished {
		s.queue = s.queue[1:]
	}
	s.mu.Unlock()

	if m.weMaySend() && conn != nil {
		p.SequenceNumber = s.seq
		n, err := p.MarshalTo(s.buf[:])
		var out []byte
		if err == nil {
			out, err = s.srtp.protect(s.sbuf[:0], s.buf[:n])
		}
		var at time.Time
		if err == nil {
			at = time.Now() // before the write: on loopback it arrives within it
			_, err = conn.WriteToUDPAddrPort(out, m.Remote)
		}
		if err != nil {
			s.log.Debug("rtp send failed", "error", err)
		} else {
			if it != nil && it.event && it.k == 1 {
				it.firstAt = at // read by the waiter after done
			}
			s.started = true
			s.seq++
			s.sentMu.Lock()
			s.sent++
			s.sentMu.Unlock()
		}
	}
	// The media clock runs whether or not we sent (RFC 3550 §5.1): after a
	// hold or an event the next audio timestamp jumps by the time elapsed.
	s.ts += frameSamples
	if finished {
		close(it.done)
	}
}

// enqueue queues it and waits until its last packet has been sent.
func (s *sender) enqueue(it *item) error {
	it.done = make(chan struct{})
	s.mu.Lock()
	select {
	case <-s.stopped:
		s.mu.Unlock()
		return ErrCallEnded
	default:
	}
	s.queue = append(s.queue, it)
	s.mu.Unlock()
	select {
	case <-it.done:
		return nil
	case <-s.stopped:
		return ErrCallEnded
	}
}

func (s *sender) sentCount() int {
	s.sentMu.Lock()
	defer s.sentMu.Unlock()
	return s.sent
}

// SendAudio queues 8 kHz PCM for sending, encoded in the negotiated law,
// and returns once it has all been sent. The last frame is padded with
// silence.
func (c *Call) SendAudio(pcm []int16) error {
	if len(pcm) == 0 {
		return nil
	}
	if err := c.tx.enqueue(&item{pcm: pcm}); err != nil {
		return fmt.Errorf("send audio: %w", err)
	}
	return nil
}

// SendTone sends a single sine at freqHz, -10 dBFS, for dur.
func (c *Call) SendTone(freqHz float64, dur time.Duration) error {
	return c.SendAudio(Sine(freqHz, toneLevel, dur))
}

// inbandGap is the silence after an in-band digit, so that two equal digits
// in a row are heard as two (ITU-T Q.24 asks receivers for 40 ms pauses).
const inbandGap = 60 * time.Millisecond

// SendDigitInband sends the two tones of digit, each at -10 dBFS, in the
// audio for dur, then 60 ms of silence, and returns once sent.
func (c *Call) SendDigitInband(digit byte, dur time.Duration) error {
	tone, err := DTMFTone(digit, dur)
	if err != nil {
		return fmt.Errorf("send in-band digit: %w", err)
	}
	tone = append(tone, make([]int16, samplesFor(inbandGap))...)
	return c.SendAudio(tone)
}

// SendDigit4733 sends digit as an RFC 4733 telephone event lasting dur: one
// packet per 20 ms with the same timestamp and a growing duration, the
// first with the marker bit, then three end packets. Audio resumes after it
// with a timestamp that jumped by the event's length. It returns once the
// last end packet is sent.
func (c *Call) SendDigit4733(digit byte, dur time.Duration) error {
	_, err := c.SendDigit4733Timed(digit, dur)
	return err
}

// SendDigit4733Timed is SendDigit4733 that also returns when the event's
// first packet was sent (the moment a gateway can act on the key; zero
// when that packet could not be sent). Like SendDigit4733 it returns once
// the last packet is out.
func (c *Call) SendDigit4733Timed(digit byte, dur time.Duration) (time.Time, error) {
	code, ok := eventCode(digit)
	if !ok {
		return time.Time{}, fmt.Errorf("send rfc 4733 digit %q: %w", digit, ErrBadDigit)
	}
	if m := c.Media(); !m.HasEvents {
		return time.Time{}, fmt.Errorf("send rfc 4733 digit: %w", ErrNoEvents)
	}
	if dur <= 0 || dur > maxEventDuration {
		return time.Time{}, fmt.Errorf("send rfc 4733 digit: duration %v outside (0, %v]", dur, maxEventDuration)
	}
	n := int((dur + framePeriod - 1) / framePeriod)
	it := &item{event: true, code: code, packets: n}
	if err := c.tx.enqueue(it); err != nil {
		return time.Time{}, fmt.Errorf("send rfc 4733 digit: %w", err)
	}
	return it.firstAt, nil
}

// SentPackets is the number of RTP packets the phone has sent.
func (c *Call) SentPackets() int { return c.tx.sentCount() }
