package sdp

import (
	"fmt"
	"strconv"
	"strings"
)

// maxMediaLines bounds the m-lines of an offer we answer.
const maxMediaLines = 8

// Negotiate answers an offer (RFC 3264 §6). The first enabled RTP/AVP audio
// stream with a codec in local.Codecs is accepted with the first such codec
// in the offer's order; every other m-line is refused with port 0 in the
// same position (RFC 3264 §6). The offer's telephone-event payload type is
// mirrored whatever its number, with its fmtp. Our direction mirrors the
// offered one (§6.1). m describes the remote side as offered.
//
// Errors wrap ErrNoCommonCodec (answer 488) or ErrMalformed (answer 400).
func Negotiate(offer []byte, local Local) (answer []byte, m Media, err error) {
	if err := local.validate(); err != nil {
		return nil, Media{}, err
	}
	sd, err := parse(offer)
	if err != nil {
		return nil, Media{}, err
	}
	if len(sd.MediaDescriptions) > maxMediaLines {
		// Every refused m-line is echoed in the answer; bound it so a
		// hostile offer cannot make a 2xx too big for UDP.
		return nil, Media{}, fmt.Errorf("%w: %d m-lines", ErrNoCommonCodec, len(sd.MediaDescriptions))
	}
	chosen, evFmtp := -1, ""
	var firstErr error
	var crypto Crypto
	plainRefused := false
	for i, md := range sd.MediaDescriptions {
		if !audioStream(md) {
			continue
		}
		c, ok, plain := acceptProfile(md, local.SRTP)
		if !ok {
			plainRefused = plainRefused || plain
			continue
		}
		maps := formats(md)
		pt, codec, ok := chooseCodec(md, maps, local.Codecs)
		if !ok {
			continue
		}
		mm, fm, err := describe(sd, md, maps)
		if err != nil {
			// A later audio stream may still be usable; remember why this one was not.
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		mm.PayloadType, mm.Codec = pt, codec
		chosen, m, evFmtp, crypto = i, mm, fm, c
		break
	}
	if chosen < 0 {
		if firstErr != nil {
			return nil, Media{}, firstErr
		}
		if plainRefused {
			return nil, Media{}, fmt.Errorf("%w: offer has no RTP/SAVP audio stream with a usable a=crypto", ErrSRTPRequired)
		}
		return nil, Media{}, fmt.Errorf("%w: offer has %d m-lines, none audio with PCMU/PCMA", ErrNoCommonCodec, len(sd.MediaDescriptions))
	}

	var b strings.Builder
	b.Grow(256)
	writeSession(&b, local)
	for i, md := range sd.MediaDescriptions {
		if i != chosen {
			// RFC 3264 §6: a refused stream keeps its place, port 0, and
			// lists at least one of the offered formats.
			f := "0"
			if len(md.MediaName.Formats) > 0 {
				f = md.MediaName.Formats[0]
			}
			fmt.Fprintf(&b, "m=%s 0 %s %s\r\n", token(md.MediaName.Media, "audio"),
				token(strings.Join(md.MediaName.Protos, "/"), "RTP/AVP"), token(f, "0"))
			continue
		}
		if evFmtp == "" || token(evFmtp, "") == "" {
			evFmtp = "0-15" // RFC 4733 §2.4.1: the default when fmtp is absent
		}
		ours := ""
		if crypto.Suite != "" {
			// RFC 4568 §7.1.2: the same tag and suite, our own fresh key.
			ours = Crypto{Tag: crypto.Tag, Suite: crypto.Suite, Key: local.Key}.String()
			m.SRTP = &SRTP{Suite: crypto.Suite, RemoteKey: crypto.Key, LocalKey: local.Key}
		}
		writeAudio(&b, local.Port, m.PayloadType, m.Codec, m.HasEvents, m.EventPT, evFmtp, m.Direction.Reverse(), ours)
	}
	return []byte(b.String()), m, nil
}

// Offer builds our offer for a delayed-offer INVITE (RFC 3261 §13.2.1: the
// offer goes in the 2xx, the answer comes in the ACK): all our codecs plus
// telephone-event 101 with events 0-16.
func Offer(local Local) []byte {
	var b strings.Builder
	b.Grow(256)
	writeSession(&b, local)
	proto := "RTP/AVP"
	if local.SRTP == SRTPRequired {
		proto = "RTP/SAVP"
	}
	fmt.Fprintf(&b, "m=audio %d %s", local.Port, proto)
	for _, c := range local.Codecs {
		b.WriteString(" " + strconv.Itoa(int(c)))
	}
	fmt.Fprintf(&b, " %d\r\n", DefaultEventPT)
	for _, c := range local.Codecs {
		if name := codecName(c); name != "" {
			fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", c, name)
		}
	}
	fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\na=ptime:20\r\na=sendrecv\r\n", DefaultEventPT, DefaultEventPT)
	if local.SRTP == SRTPRequired {
		// One suite, one tag; optional offers plain RTP/AVP (crypto.go).
		fmt.Fprintf(&b, "a=crypto:%s\r\n", Crypto{Tag: offerTag, Suite: SuiteAES128SHA1_80, Key: local.Key})
	}
	return []byte(b.String())
}

// ParseAnswer reads the answer to our Offer (in the ACK of a delayed-offer
// call, or in the 2xx of an outbound leg). The answer should list one codec;
// the first of ours in its order is taken.
func ParseAnswer(answer []byte, local Local) (Media, error) {
	sd, err := parse(answer)
	if err != nil {
		return Media{}, err
	}
	plainRefused := false
	for _, md := range sd.MediaDescriptions {
		if !audioStream(md) {
			continue
		}
		// We offered RTP/SAVP only when SRTP is required, RTP/AVP otherwise:
		// the answer must keep the profile (RFC 3264 §6).
		var crypto Crypto
		if local.SRTP == SRTPRequired {
			c, ok := cryptoWithTag(md, offerTag)
			if !isSAVP(md) || !ok {
				plainRefused = true
				continue
			}
			crypto = c
		} else if !isRTPAVP(md) {
			continue
		}
		maps := formats(md)
		pt, codec, ok := chooseCodec(md, maps, local.Codecs)
		if !ok {
			continue
		}
		m, _, err := describe(sd, md, maps)
		if err != nil {
			return Media{}, err
		}
		m.PayloadType, m.Codec = pt, codec
		if crypto.Suite != "" {
			m.SRTP = &SRTP{Suite: crypto.Suite, RemoteKey: crypto.Key, LocalKey: local.Key}
		}
		return m, nil
	}
	if plainRefused {
		return Media{}, fmt.Errorf("%w: answer has no RTP/SAVP audio stream with our a=crypto tag", ErrSRTPRequired)
	}
	return Media{}, fmt.Errorf("%w: answer accepts no audio stream with our codecs", ErrNoCommonCodec)
}

func codecName(c uint8) string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return ""
}

func addrType(l Local) string {
	if l.Addr.Is4() || l.Addr.Is4In6() {
		return "IP4"
	}
	return "IP6"
}

// writeSession writes the session-level lines; c= is given once here for
// every stream (RFC 4566 §5.7).
func writeSession(b *strings.Builder, l Local) {
	at, a := addrType(l), l.Addr.Unmap().String()
	fmt.Fprintf(b, "v=0\r\no=- %d %d IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n", l.SessionID, l.Version, at, a, at, a)
}

func writeAudio(b *strings.Builder, port int, pt, codec uint8, events bool, evPT uint8, evFmtp string, dir Direction, crypto string) {
	proto := "RTP/AVP"
	if crypto != "" {
		proto = "RTP/SAVP"
	}
	fmt.Fprintf(b, "m=audio %d %s %d", port, proto, pt)
	if events {
		fmt.Fprintf(b, " %d", evPT)
	}
	fmt.Fprintf(b, "\r\na=rtpmap:%d %s/8000\r\n", pt, codecName(codec))
	if events {
		fmt.Fprintf(b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d %s\r\n", evPT, evPT, evFmtp)
	}
	fmt.Fprintf(b, "a=ptime:20\r\na=%s\r\n", dir)
	if crypto != "" {
		fmt.Fprintf(b, "a=crypto:%s\r\n", crypto)
	}
}

// token returns s if it is a non-empty run of SDP token characters (RFC 4566
// §9, plus '/' and ',' for protos and event lists), else fallback. Values
// echoed from an offer go through it so a crafted offer cannot inject lines
// into our answer.
func token(s, fallback string) string {
	if s == "" || len(s) > 64 {
		return fallback
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case strings.IndexByte("!#$%&'*+-.^_`{|}~/,", c) >= 0:
		default:
			return fallback
		}
	}
	return s
}
