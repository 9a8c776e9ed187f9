package testphone

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	isdp "github.com/ivrgw/ivrgw/sip/sdp"
)

// Direction is an SDP media direction attribute (RFC 3264 §5.1).
type Direction string

// The four directions of RFC 3264 §5.1.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// ErrNoCommonCodec is returned when the remote side's SDP holds none of the
// phone's codecs.
var ErrNoCommonCodec = errors.New("no common codec")

// Media is what the phone learnt from the remote SDP.
type Media struct {
	Remote    netip.AddrPort // where our RTP goes; unspecified address means hold (RFC 3264 §8.4)
	Codec     uint8          // the audio payload type in use
	EventPT   uint8          // telephone-event payload type, valid when HasEvents
	HasEvents bool
	Direction Direction // as written by the remote side
	Ptime     int       // a=ptime, 0 when absent
	SRTP      bool      // the media is SDES-SRTP (Config.SRTP, srtp.go)
}

// remoteSDP is one parsed audio m-line.
type remoteSDP struct {
	addr      netip.AddrPort
	formats   []uint8 // non-event formats, in the remote's order
	eventPT   uint8
	hasEvents bool
	direction Direction
	ptime     int
	savp      bool          // RTP/SAVP (srtp.go)
	crypto    []isdp.Crypto // its usable a=crypto lines
}

// localSDP describes what the phone puts in its own offers and answers.
type localSDP struct {
	addr      netip.Addr
	port      int
	codecs    []uint8
	eventPT   uint8
	events    bool // whether to list telephone-event at all
	sessionID uint64
	version   uint64
	direction Direction
	srtpKey   []byte // our SDES master key||salt when offering SRTP
}

// codecName gives the rtpmap encoding name of the static payload types we
// know (RFC 3551 §6, table 4); others are offered without rtpmap.
func codecName(pt uint8) string {
	switch pt {
	case 0:
		return "PCMU"
	case 8:
		return "PCMA"
	case 9:
		return "G722"
	case 18:
		return "G729"
	}
	return ""
}

// marshal writes a minimal SDP by hand: the phone must not share the
// gateway's SDP writer, and a short body keeps UDP messages far below the
// MTU limit sipgo enforces.
func (l localSDP) marshal() []byte {
	var b strings.Builder
	ip := "IP4"
	if l.addr.Is6() {
		ip = "IP6"
	}
	fmt.Fprintf(&b, "v=0\r\no=- %d %d IN %s %s\r\ns=testphone\r\nc=IN %s %s\r\nt=0 0\r\n",
		l.sessionID, l.version, ip, l.addr, ip, l.addr)
	proto := "RTP/AVP"
	if l.srtpKey != nil {
		proto = "RTP/SAVP"
	}
	fmt.Fprintf(&b, "m=audio %d %s", l.port, proto)
	for _, c := range l.codecs {
		fmt.Fprintf(&b, " %d", c)
	}
	if l.events {
		fmt.Fprintf(&b, " %d", l.eventPT)
	}
	b.WriteString("\r\n")
	for _, c := range l.codecs {
		if n := codecName(c); n != "" {
			fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", c, n)
		}
	}
	if l.events {
		// RFC 4733 §7.1.1: events 0-15 are the DTMF digits, 16 is flash.
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", l.eventPT, l.eventPT)
	}
	dir := l.direction
	if dir == "" {
		dir = SendRecv
	}
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\n", dir)
	if l.srtpKey != nil {
		fmt.Fprintf(&b, "a=crypto:%s\r\n", l.cryptoLine())
	}
	return []byte(b.String())
}

// parseSDP reads the first audio m-line of body.
func parseSDP(body []byte) (remoteSDP, error) {
	var r remoteSDP
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return r, fmt.Errorf("parse sdp: %w", err)
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			md = m
			break
		}
	}
	if md == nil {
		return r, errors.New("parse sdp: no audio m-line")
	}
	if md.MediaName.Port.Value == 0 {
		// RFC 3264 §6: port zero rejects the stream.
		return r, errors.New("parse sdp: audio stream rejected (port 0)")
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return r, errors.New("parse sdp: no c= line")
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return r, fmt.Errorf("parse sdp: c= address: %w", err)
	}
	if md.MediaName.Port.Value < 0 || md.MediaName.Port.Value > 65535 {
		return r, fmt.Errorf("parse sdp: port %d out of range", md.MediaName.Port.Value)
	}
	r.addr = netip.AddrPortFrom(ip.Unmap(), uint16(md.MediaName.Port.Value))
	r.readCrypto(md)

	events := map[uint8]bool{}
	r.direction = SendRecv
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			pt, rest, ok := strings.Cut(a.Value, " ")
			n, err := strconv.ParseUint(pt, 10, 8)
			if ok && err == nil && strings.HasPrefix(strings.ToLower(rest), "telephone-event/") {
				events[uint8(n)] = true
			}
		case "ptime":
			r.ptime, _ = strconv.Atoi(strings.TrimSpace(a.Value))
		case string(SendRecv), string(SendOnly), string(RecvOnly), string(Inactive):
			r.direction = Direction(a.Key)
		}
	}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			continue
		}
		pt := uint8(n)
		if events[pt] {
			if !r.hasEvents {
				r.eventPT, r.hasEvents = pt, true
			}
			continue
		}
		r.formats = append(r.formats, pt)
	}
	return r, nil
}

// pick returns the first format of the remote list that we also support.
// For an answer the remote list holds what the answerer chose; for an offer
// (delayed offer in the 200) taking the first we support honours the
// offerer's preference (RFC 3264 §6.1).
func (r remoteSDP) pick(ours []uint8) (uint8, error) {
	for _, f := range r.formats {
		for _, c := range ours {
			if f == c {
				return f, nil
			}
		}
	}
	return 0, fmt.Errorf("remote formats %v, ours %v: %w", r.formats, ours, ErrNoCommonCodec)
}

// media turns the parsed remote SDP and the chosen codec into Media.
func (r remoteSDP) media(codec uint8) Media {
	return Media{
		Remote:    r.addr,
		Codec:     codec,
		EventPT:   r.eventPT,
		HasEvents: r.hasEvents,
		Direction: r.direction,
		Ptime:     r.ptime,
	}
}

// answerDirection is our direction in an answer to an offer with d
// (RFC 3264 §6.1).
func answerDirection(d Direction) Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// weMaySend reports whether the remote's SDP allows us to send RTP: not when
// it is sendonly or inactive (RFC 3264 §6.1), nor when it put the old-style
// hold address 0.0.0.0 in c= (RFC 3264 §8.4).
func (m Media) weMaySend() bool {
	if !m.Remote.Addr().IsValid() || m.Remote.Addr().IsUnspecified() || m.Remote.Port() == 0 {
		return false
	}
	return m.Direction == SendRecv || m.Direction == RecvOnly || m.Direction == ""
}
