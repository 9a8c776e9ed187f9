package main

import (
	"net/netip"
	"strings"
	"testing"
)

func TestSDPAudioTarget(t *testing.T) {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	tests := []struct {
		name, sdp string
		want      string // "" when an error is wanted
	}{
		{"session c", crlf("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 30000 RTP/AVP 0\n"), "127.0.0.1:30000"},
		{"bare LF", "v=0\nc=IN IP4 127.0.0.2\nm=audio 4000 RTP/AVP 0\n", "127.0.0.2:4000"},
		{"media c overrides", "v=0\nc=IN IP4 127.0.0.1\nm=audio 4000 RTP/AVP 0\nc=IN IP4 127.0.0.3\n", "127.0.0.3:4000"},
		{"video first", "v=0\nc=IN IP4 127.0.0.1\nm=video 5000 RTP/AVP 96\nc=IN IP4 127.0.0.9\nm=audio 4002 RTP/AVP 0\n", "127.0.0.1:4002"},
		{"second audio ignored", "v=0\nc=IN IP4 127.0.0.1\nm=audio 4000 RTP/AVP 0\nm=audio 4100 RTP/AVP 0\nc=IN IP4 127.0.0.5\n", "127.0.0.1:4000"},
		{"ipv6", "v=0\nc=IN IP6 ::1\nm=audio 4000 RTP/AVP 0\n", "[::1]:4000"},
		{"rtpengine reply", crlf("v=0\no=relayload 3 1 IN IP4 127.0.0.1\ns=relayload\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 61002 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\na=sendrecv\na=rtcp:61003\na=ptime:20\n"), "127.0.0.1:61002"},
		{"no audio", "v=0\nc=IN IP4 127.0.0.1\nm=video 5000 RTP/AVP 96\n", ""},
		{"no c", "v=0\nm=audio 4000 RTP/AVP 0\n", ""},
		{"port zero", "v=0\nc=IN IP4 127.0.0.1\nm=audio 0 RTP/AVP 0\n", ""},
		{"port too big", "v=0\nc=IN IP4 127.0.0.1\nm=audio 70000 RTP/AVP 0\n", ""},
		{"host name", "v=0\nc=IN IP4 relay.example\nm=audio 4000 RTP/AVP 0\n", ""},
		{"bad c", "v=0\nc=IN\nm=audio 4000 RTP/AVP 0\n", ""},
		{"bad addrtype", "v=0\nc=IN X25 127.0.0.1\nm=audio 4000 RTP/AVP 0\n", ""},
		{"too many lines", strings.Repeat("a=x\n", 600) + "c=IN IP4 127.0.0.1\nm=audio 4000 RTP/AVP 0\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sdpAudioTarget(tt.sdp)
			if tt.want == "" {
				if err == nil {
					t.Errorf("sdpAudioTarget(%.60q) = %v, want an error", tt.sdp, got)
				}
				return
			}
			if err != nil || got != netip.MustParseAddrPort(tt.want) {
				t.Errorf("sdpAudioTarget(%.60q) = %v, %v, want %s", tt.sdp, got, err, tt.want)
			}
		})
	}
}

func TestLegSDPParsesBack(t *testing.T) {
	for _, ap := range []string{"127.0.0.1:40000", "[::1]:40002"} {
		want := netip.MustParseAddrPort(ap)
		sdp := legSDP(want.Addr(), want.Port(), 7)
		if got, err := sdpAudioTarget(sdp); err != nil || got != want {
			t.Errorf("sdpAudioTarget(legSDP(%v)) = %v, %v, want %v", want, got, err, want)
		}
		if !strings.Contains(sdp, "m=audio ") || !strings.HasSuffix(sdp, "\r\n") {
			t.Errorf("legSDP(%v) = %q, want CRLF lines with m=audio", want, sdp)
		}
	}
}
