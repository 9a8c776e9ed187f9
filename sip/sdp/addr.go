package sdp

import (
	"fmt"
	"net/netip"
)

// OfferedAddr is the connection address of the first audio stream of an
// offer, before any negotiation: the gateway compares it with the address
// the INVITE came from to tell a phone that names its own address from one
// behind a NAT (docs/design.md, shared RTP sockets).
func OfferedAddr(offer []byte) (netip.Addr, error) {
	sd, err := parse(offer)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, md := range sd.MediaDescriptions {
		if !audioStream(md) {
			continue
		}
		ap, err := remote(sd, md)
		if err != nil {
			return netip.Addr{}, err
		}
		return ap.Addr(), nil
	}
	return netip.Addr{}, fmt.Errorf("%w: no audio stream", ErrMalformed)
}
