package main

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// wav builds a RIFF WAVE file: a fmt chunk with the given fields, then data.
func wav(tag, channels uint16, rate uint32, bits uint16, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+8+16+8+len(data)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, tag)
	binary.Write(&b, binary.LittleEndian, channels)
	binary.Write(&b, binary.LittleEndian, rate)
	binary.Write(&b, binary.LittleEndian, rate*uint32(bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(bits/8))
	binary.Write(&b, binary.LittleEndian, bits)
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

func TestParseULawWAV(t *testing.T) {
	data := bytes.Repeat([]byte{0x12}, 480)
	got, err := parseULawWAV(wav(7, 1, 8000, 8, data))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("parseULawWAV(μ-law) = %d bytes, %v, want the %d data bytes", len(got), err, len(data))
	}
	for name, tc := range map[string]struct {
		file []byte
		want string
	}{
		"pcm16":     {wav(1, 1, 8000, 16, data), "want μ-law"},
		"a-law":     {wav(6, 1, 8000, 8, data), "want μ-law"},
		"stereo":    {wav(7, 2, 8000, 8, data), "want μ-law"},
		"16 kHz":    {wav(7, 1, 16000, 8, data), "want μ-law"},
		"truncated": {wav(7, 1, 8000, 8, data)[:100], "bytes, "},
		"not riff":  {[]byte("hello, world"), "not a RIFF"},
		"no data":   {wav(7, 1, 8000, 8, nil)[:36], "no data chunk"},
	} {
		if _, err := parseULawWAV(tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseULawWAV(%s) = %v, want an error containing %q", name, err, tc.want)
		}
	}
}

// The shipped prompts start with 100 ms of silence (prompts/generate.sh):
// the reply's first sound is frame 5.
func TestLoadReplyShippedPrompt(t *testing.T) {
	r, err := loadReply("../../prompts/audio/en/order_status.wav")
	if err != nil {
		t.Fatal(err)
	}
	if r.lead != 5 || len(r.first) != frameLen || r.first[0] == ulawSilence {
		t.Errorf("order_status: lead %d frames, first frame %d bytes starting %#x; want 5, 160, not silence", r.lead, len(r.first), r.first[0])
	}
	if _, err := newReply(bytes.Repeat([]byte{ulawSilence}, 800)); err == nil {
		t.Error("newReply(silence only) accepted")
	}
}

func TestKeyWatch(t *testing.T) {
	silence := bytes.Repeat([]byte{ulawSilence}, frameLen)
	sound := bytes.Repeat([]byte{0x20}, frameLen)
	other := bytes.Repeat([]byte{0x21}, frameLen)
	w := newKeyWatch(&replyPrompt{first: sound, lead: 5})
	t0 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	w.onAudio(t0, 0, sound) // before arming: ignored
	w.arm(t0.Add(time.Second))
	w.onAudio(t0.Add(500*time.Millisecond), 0, sound) // arrived before the key
	w.onAudio(t0.Add(1100*time.Millisecond), 0, silence)
	w.onAudio(t0.Add(1120*time.Millisecond), 0, other)
	w.onAudio(t0.Add(1140*time.Millisecond), 8, sound) // A-law: not the file's bytes
	select {
	case <-w.heard:
		t.Fatal("heard the reply in silence, other audio, a packet from before the key or A-law")
	default:
	}
	w.onAudio(t0.Add(1200*time.Millisecond), 0, sound)
	w.onAudio(t0.Add(1300*time.Millisecond), 0, sound) // a second match changes nothing
	select {
	case <-w.heard:
	default:
		t.Fatal("reply not heard")
	}
	if got, want := w.replyStart(), t0.Add(1100*time.Millisecond); !got.Equal(want) {
		t.Errorf("replyStart() = %v, want %v (the sound frame's arrival minus 5 frames)", got, want)
	}
}

func FuzzParseULawWAV(f *testing.F) {
	f.Add(wav(7, 1, 8000, 8, bytes.Repeat([]byte{1}, 320)))
	f.Add(wav(1, 2, 44100, 16, []byte{1, 2, 3}))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		data, err := parseULawWAV(b)
		if err == nil && len(data) > len(b) {
			t.Fatalf("data of %d bytes from a %d-byte file", len(data), len(b))
		}
	})
}
