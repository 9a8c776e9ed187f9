package gateway

import (
	"fmt"

	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// srtpFor turns a leg's negotiated SDES keys into its media protection;
// nil for a plain RTP/AVP leg.
func srtpFor(m sdp.Media) (*media.SRTP, error) {
	if m.SRTP == nil {
		return nil, nil
	}
	s, err := media.NewSRTP(media.SRTPConfig{Suite: m.SRTP.Suite, LocalKey: m.SRTP.LocalKey, RemoteKey: m.SRTP.RemoteKey})
	if err != nil {
		return nil, fmt.Errorf("srtp: %w", err)
	}
	return s, nil
}
