package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// legSDP is a leg's SDP: PCMU and telephone-event, 20 ms, at addr:port.
func legSDP(addr netip.Addr, port uint16, sessID int) string {
	ipv := "IP4"
	if addr.Is6() && !addr.Is4In6() {
		ipv = "IP6"
	}
	a := addr.Unmap().String()
	var b strings.Builder
	b.WriteString("v=0\r\n")
	fmt.Fprintf(&b, "o=relayload %d 1 IN %s %s\r\n", sessID, ipv, a)
	b.WriteString("s=relayload\r\n")
	fmt.Fprintf(&b, "c=IN %s %s\r\n", ipv, a)
	b.WriteString("t=0 0\r\n")
	fmt.Fprintf(&b, "m=audio %d RTP/AVP 0 101\r\n", port)
	b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
	b.WriteString("a=rtpmap:101 telephone-event/8000\r\n")
	b.WriteString("a=fmtp:101 0-16\r\n")
	b.WriteString("a=ptime:20\r\n")
	b.WriteString("a=sendrecv\r\n")
	return b.String()
}

// sdpAudioTarget returns the address and port of the first m=audio
// stream: a media-level c= overrides the session-level one. It is how the
// tool learns the relay port rtpengine picked for a leg.
func sdpAudioTarget(sdp string) (netip.AddrPort, error) {
	var sessC, mediaC string
	port := -1
	inAudio, inMedia := false, false
	lines := strings.Split(sdp, "\n")
	if len(lines) > 500 {
		return netip.AddrPort{}, fmt.Errorf("sdp: %d lines", len(lines))
	}
scan:
	for _, l := range lines {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasPrefix(l, "m="):
			if inAudio {
				break scan // the next media section
			}
			inMedia = true
			f := strings.Fields(l[2:])
			if len(f) >= 2 && f[0] == "audio" {
				p, err := strconv.Atoi(f[1])
				if err != nil || p <= 0 || p > 65535 {
					return netip.AddrPort{}, fmt.Errorf("sdp: bad port in %q", l)
				}
				port = p
				inAudio = true
			}
		case strings.HasPrefix(l, "c="):
			f := strings.Fields(l[2:])
			if len(f) < 3 || f[0] != "IN" || (f[1] != "IP4" && f[1] != "IP6") {
				return netip.AddrPort{}, fmt.Errorf("sdp: bad %q", l)
			}
			// RFC 8866 §5.7: a media-level c= overrides the session's; a
			// c= inside some other media section (video before audio)
			// belongs to that section only.
			switch {
			case inAudio:
				mediaC = f[2]
			case !inMedia:
				sessC = f[2]
			}
		}
	}
	if port < 0 {
		return netip.AddrPort{}, fmt.Errorf("sdp: no m=audio line")
	}
	c := mediaC
	if c == "" {
		c = sessC
	}
	if c == "" {
		return netip.AddrPort{}, fmt.Errorf("sdp: no c= line")
	}
	a, err := netip.ParseAddr(c)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("sdp: c= %q: %v", c, err)
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}
