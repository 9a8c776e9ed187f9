package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Key-to-prompt: a caller presses -key some time into the call, and the
// tool times the gateway's reply, the prompt -key-reply names, from the
// key's first RFC 4733 packet leaving to the reply's first packet arriving.
//
// The reply is found by its samples, not by "some sound": the gateway sends
// packets all the time (menu speech, silence), so only the reply's own
// bytes tell its start. Prompts begin with silence (prompts/generate.sh
// pads 100 ms), which looks like any other silence, so the tool matches
// the first frame that is not pure silence, frame k of the prompt, and
// counts its arrival minus k × 20 ms as the reply's first packet. That
// holds while the gateway paces its frames (lateness is reported apart).

const (
	frameLen    = 160 // G.711 bytes per 20 ms frame
	framePeriod = 20 * time.Millisecond
	ulawSilence = 0xFF // μ-law code of 0 (G.711 table 2a)
	maxWAV      = 4 << 20
)

// replyPrompt is the prompt a key press starts, as the gateway frames it.
type replyPrompt struct {
	name  string
	first []byte // frame lead: the first frame holding anything but silence
	lead  int    // frames of pure silence before it
}

// loadReply reads a μ-law WAV prompt (8 kHz mono, the gateway's format).
func loadReply(path string) (*replyPrompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key reply: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxWAV+1))
	if err != nil {
		return nil, fmt.Errorf("key reply %s: %w", path, err)
	}
	if len(b) > maxWAV {
		return nil, fmt.Errorf("key reply %s: larger than %d bytes", path, maxWAV)
	}
	samples, err := parseULawWAV(b)
	if err != nil {
		return nil, fmt.Errorf("key reply %s: %w", path, err)
	}
	r, err := newReply(samples)
	if err != nil {
		return nil, fmt.Errorf("key reply %s: %w", path, err)
	}
	r.name = path
	return r, nil
}

func newReply(samples []byte) (*replyPrompt, error) {
	for k := 0; (k+1)*frameLen <= len(samples); k++ {
		f := samples[k*frameLen : (k+1)*frameLen]
		if bytes.Count(f, []byte{ulawSilence}) != frameLen {
			return &replyPrompt{first: f, lead: k}, nil
		}
	}
	return nil, errors.New("no frame with sound in it")
}

// parseULawWAV returns the samples of a RIFF WAVE file holding 8 kHz mono
// G.711 μ-law (format tag 7, 8 bits per sample).
func parseULawWAV(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF WAVE file")
	}
	var fmtOK bool
	for rest := b[12:]; len(rest) >= 8; {
		id, size := string(rest[0:4]), binary.LittleEndian.Uint32(rest[4:8])
		rest = rest[8:]
		if uint64(size) > uint64(len(rest)) {
			return nil, fmt.Errorf("chunk %q: %d bytes, %d left", id, size, len(rest))
		}
		body := rest[:size]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, errors.New("fmt chunk shorter than 16 bytes")
			}
			tag := binary.LittleEndian.Uint16(body[0:2])
			ch := binary.LittleEndian.Uint16(body[2:4])
			rate := binary.LittleEndian.Uint32(body[4:8])
			bits := binary.LittleEndian.Uint16(body[14:16])
			if tag != 7 || ch != 1 || rate != 8000 || bits != 8 {
				return nil, fmt.Errorf("format %d, %d channels, %d Hz, %d bits: want μ-law (7), mono, 8000 Hz, 8 bits", tag, ch, rate, bits)
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return nil, errors.New("data chunk before the fmt chunk")
			}
			return body, nil
		}
		rest = rest[size:]
		if size%2 == 1 && len(rest) > 0 { // chunks are padded to even sizes
			rest = rest[1:]
		}
	}
	return nil, errors.New("no data chunk")
}

// keyWatch waits, on one call, for the reply to a key press.
type keyWatch struct {
	reply *replyPrompt

	mu    sync.Mutex
	armed bool
	since time.Time
	start time.Time      // the reply's first packet, reconstructed
	heard chan time.Time // gets start, once
}

func newKeyWatch(r *replyPrompt) *keyWatch {
	return &keyWatch{reply: r, heard: make(chan time.Time, 1)}
}

// arm starts looking at packets that arrive from now on.
func (w *keyWatch) arm(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed, w.since = true, now
}

// onAudio is the phone's testphone.Config.OnAudio.
func (w *keyWatch) onAudio(at time.Time, pt uint8, payload []byte) {
	if pt != 0 { // the reply file is μ-law; -key calls offer PCMU only
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.armed || at.Before(w.since) || !bytes.Equal(payload, w.reply.first) {
		return
	}
	w.armed = false
	w.start = at.Add(-time.Duration(w.reply.lead) * framePeriod)
	w.heard <- w.start // buffered, sent once
}

// replyStart is when the reply's first packet arrived (zero before).
func (w *keyWatch) replyStart() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.start
}
