package media

import "time"

// FrameSamples is the number of 8 kHz samples in one 20 ms G.711 frame.
const FrameSamples = 160

// FrameDuration is the packetisation time used on every stream (ptime 20).
const FrameDuration = 20 * time.Millisecond

// Clip is a piece of audio cut into 20 ms frames for both G.711 laws.
// Clips are built once (by package prompts) and shared read-only by all
// calls: a stream points at the frames, it never copies them.
type Clip struct {
	Name string
	ULaw [][]byte // 160-byte PCMU frames
	ALaw [][]byte // 160-byte PCMA frames
}

// Frames returns the frames for payload type pt (0 PCMU, 8 PCMA).
func (c *Clip) Frames(pt uint8) [][]byte {
	if pt == 8 {
		return c.ALaw
	}
	return c.ULaw
}

// Duration is the clip's playing time.
func (c *Clip) Duration() time.Duration {
	return time.Duration(len(c.ULaw)) * FrameDuration
}
