package sdp

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// parse unmarshals a session description. A panic inside the third-party
// parser must not take the gateway down on hostile input, so it is turned
// into ErrMalformed.
func parse(b []byte) (sd *psdp.SessionDescription, err error) {
	defer func() {
		if r := recover(); r != nil {
			sd, err = nil, fmt.Errorf("%w: parser panic: %v", ErrMalformed, r)
		}
	}()
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	sd = &psdp.SessionDescription{}
	if err := sd.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return sd, nil
}

// rtpmap is one a=rtpmap line (RFC 4566 §6).
type rtpmap struct {
	name  string // upper-cased encoding name
	clock int
	fmtp  string
}

// formats maps payload type to its rtpmap/fmtp from the media attributes.
func formats(md *psdp.MediaDescription) map[uint8]rtpmap {
	m := make(map[uint8]rtpmap, 4)
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" && a.Key != "fmtp" {
			continue
		}
		ptStr, rest, ok := strings.Cut(strings.TrimSpace(a.Value), " ")
		if !ok {
			continue
		}
		pt, err := strconv.ParseUint(ptStr, 10, 7)
		if err != nil {
			continue
		}
		r := m[uint8(pt)]
		rest = strings.TrimSpace(rest)
		if a.Key == "fmtp" {
			r.fmtp = rest
		} else {
			name, clock, _ := strings.Cut(rest, "/")
			clock, _, _ = strings.Cut(clock, "/") // drop channels
			r.name = strings.ToUpper(name)
			r.clock, _ = strconv.Atoi(clock)
		}
		m[uint8(pt)] = r
	}
	return m
}

// codecOf returns the static G.711 codec behind payload type pt: the static
// assignment of RFC 3551 §6 when there is no rtpmap, else the rtpmap's name.
func codecOf(pt uint8, maps map[uint8]rtpmap) (uint8, bool) {
	r, ok := maps[pt]
	if !ok || r.name == "" {
		if pt == PCMU || pt == PCMA {
			return pt, true
		}
		return 0, false
	}
	if r.clock != 8000 {
		return 0, false
	}
	switch r.name {
	case "PCMU":
		return PCMU, true
	case "PCMA":
		return PCMA, true
	}
	return 0, false
}

// isRTPAVP reports whether an m-line is plain RTP/AVP (RFC 3551).
func isRTPAVP(md *psdp.MediaDescription) bool {
	return strings.EqualFold(strings.Join(md.MediaName.Protos, "/"), "RTP/AVP")
}

// audioStream reports whether an m-line is an enabled audio stream (RFC
// 3264 §5.1: port 0 marks a disabled stream); acceptProfile then says
// whether its profile suits us.
func audioStream(md *psdp.MediaDescription) bool {
	return strings.EqualFold(md.MediaName.Media, "audio") && md.MediaName.Port.Value != 0
}

// acceptProfile applies the SRTP policy to an offered audio m-line: plain
// RTP/AVP unless SRTP is required (its a=crypto lines, if any, ignored: an
// RTP/AVP stream is not encrypted, RFC 4568 §5), RTP/SAVP with a usable
// a=crypto unless SRTP is off. plain reports an RTP/AVP stream refused
// only because SRTP is required.
func acceptProfile(md *psdp.MediaDescription, mode SRTPMode) (c Crypto, ok, plain bool) {
	switch {
	case isRTPAVP(md):
		return Crypto{}, mode != SRTPRequired, mode == SRTPRequired
	case isSAVP(md) && mode != SRTPOff:
		c, ok := firstCrypto(md)
		return c, ok, false
	}
	return Crypto{}, false, false
}

// direction reads the media-level direction attribute, falling back to the
// session level, then to sendrecv (RFC 3264 §5.1).
func direction(sd *psdp.SessionDescription, md *psdp.MediaDescription) Direction {
	for _, attrs := range [][]psdp.Attribute{md.Attributes, sd.Attributes} {
		for _, a := range attrs {
			switch a.Key {
			case "sendrecv":
				return SendRecv
			case "sendonly":
				return SendOnly
			case "recvonly":
				return RecvOnly
			case "inactive":
				return Inactive
			}
		}
	}
	return SendRecv
}

// remote builds the remote RTP address from the media-level c= line, or the
// session-level one (RFC 4566 §5.7). Host names are refused: this package
// does no DNS.
func remote(sd *psdp.SessionDescription, md *psdp.MediaDescription) (netip.AddrPort, error) {
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return netip.AddrPort{}, fmt.Errorf("%w: no c= line for audio", ErrMalformed)
	}
	addr, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: c= address %q: %w", ErrMalformed, ci.Address.Address, err)
	}
	port := md.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("%w: m= port %d", ErrMalformed, port)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// describe fills the codec-independent parts of Media for one m-line.
func describe(sd *psdp.SessionDescription, md *psdp.MediaDescription, maps map[uint8]rtpmap) (Media, string, error) {
	var m Media
	var err error
	if m.Remote, err = remote(sd, md); err != nil {
		return Media{}, "", err
	}
	m.Direction = direction(sd, md)
	// RFC 3264 §8.4 hold is sendonly or inactive; RFC 2543 used c=0.0.0.0.
	m.Hold = m.Direction == SendOnly || m.Direction == Inactive || m.Remote.Addr().IsUnspecified()
	m.Ptime = 20
	if v, ok := md.Attribute("ptime"); ok {
		if p, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && p > 0 && p <= 1000 {
			m.Ptime = p
		}
	}
	// RFC 4733 §7.1.1: telephone-event at our 8000 Hz clock. The first one
	// listed in the m= line wins.
	evFmtp := ""
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		if r := maps[uint8(pt)]; r.name == "TELEPHONE-EVENT" && r.clock == 8000 {
			m.EventPT, m.HasEvents, evFmtp = uint8(pt), true, r.fmtp
			break
		}
	}
	return m, evFmtp, nil
}

// chooseCodec returns the first payload type in the m-line's order whose
// codec is one of ours.
func chooseCodec(md *psdp.MediaDescription, maps map[uint8]rtpmap, ours []uint8) (pt, codec uint8, ok bool) {
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		if c, known := codecOf(uint8(n), maps); known && slices.Contains(ours, c) {
			return uint8(n), c, true
		}
	}
	return 0, 0, false
}
