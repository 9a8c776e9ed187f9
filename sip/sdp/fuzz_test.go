package sdp

import (
	"errors"
	"testing"

	psdp "github.com/pion/sdp/v3"
)

// FuzzNegotiate checks that any offer either fails with one of our two
// errors or yields an answer that parses, is small, and reads back.
func FuzzNegotiate(f *testing.F) {
	for _, s := range [][]byte{offerBaresip, offerLinphone, offerZoiper, offerTrunkPCMA, offerVideoFirst, hold("a=inactive\r\n", "0.0.0.0")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, offer []byte) {
		answer, m, err := Negotiate(offer, local)
		if err != nil {
			if !errors.Is(err, ErrNoCommonCodec) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Negotiate() error = %v, want ErrNoCommonCodec or ErrMalformed", err)
			}
			return
		}
		if m.Codec != PCMU && m.Codec != PCMA {
			t.Fatalf("Negotiate() codec = %d, want 0 or 8", m.Codec)
		}
		if len(answer) > 1000 {
			t.Fatalf("Negotiate() answer is %d bytes, want <= 1000", len(answer))
		}
		var sd psdp.SessionDescription
		if err := sd.Unmarshal(answer); err != nil {
			t.Fatalf("answer does not parse: %v\n%q", err, answer)
		}
		if _, err := ParseAnswer(answer, local); err != nil {
			t.Fatalf("ParseAnswer(answer) error = %v\n%q", err, answer)
		}
	})
}
