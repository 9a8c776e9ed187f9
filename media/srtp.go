package media

import (
	"errors"
	"fmt"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SRTP crypto suites (RFC 4568 §6.2), spelt as in SDP.
const (
	SuiteAES128SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES128SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
)

// srtpKeyLen is a suite's master key (16 bytes) and salt (14 bytes).
const (
	srtpKeyLen  = 16
	srtpSaltLen = 14
	// srtpMaxTag is the longest SRTP trailer our suites add to a packet
	// (the 80-bit authentication tag; no MKI).
	srtpMaxTag = 10
	// srtpReplayWindow is how far back a packet may arrive and still be
	// taken (RFC 3711 §3.3.2 asks for at least 64).
	srtpReplayWindow = 128
)

// ErrSRTPConfig is returned by NewSRTP for a suite or key it cannot use.
var ErrSRTPConfig = errors.New("media: bad srtp config")

// SRTPConfig is one leg's SDES-SRTP, as negotiated in SDP (RFC 4568): a
// suite and one master key||salt per direction.
type SRTPConfig struct {
	Suite     string // SuiteAES128SHA1_80 or SuiteAES128SHA1_32
	LocalKey  []byte // 30 bytes: encrypts what we send
	RemoteKey []byte // 30 bytes: decrypts what the peer sends
}

// SRTP protects one leg's RTP (RFC 3711): Protect encrypts and
// authenticates what is sent, Unprotect checks and decrypts what arrives,
// with replay protection. The two directions have separate state; each may
// be used by one goroutine at a time (a Stream's reader unprotects, its
// sender, under the stream's lock, protects). RTCP is not protected: the
// gateway sends none and ignores what it receives.
type SRTP struct {
	enc, dec       *srtp.Context
	encHdr, decHdr rtp.Header // scratch headers: pion parses into them, allocation-free
	suite          string
	// Reused buffers for a Stream; the test phone brings its own.
	rxBuf [maxPacket]byte
	txBuf [maxPacket + srtpMaxTag]byte
}

// NewSRTP builds the two SRTP contexts of a leg.
func NewSRTP(cfg SRTPConfig) (*SRTP, error) {
	var profile srtp.ProtectionProfile
	switch cfg.Suite {
	case SuiteAES128SHA1_80:
		profile = srtp.ProtectionProfileAes128CmHmacSha1_80
	case SuiteAES128SHA1_32:
		profile = srtp.ProtectionProfileAes128CmHmacSha1_32
	default:
		return nil, fmt.Errorf("%w: suite %q", ErrSRTPConfig, cfg.Suite)
	}
	if len(cfg.LocalKey) != srtpKeyLen+srtpSaltLen || len(cfg.RemoteKey) != srtpKeyLen+srtpSaltLen {
		return nil, fmt.Errorf("%w: keys of %d and %d bytes, want %d", ErrSRTPConfig, len(cfg.LocalKey), len(cfg.RemoteKey), srtpKeyLen+srtpSaltLen)
	}
	enc, err := srtp.CreateContext(cfg.LocalKey[:srtpKeyLen], cfg.LocalKey[srtpKeyLen:], profile)
	if err != nil {
		return nil, fmt.Errorf("srtp encrypt context: %w", err)
	}
	dec, err := srtp.CreateContext(cfg.RemoteKey[:srtpKeyLen], cfg.RemoteKey[srtpKeyLen:], profile,
		srtp.SRTPReplayProtection(srtpReplayWindow))
	if err != nil {
		return nil, fmt.Errorf("srtp decrypt context: %w", err)
	}
	return &SRTP{enc: enc, dec: dec, suite: cfg.Suite}, nil
}

// Suite is the crypto suite in use.
func (s *SRTP) Suite() string { return s.suite }

// Protect turns one marshalled RTP packet into SRTP, appending to dst[:0]
// (give it room for the packet plus 10 bytes, or it allocates).
func (s *SRTP) Protect(dst, packet []byte) ([]byte, error) {
	out, err := s.enc.EncryptRTP(dst[:0], packet, &s.encHdr)
	if err != nil {
		return nil, fmt.Errorf("srtp protect: %w", err)
	}
	return out, nil
}

// Unprotect checks one SRTP packet's authentication tag and replay index
// and returns the plain RTP packet in dst[:0]. A packet that fails is not
// from the peer who holds the key (or is a replay): drop it.
func (s *SRTP) Unprotect(dst, packet []byte) ([]byte, error) {
	out, err := s.dec.DecryptRTP(dst[:0], packet, &s.decHdr)
	if err != nil {
		return nil, fmt.Errorf("srtp unprotect: %w", err)
	}
	return out, nil
}

// unprotectRx is the Stream reader's Unprotect into the session's own
// buffer; nil when the packet fails. Only the reader goroutine calls it.
func (s *SRTP) unprotectRx(packet []byte) []byte {
	out, err := s.dec.DecryptRTP(s.rxBuf[:0], packet, &s.decHdr)
	if err != nil {
		return nil
	}
	return out
}

// protectTx is the Stream sender's Protect into the session's own buffer;
// nil when it fails. The stream's mu is held.
func (s *SRTP) protectTx(packet []byte) []byte {
	out, err := s.enc.EncryptRTP(s.txBuf[:0], packet, &s.encHdr)
	if err != nil {
		return nil
	}
	return out
}
