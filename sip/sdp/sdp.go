// Package sdp does the SDP offer/answer exchange (RFC 3264, RFC 4566) for
// the gateway's single audio stream: G.711 (PCMU 0, PCMA 8) plus RFC 4733
// telephone-events.
//
// It is pure: it parses with github.com/pion/sdp/v3 and writes answers by
// hand so they stay small (a SIP message over UDP must stay well under the
// path MTU, RFC 3261 §18.1.1). It must not import sipgo or any network code.
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
)

// Errors returned by Negotiate and ParseAnswer. Use Status to map them to a
// SIP response.
var (
	// ErrNoCommonCodec: no audio stream with a codec we support (488).
	ErrNoCommonCodec = errors.New("sdp: no common codec")
	// ErrMalformed: the body is not parseable SDP or lacks what RFC 4566
	// requires for an audio stream (400).
	ErrMalformed = errors.New("sdp: malformed")
)

// Status maps an error from this package to the SIP status and reason the
// UAS sends: 488 Not Acceptable Here for an offer we cannot accept
// (RFC 3261 §21.4.26), 400 for SDP we cannot parse. Any other error
// (including nil) maps to 500.
func Status(err error) (code int, reason string) {
	switch {
	case errors.Is(err, ErrNoCommonCodec), errors.Is(err, ErrSRTPRequired):
		return 488, "Not Acceptable Here"
	case errors.Is(err, ErrMalformed):
		return 400, "Bad Request"
	default:
		return 500, "Server Internal Error"
	}
}

// Static RTP payload types of RFC 3551 §6 that the gateway speaks.
const (
	PCMU uint8 = 0
	PCMA uint8 = 8
	// DefaultEventPT is the telephone-event payload type we put in our own
	// offers; in answers we mirror whatever number the offer used.
	DefaultEventPT uint8 = 101
)

// Direction is the media direction attribute of RFC 3264 §5.1.
type Direction uint8

// The four directions; the zero value is SendRecv, the RFC 3264 default.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// String returns the SDP attribute name ("sendrecv", ...).
func (d Direction) String() string {
	switch d {
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	default:
		return "sendrecv"
	}
}

// Reverse is the direction an answerer uses for an offered direction
// (RFC 3264 §6.1): sendonly is answered recvonly and the other way round.
func (d Direction) Reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	default:
		return d
	}
}

// Local is our side of the session.
type Local struct {
	Addr      netip.Addr // written in o= and c=
	Port      int        // our RTP port
	Codecs    []uint8    // ours, in our preference, e.g. 0, 8
	SessionID uint64     // o= sess-id, fixed for the dialog
	Version   uint64     // o= sess-version; the caller bumps it for every new SDP (RFC 3264 §8)
	SRTP      SRTPMode   // SDES-SRTP policy (crypto.go); SRTPOff unless signalling is TLS
	Key       []byte     // our SRTP master key||salt (KeyLen bytes) when SRTP is not off
}

// Media is the negotiated remote side of the audio stream.
type Media struct {
	Remote      netip.AddrPort // where to send RTP (address may be 0.0.0.0 on hold)
	PayloadType uint8          // the payload type number to send and expect
	Codec       uint8          // the static codec behind PayloadType: PCMU (0) or PCMA (8)
	EventPT     uint8          // telephone-event payload type, if HasEvents
	HasEvents   bool
	Direction   Direction // the remote's direction as offered
	Ptime       int       // the remote's a=ptime, 20 when absent
	Hold        bool      // sendonly/inactive, or c=0.0.0.0 (RFC 3264 §8.4, RFC 2543 hold)
	SRTP        *SRTP     // the negotiated SDES keys (RFC 4568); nil for plain RTP/AVP
}

func (l Local) validate() error {
	if !l.Addr.IsValid() || l.Port <= 0 || l.Port > 65535 || len(l.Codecs) == 0 {
		return fmt.Errorf("invalid local media %v:%d codecs %v", l.Addr, l.Port, l.Codecs)
	}
	if l.SRTP != SRTPOff {
		if _, err := l.srtpKey(); err != nil {
			return err
		}
	}
	return nil
}
