package prompts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ivrgw/ivrgw/media/g711"
)

// chunk builds one RIFF chunk, adding the pad byte an odd size needs.
func chunk(id string, body []byte) []byte {
	b := rawChunk(id, uint32(len(body)), body)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// rawChunk builds a chunk with any size field and no padding (for lies).
func rawChunk(id string, size uint32, body []byte) []byte {
	b := append([]byte(id), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], size)
	return append(b, body...)
}

func riff(chunks ...[]byte) []byte {
	body := []byte("WAVE")
	for _, c := range chunks {
		body = append(body, c...)
	}
	return rawChunk("RIFF", uint32(len(body)), body)
}

// fmtBody is a WAVEFORMATEX; cbSize is appended for non-PCM tags as sox does.
func fmtBody(tag, channels uint16, rate uint32, bits uint16) []byte {
	align := channels * bits / 8
	b := binary.LittleEndian.AppendUint16(nil, tag)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(align))
	b = binary.LittleEndian.AppendUint16(b, align)
	b = binary.LittleEndian.AppendUint16(b, bits)
	if tag != 1 {
		b = binary.LittleEndian.AppendUint16(b, 0)
	}
	return b
}

// extBody is a WAVEFORMATEXTENSIBLE whose SubFormat carries sub.
func extBody(sub uint16, channels uint16, rate uint32, bits uint16) []byte {
	b := fmtBody(1, channels, rate, bits)[:16]
	binary.LittleEndian.PutUint16(b[0:], formatExtensible)
	b = binary.LittleEndian.AppendUint16(b, 22)   // cbSize
	b = binary.LittleEndian.AppendUint16(b, bits) // valid bits
	b = binary.LittleEndian.AppendUint32(b, 4)    // SPEAKER_FRONT_CENTER
	b = binary.LittleEndian.AppendUint16(b, sub)
	return append(b, ksSubtypeTail...)
}

func pcmBytes(pcm []int16) []byte {
	b := make([]byte, 0, 2*len(pcm))
	for _, s := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

// testSignal is a 1000-sample chirp at -6 dBFS: not a whole number of
// frames, and wide enough in level and frequency to catch a wrong law.
func testSignal() []int16 {
	pcm := make([]int16, 1000)
	for i := range pcm {
		t := float64(i) / SampleRate
		pcm[i] = int16(16000 * math.Sin(2*math.Pi*(200+3000*t)*t))
	}
	return pcm
}

// snr is the signal-to-error ratio of got against want, in dB.
func snr(want, got []int16) float64 {
	var s, e float64
	for i := range want {
		d := float64(want[i]) - float64(got[i])
		s += float64(want[i]) * float64(want[i])
		e += d * d
	}
	if e == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(s/e)
}

func TestDecodeWAV(t *testing.T) {
	sig := testSignal()
	ulaw := g711.EncodeULaw(make([]byte, len(sig)), sig)
	alaw := g711.EncodeALaw(make([]byte, len(sig)), sig)
	list := chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00Lavf\x00")) // odd-sized, padded
	tests := []struct {
		name   string
		file   []byte
		enc    Encoding
		raw    []byte
		minSNR float64 // against sig
	}{
		{"pcm16", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", pcmBytes(sig))), EncodingPCM16, pcmBytes(sig), math.Inf(1)},
		{"ulaw", riff(chunk("fmt ", fmtBody(7, 1, 8000, 8)), chunk("fact", []byte{0xe8, 3, 0, 0}), chunk("data", ulaw)), EncodingULaw, ulaw, 30},
		{"alaw", riff(chunk("fmt ", fmtBody(6, 1, 8000, 8)), chunk("data", alaw)), EncodingALaw, alaw, 30},
		{"extensible pcm16", riff(chunk("fmt ", extBody(1, 1, 8000, 16)), chunk("data", pcmBytes(sig))), EncodingPCM16, pcmBytes(sig), math.Inf(1)},
		{"extensible ulaw", riff(chunk("fmt ", extBody(7, 1, 8000, 8)), chunk("data", ulaw)), EncodingULaw, ulaw, 30},
		{"extensible alaw", riff(chunk("fmt ", extBody(6, 1, 8000, 8)), chunk("data", alaw)), EncodingALaw, alaw, 30},
		{"odd chunks before and after fmt", riff(list, chunk("fmt ", fmtBody(7, 1, 8000, 8)), chunk("junk", []byte{1, 2, 3}), chunk("data", ulaw)), EncodingULaw, ulaw, 30},
		{"chunks after data ignored", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", pcmBytes(sig)), list), EncodingPCM16, pcmBytes(sig), math.Inf(1)},
		{"odd-length ulaw data with pad", riff(chunk("fmt ", fmtBody(7, 1, 8000, 8)), chunk("data", ulaw[:999])), EncodingULaw, ulaw[:999], 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := DecodeWAV(bytes.NewReader(tt.file))
			if err != nil {
				t.Fatalf("DecodeWAV() error = %v, want nil", err)
			}
			if a.Encoding != tt.enc {
				t.Errorf("DecodeWAV().Encoding = %v, want %v", a.Encoding, tt.enc)
			}
			if !bytes.Equal(a.Raw, tt.raw) {
				t.Errorf("DecodeWAV().Raw differs from the data chunk (len %d, want %d)", len(a.Raw), len(tt.raw))
			}
			want := sig[:len(a.PCM)]
			if got := snr(want, a.PCM); got < tt.minSNR {
				t.Errorf("DecodeWAV() SNR = %.1f dB, want >= %.1f dB", got, tt.minSNR)
			}
			switch tt.enc {
			case EncodingULaw:
				if want := g711.DecodeULaw(make([]int16, len(tt.raw)), tt.raw); !slices.Equal(a.PCM, want) {
					t.Errorf("DecodeWAV().PCM is not the μ-law decoding of the data")
				}
			case EncodingALaw:
				if want := g711.DecodeALaw(make([]int16, len(tt.raw)), tt.raw); !slices.Equal(a.PCM, want) {
					t.Errorf("DecodeWAV().PCM is not the A-law decoding of the data")
				}
			}
		})
	}
}

func TestDecodeWAVErrors(t *testing.T) {
	ufmt := chunk("fmt ", fmtBody(7, 1, 8000, 8))
	data := chunk("data", make([]byte, 320))
	badAlign := fmtBody(1, 1, 8000, 16)
	binary.LittleEndian.PutUint16(badAlign[12:], 4)
	badGUID := extBody(7, 1, 8000, 8)
	badGUID[len(badGUID)-1] ^= 0xff
	tests := []struct {
		name string
		file []byte
		is   error
		msg  string
		sox  bool // the error suggests the sox conversion
	}{
		{"empty", nil, ErrMalformed, "reading RIFF header", false},
		{"not riff", append([]byte("OggS\x00\x00\x00\x00WAVE"), data...), ErrMalformed, "not a RIFF/WAVE", true},
		{"riff but not wave", rawChunk("RIFF", 4, []byte("AVI ")), ErrMalformed, "not a RIFF/WAVE", true},
		{"missing fmt", riff(chunk("LIST", []byte("INFO"))), ErrMalformed, "no fmt chunk", false},
		{"missing fmt, odd chunk without pad", riff(rawChunk("LIST", 5, []byte("INFO!"))), ErrMalformed, "no fmt chunk", false},
		{"data before fmt", riff(data, ufmt), ErrMalformed, "data chunk before fmt", false},
		{"missing data", riff(ufmt), ErrMalformed, "no data chunk", false},
		{"missing data after odd chunk without pad", riff(ufmt, rawChunk("junk", 3, []byte{1, 2, 3})), ErrMalformed, "no data chunk", false},
		{"rate 16000", riff(chunk("fmt ", fmtBody(1, 1, 16000, 16)), data), ErrUnsupported, "sample rate 16000 Hz", true},
		{"rate 44100 ulaw", riff(chunk("fmt ", fmtBody(7, 1, 44100, 8)), data), ErrUnsupported, "sample rate 44100 Hz", true},
		{"stereo", riff(chunk("fmt ", fmtBody(1, 2, 8000, 16)), data), ErrUnsupported, "2 channels", true},
		{"8-bit pcm", riff(chunk("fmt ", fmtBody(1, 1, 8000, 8)), data), ErrUnsupported, "8-bit PCM", true},
		{"24-bit pcm", riff(chunk("fmt ", fmtBody(1, 1, 8000, 24)), data), ErrUnsupported, "24-bit PCM", true},
		{"float", riff(chunk("fmt ", fmtBody(3, 1, 8000, 32)), data), ErrUnsupported, "floating-point", true},
		{"extensible float", riff(chunk("fmt ", extBody(3, 1, 8000, 32)), data), ErrUnsupported, "floating-point", true},
		{"adpcm", riff(chunk("fmt ", fmtBody(2, 1, 8000, 4)), data), ErrUnsupported, "format 0x0002", true},
		{"16-bit ulaw", riff(chunk("fmt ", fmtBody(7, 1, 8000, 16)), data), ErrUnsupported, "ulaw with 16 bits", true},
		{"extensible unknown guid", riff(chunk("fmt ", badGUID), data), ErrUnsupported, "unknown subformat", true},
		{"extensible too short", riff(chunk("fmt ", extBody(7, 1, 8000, 8)[:30]), data), ErrMalformed, "EXTENSIBLE fmt chunk too short", false},
		{"fmt too short", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)[:8]), data), ErrMalformed, "fmt chunk of 8 bytes", false},
		{"fmt truncated", riff(rawChunk("fmt ", 16, fmtBody(1, 1, 8000, 16)[:10])), ErrMalformed, "reading fmt chunk", false},
		{"second fmt", riff(ufmt, ufmt, data), ErrMalformed, "second fmt chunk", false},
		{"bad block align", riff(chunk("fmt ", badAlign), data), ErrMalformed, "block align 4", false},
		{"truncated data", riff(ufmt, rawChunk("data", 1000, make([]byte, 500))), ErrMalformed, "header says 1000 bytes, file has 500", false},
		{"empty data", riff(ufmt, chunk("data", nil)), ErrMalformed, "data chunk is empty", false},
		{"odd pcm16 data", riff(chunk("fmt ", fmtBody(1, 1, 8000, 16)), chunk("data", make([]byte, 321))), ErrMalformed, "odd length", false},
		{"huge data size", riff(ufmt, rawChunk("data", 0xFFFFFFF0, make([]byte, 10))), ErrUnsupported, "limit", false},
		{"truncated unknown chunk", riff(ufmt, rawChunk("LIST", 100, []byte("INFO"))), ErrMalformed, `"LIST" chunk truncated`, false},
		{"truncated chunk header", append(riff(ufmt), 'd', 'a'), ErrMalformed, "reading chunk header", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := DecodeWAV(bytes.NewReader(tt.file))
			if err == nil {
				t.Fatalf("DecodeWAV() = %d samples, want error containing %q", len(a.PCM), tt.msg)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("DecodeWAV() error = %v, want errors.Is %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("DecodeWAV() error = %q, want it to contain %q", err, tt.msg)
			}
			if got := strings.Contains(err.Error(), SoxHint); got != tt.sox {
				t.Errorf("DecodeWAV() error %q mentions sox = %v, want %v", err, got, tt.sox)
			}
		})
	}
}
