package sdp

import (
	"errors"
	"net/netip"
	"testing"
)

func TestOfferedAddr(t *testing.T) {
	for _, tc := range []struct {
		name, offer string
		want        string // "" wants an error
	}{
		{"session c=", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", "192.0.2.7"},
		{"media c= wins", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 198.51.100.3\r\n", "198.51.100.3"},
		{"video first", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP6 2001:db8::5\r\n", "2001:db8::5"},
		{"refused audio skipped", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.10\r\n", "192.0.2.10"},
		{"no audio", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n", ""},
		{"host name", "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 pbx.example\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", ""},
		{"garbage", "hello", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OfferedAddr([]byte(tc.offer))
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrMalformed) {
					t.Fatalf("OfferedAddr = %v, %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil || got != netip.MustParseAddr(tc.want) {
				t.Fatalf("OfferedAddr = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}
