package media

import "sync/atomic"

// Playback is one Play request: its clips are sent frame by frame on the
// stream's pacer ticks.
type Playback struct {
	clips       []*Clip
	clip, frame int // position of the next frame; guarded by the stream's mu
	closed      bool
	done        chan struct{}
	interrupted atomic.Bool
}

// Done is closed when the last frame has been sent or the playback was
// stopped or replaced.
func (p *Playback) Done() <-chan struct{} { return p.done }

// Interrupted reports whether the playback ended before its last frame
// (StopPlayback, a new Play, or a bridge). Meaningful once Done is closed.
func (p *Playback) Interrupted() bool { return p.interrupted.Load() }

// Play sends clips one after the other, replacing (and interrupting) any
// current playback. The frames are the clips' own shared slices, never
// copied. Frames are taken for the stream's law (Clip.Frames).
func (s *Stream) Play(clips ...*Clip) *Playback {
	p := &Playback{clips: append([]*Clip(nil), clips...), done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx.play != nil {
		s.finish(s.tx.play, true)
	}
	s.tx.play = p
	if !s.advance(p) {
		s.finish(p, false) // nothing to play
	}
	return p
}

// StopPlayback stops the current playback at once (barge-in); the next
// tick sends silence.
func (s *Stream) StopPlayback() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tx.play != nil {
		s.finish(s.tx.play, true)
	}
}

// advance moves p past exhausted or empty clips; it reports whether a frame
// is left. mu held.
func (s *Stream) advance(p *Playback) bool {
	for p.clip < len(p.clips) {
		c := p.clips[p.clip]
		if c != nil && p.frame < len(c.Frames(s.law)) {
			return true
		}
		p.clip++
		p.frame = 0
	}
	return false
}

// nextFrame returns the next frame to send: the playback's, or silence.
// The playback ends as its last frame is taken, so a Play issued on Done
// follows without a silent gap. mu held.
func (s *Stream) nextFrame() []byte {
	p := s.tx.play
	if p == nil {
		return s.silence
	}
	f := p.clips[p.clip].Frames(s.law)[p.frame]
	p.frame++
	if !s.advance(p) {
		s.finish(p, false)
	}
	return f
}

// finish ends p once; mu held.
func (s *Stream) finish(p *Playback, interrupted bool) {
	if !p.closed {
		p.closed = true
		p.interrupted.Store(interrupted)
		close(p.done)
	}
	if s.tx.play == p {
		s.tx.play = nil
	}
}
