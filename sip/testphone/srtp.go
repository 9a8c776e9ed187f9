package testphone

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/pion/sdp/v3"

	"github.com/ivrgw/ivrgw/media"
	isdp "github.com/ivrgw/ivrgw/sip/sdp"
)

// SIP over TLS and SDES-SRTP for the phone. With Config.Transport "tls"
// the phone dials the gateway over TLS (Config.TLS holds the roots that
// trust the gateway's certificate) and the gateway sends its in-dialog
// requests back on that connection: the phone has no certificate of its
// own and listens for nothing. With Config.SRTP it offers RTP/SAVP with
// one a=crypto line (AES_CM_128_HMAC_SHA1_80, tag 1, a fresh key), wants
// the answer to accept it on that tag, and protects its RTP in both
// directions with the keys of the exchange (media.SRTP).

// ErrNoSRTP is returned when the phone offered SRTP and the answer did not
// take it.
var ErrNoSRTP = errors.New("answer did not accept the SRTP offer")

// cryptoTag is the tag of the phone's one a=crypto line.
const cryptoTag = 1

// srtpHook is the protection of one direction's packets, set once the
// answer is in; nil means plain RTP.
type srtpHook struct {
	ctx atomic.Pointer[media.SRTP]
}

// protect returns packet as SRTP in dst, or packet itself for plain RTP.
func (h *srtpHook) protect(dst, packet []byte) ([]byte, error) {
	ctx := h.ctx.Load()
	if ctx == nil {
		return packet, nil
	}
	return ctx.Protect(dst, packet)
}

// unprotect returns the plain packet in dst, or packet itself for plain
// RTP.
func (h *srtpHook) unprotect(dst, packet []byte) ([]byte, error) {
	ctx := h.ctx.Load()
	if ctx == nil {
		return packet, nil
	}
	return ctx.Unprotect(dst, packet)
}

// cryptoLine is the phone's a=crypto attribute value for its offer.
func (l localSDP) cryptoLine() string {
	return isdp.Crypto{Tag: cryptoTag, Suite: isdp.SuiteAES128SHA1_80, Key: l.srtpKey}.String()
}

// readCrypto fills the SRTP parts of a parsed remote m-line.
func (r *remoteSDP) readCrypto(md *sdp.MediaDescription) {
	r.savp = len(md.MediaName.Protos) == 2 && md.MediaName.Protos[0] == "RTP" && md.MediaName.Protos[1] == "SAVP"
	for _, a := range md.Attributes {
		if a.Key != "crypto" {
			continue
		}
		if c, err := isdp.ParseCrypto(a.Value); err == nil {
			r.crypto = append(r.crypto, c)
		}
	}
}

// startSRTP builds the call's SRTP from the answer, when the phone offered
// it: the answer must be RTP/SAVP with our tag (RFC 4568 §7.1.2).
func (c *Call) startSRTP(r remoteSDP) error {
	if !c.cfg.SRTP {
		return nil
	}
	if !r.savp {
		return fmt.Errorf("%w: answer profile is not RTP/SAVP", ErrNoSRTP)
	}
	for _, cr := range r.crypto {
		if cr.Tag != cryptoTag || cr.Suite != isdp.SuiteAES128SHA1_80 {
			continue
		}
		ctxTx, err := media.NewSRTP(media.SRTPConfig{Suite: cr.Suite, LocalKey: c.local.srtpKey, RemoteKey: cr.Key})
		if err != nil {
			return fmt.Errorf("srtp: %w", err)
		}
		ctxRx, err := media.NewSRTP(media.SRTPConfig{Suite: cr.Suite, LocalKey: c.local.srtpKey, RemoteKey: cr.Key})
		if err != nil {
			return fmt.Errorf("srtp: %w", err)
		}
		// Two contexts: the sender and the reader are two goroutines.
		c.tx.srtp.ctx.Store(ctxTx)
		c.rec.srtp.ctx.Store(ctxRx)
		return nil
	}
	return fmt.Errorf("%w: no a=crypto with tag %d", ErrNoSRTP, cryptoTag)
}
