package prompts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ivrgw/ivrgw/media/g711"
)

// Encoding is the WAVE format tag of the samples in a data chunk
// (RFC 2361 appendix A lists the registered tags).
type Encoding uint16

// The encodings DecodeWAV accepts.
const (
	EncodingPCM16 Encoding = 0x0001 // WAVE_FORMAT_PCM, 16 bits a sample
	EncodingALaw  Encoding = 0x0006 // WAVE_FORMAT_ALAW
	EncodingULaw  Encoding = 0x0007 // WAVE_FORMAT_MULAW
)

func (e Encoding) String() string {
	switch e {
	case EncodingPCM16:
		return "pcm16"
	case EncodingALaw:
		return "alaw"
	case EncodingULaw:
		return "ulaw"
	}
	return fmt.Sprintf("format 0x%04x", uint16(e))
}

const (
	formatIEEEFloat  = 0x0003
	formatExtensible = 0xFFFE

	// SampleRate is the only rate a prompt may have: G.711 is 8 kHz (RFC 3551 §4.5.14).
	SampleRate = 8000

	// MaxDataBytes bounds one data chunk (10 minutes of 16-bit audio) so a
	// corrupt size field cannot make the loader allocate gigabytes.
	MaxDataBytes = 10 * 60 * SampleRate * 2
)

// ksSubtypeTail is bytes 2..15 of every KSDATAFORMAT_SUBTYPE GUID built from
// a format tag (xxxx0000-0000-0010-8000-00aa00389b71): WAVE_FORMAT_EXTENSIBLE
// carries the real tag in the GUID's first two bytes.
var ksSubtypeTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// SoxHint is the conversion DecodeWAV's errors suggest for a file it refuses.
const SoxHint = "sox IN.wav -r 8000 -c 1 -e u-law -b 8 OUT.wav"

var (
	// ErrMalformed: the file is not a well-formed RIFF/WAVE file (or is cut short).
	ErrMalformed = errors.New("malformed wav")
	// ErrUnsupported: a well-formed WAV in a format the gateway does not play.
	ErrUnsupported = errors.New("unsupported wav")
)

// Audio is a decoded WAV file.
type Audio struct {
	Encoding Encoding
	// Raw is the data chunk as stored: for μ-law and A-law one byte a
	// sample, which framing keeps as it is for the matching law.
	Raw []byte
	// PCM is the linear 16-bit signal.
	PCM []int16
}

// DecodeWAV reads a RIFF/WAVE file holding 8000 Hz mono audio as 16-bit PCM,
// μ-law or A-law, plain or as WAVE_FORMAT_EXTENSIBLE. Chunks other than fmt
// and data (LIST, fact, cue...) are skipped, including their pad byte when
// their size is odd. Anything else is an error wrapping ErrMalformed or
// ErrUnsupported that names the problem and the sox command to convert.
func DecodeWAV(r io.Reader) (*Audio, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: reading RIFF header: %w", ErrMalformed, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		// RIFX (big-endian) and RF64 exist but no prompt tool writes them by default.
		return nil, fmt.Errorf("%w: not a RIFF/WAVE file (starts %q); convert with: %s", ErrMalformed, hdr[0:4], SoxHint)
	}
	// The RIFF size is not checked: writers that stream (sox to a pipe)
	// leave it 0 or 0xFFFFFFFF, and the chunk sizes below are what matter.

	var (
		enc    Encoding
		haveFm bool
	)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, missingChunk(haveFm)
			}
			return nil, fmt.Errorf("%w: reading chunk header: %w", ErrMalformed, err)
		}
		id := string(ch[0:4])
		size := binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if haveFm {
				return nil, fmt.Errorf("%w: second fmt chunk", ErrMalformed)
			}
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrMalformed, size)
			}
			body := make([]byte, size)
			if _, err := io.ReadFull(r, body); err != nil {
				return nil, fmt.Errorf("%w: reading fmt chunk: %w", ErrMalformed, err)
			}
			var err error
			if enc, err = parseFmt(body); err != nil {
				return nil, err
			}
			haveFm = true
			if err := skipPad(r, size); err != nil {
				return nil, err
			}
		case "data":
			if !haveFm {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk (no fmt)", ErrMalformed)
			}
			return readData(r, enc, size)
		default:
			// RIFF chunks are word-aligned: an odd-sized body is followed
			// by one pad byte that the size does not count.
			n := int64(size) + int64(size&1)
			if got, err := io.CopyN(io.Discard, r, n); err != nil {
				if errors.Is(err, io.EOF) && got == int64(size) {
					// Only the pad byte is missing, and the file ends here.
					return nil, missingChunk(haveFm)
				}
				return nil, fmt.Errorf("%w: %q chunk truncated: %w", ErrMalformed, id, err)
			}
		}
	}
}

// missingChunk is the error for a file that ended before its audio.
func missingChunk(haveFmt bool) error {
	if !haveFmt {
		return fmt.Errorf("%w: no fmt chunk", ErrMalformed)
	}
	return fmt.Errorf("%w: no data chunk", ErrMalformed)
}

func skipPad(r io.Reader, size uint32) error {
	if size&1 == 0 {
		return nil
	}
	var b [1]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("%w: missing pad byte after chunk: %w", ErrMalformed, err)
	}
	return nil
}

// parseFmt checks a fmt chunk body (WAVEFORMATEX, optionally WAVEFORMATEXTENSIBLE).
func parseFmt(b []byte) (Encoding, error) {
	tag := binary.LittleEndian.Uint16(b[0:2])
	channels := binary.LittleEndian.Uint16(b[2:4])
	rate := binary.LittleEndian.Uint32(b[4:8])
	blockAlign := binary.LittleEndian.Uint16(b[12:14])
	bits := binary.LittleEndian.Uint16(b[14:16])

	if tag == formatExtensible {
		// cbSize (2) + wValidBitsPerSample (2) + dwChannelMask (4) + SubFormat GUID (16).
		if len(b) < 40 || binary.LittleEndian.Uint16(b[16:18]) < 22 {
			return 0, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk too short (%d bytes)", ErrMalformed, len(b))
		}
		guid := b[24:40]
		if !bytes.Equal(guid[2:], ksSubtypeTail) {
			return 0, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE with unknown subformat %x; convert with: %s", ErrUnsupported, guid, SoxHint)
		}
		tag = binary.LittleEndian.Uint16(guid[0:2])
	}

	enc := Encoding(tag)
	switch {
	case tag == formatIEEEFloat:
		return 0, fmt.Errorf("%w: floating-point samples; convert with: %s", ErrUnsupported, SoxHint)
	case enc != EncodingPCM16 && enc != EncodingULaw && enc != EncodingALaw:
		return 0, fmt.Errorf("%w: %v encoding (want 16-bit PCM, u-law or A-law); convert with: %s", ErrUnsupported, enc, SoxHint)
	case channels != 1:
		return 0, fmt.Errorf("%w: %d channels, want mono; convert with: %s", ErrUnsupported, channels, SoxHint)
	case rate != SampleRate:
		return 0, fmt.Errorf("%w: sample rate %d Hz, want 8000 Hz; convert with: %s", ErrUnsupported, rate, SoxHint)
	case enc == EncodingPCM16 && bits != 16:
		return 0, fmt.Errorf("%w: %d-bit PCM, want 16-bit; convert with: %s", ErrUnsupported, bits, SoxHint)
	case enc != EncodingPCM16 && bits != 8:
		return 0, fmt.Errorf("%w: %v with %d bits a sample, want 8; convert with: %s", ErrUnsupported, enc, bits, SoxHint)
	case blockAlign != bits/8:
		return 0, fmt.Errorf("%w: block align %d for %d-bit mono", ErrMalformed, blockAlign, bits)
	}
	return enc, nil
}

func readData(r io.Reader, enc Encoding, size uint32) (*Audio, error) {
	if size > MaxDataBytes {
		return nil, fmt.Errorf("%w: data chunk of %d bytes is longer than the %d-byte limit (or its size field is bogus)", ErrUnsupported, size, MaxDataBytes)
	}
	if size == 0 {
		return nil, fmt.Errorf("%w: data chunk is empty", ErrMalformed)
	}
	// Read through a limit rather than allocating size up front: a lying
	// size field then costs only what the file really holds.
	raw, err := io.ReadAll(io.LimitReader(r, int64(size)))
	if err != nil {
		return nil, fmt.Errorf("%w: reading data chunk: %w", ErrMalformed, err)
	}
	if len(raw) != int(size) {
		return nil, fmt.Errorf("%w: data chunk truncated: header says %d bytes, file has %d", ErrMalformed, size, len(raw))
	}
	a := &Audio{Encoding: enc, Raw: raw}
	switch enc {
	case EncodingPCM16:
		if len(raw)%2 != 0 {
			return nil, fmt.Errorf("%w: 16-bit data chunk has an odd length (%d bytes)", ErrMalformed, len(raw))
		}
		a.PCM = make([]int16, len(raw)/2)
		for i := range a.PCM {
			a.PCM[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case EncodingULaw:
		a.PCM = g711.DecodeULaw(make([]int16, len(raw)), raw)
	case EncodingALaw:
		a.PCM = g711.DecodeALaw(make([]int16, len(raw)), raw)
	}
	return a, nil
}
