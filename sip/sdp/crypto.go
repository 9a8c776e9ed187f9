package sdp

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// SDES (RFC 4568): SRTP master keys carried in a=crypto lines. The keys
// travel in the clear inside the SDP, so they are only worth anything when
// the signalling itself is encrypted (SIP over TLS); the sip package only
// turns SRTP on for calls that arrived over TLS.

// SRTPMode is the operator's SRTP policy for a leg.
type SRTPMode uint8

// The three policies.
const (
	SRTPOff      SRTPMode = iota // plain RTP/AVP only, a=crypto ignored (the default)
	SRTPOptional                 // RTP/SAVP with a=crypto, or plain RTP/AVP
	SRTPRequired                 // RTP/SAVP with a=crypto only; anything else is 488
)

// String is the flag spelling: off, optional, required.
func (m SRTPMode) String() string {
	switch m {
	case SRTPOptional:
		return "optional"
	case SRTPRequired:
		return "required"
	}
	return "off"
}

// ParseSRTPMode reads the flag spelling.
func ParseSRTPMode(s string) (SRTPMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "off":
		return SRTPOff, nil
	case "optional":
		return SRTPOptional, nil
	case "required":
		return SRTPRequired, nil
	}
	return SRTPOff, fmt.Errorf("srtp mode %q: want off, optional or required", s)
}

// The crypto suites we accept (RFC 4568 §6.2). Both use AES-128 in counter
// mode with a 30-byte master key||salt; they differ in the length of the
// HMAC-SHA1 tag on each packet.
const (
	SuiteAES128SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
	SuiteAES128SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
)

// KeyLen is the length of the master key||salt of both suites: a 128-bit
// key and a 112-bit salt (RFC 4568 §6.2.1).
const KeyLen = 30

// maxCryptoLines bounds the a=crypto lines of one m-line we look at.
const maxCryptoLines = 8

// Crypto is one parsed a=crypto attribute that we can use.
type Crypto struct {
	Tag   uint32 // 1-9 digits (RFC 4568 §9.1); the answer echoes it
	Suite string // SuiteAES128SHA1_80 or SuiteAES128SHA1_32
	Key   []byte // KeyLen bytes of master key||salt
}

// SRTP is the negotiated SDES-SRTP of a stream: one suite, and a master key
// for each direction.
type SRTP struct {
	Suite     string
	RemoteKey []byte // the peer's: decrypts what it sends us
	LocalKey  []byte // ours: encrypts what we send
}

// Errors of ParseCrypto, all wrapping ErrBadCrypto.
var (
	ErrBadCrypto = errors.New("sdp: unusable a=crypto")
	// ErrSRTPRequired: the offer has no usable RTP/SAVP stream with
	// a=crypto and our policy is SRTPRequired (488).
	ErrSRTPRequired = errors.New("sdp: srtp required")
)

// NewKey returns a fresh random master key||salt.
func NewKey() []byte {
	k := make([]byte, KeyLen)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	return k
}

// ParseCrypto reads the value of one a=crypto attribute (what follows
// "crypto:"), RFC 4568 §9.1:
//
//	tag SP crypto-suite SP key-params [SP session-params]
//	key-params = "inline:" base64(key||salt) ["|" lifetime] ["|" MKI:length]
//
// It accepts what the gateway can honour: one of our two suites, exactly
// one key, no MKI (we do not rekey inside a call), a lifetime no shorter
// than 2^31 packets if given, and no session parameters (they would turn
// encryption or authentication off, or change the key derivation rate; an
// attribute we do not understand fully is one we must not accept, §6.3).
func ParseCrypto(v string) (Crypto, error) {
	var c Crypto
	f := strings.Fields(v)
	if len(f) < 3 {
		return c, fmt.Errorf("%w: want tag, suite and key params, got %d fields", ErrBadCrypto, len(f))
	}
	if len(f) > 3 {
		return c, fmt.Errorf("%w: session parameter %.20q not supported", ErrBadCrypto, f[3])
	}
	if len(f[0]) == 0 || len(f[0]) > 9 || strings.TrimLeft(f[0], "0123456789") != "" {
		return c, fmt.Errorf("%w: tag %.20q is not 1-9 digits", ErrBadCrypto, f[0])
	}
	tag, _ := strconv.ParseUint(f[0], 10, 32) // 9 digits always fit
	c.Tag = uint32(tag)
	switch strings.ToUpper(f[1]) {
	case SuiteAES128SHA1_80:
		c.Suite = SuiteAES128SHA1_80
	case SuiteAES128SHA1_32:
		c.Suite = SuiteAES128SHA1_32
	default:
		return c, fmt.Errorf("%w: suite %.40q not supported", ErrBadCrypto, f[1])
	}
	if strings.Contains(f[2], ";") {
		return c, fmt.Errorf("%w: more than one key", ErrBadCrypto)
	}
	method, info, ok := strings.Cut(f[2], ":")
	if !ok || !strings.EqualFold(method, "inline") {
		return c, fmt.Errorf("%w: key method %.20q, want inline", ErrBadCrypto, method)
	}
	parts := strings.Split(info, "|")
	if len(parts) > 3 {
		return c, fmt.Errorf("%w: key info has %d parts", ErrBadCrypto, len(parts))
	}
	key, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		// Some phones leave out the padding; 30 bytes need none anyway.
		key, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	if err != nil || len(key) != KeyLen {
		return c, fmt.Errorf("%w: key is not %d bytes of base64", ErrBadCrypto, KeyLen)
	}
	c.Key = key
	for _, p := range parts[1:] {
		if strings.Contains(p, ":") {
			// MKI:length (RFC 4568 §6.1): packets would carry an MKI.
			return c, fmt.Errorf("%w: MKI not supported", ErrBadCrypto)
		}
		if err := checkLifetime(p); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkLifetime accepts a key lifetime (decimal or 2^n) of at least 2^31
// packets: longer than any call lasts at 50 packets a second, so never
// needing a rekey. A shorter one we could not honour.
func checkLifetime(p string) error {
	var bits uint64
	if exp, ok := strings.CutPrefix(p, "2^"); ok {
		n, err := strconv.ParseUint(exp, 10, 8)
		if err != nil || n > 64 {
			return fmt.Errorf("%w: lifetime %.20q", ErrBadCrypto, p)
		}
		bits = n
	} else {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || n == 0 {
			return fmt.Errorf("%w: lifetime %.20q", ErrBadCrypto, p)
		}
		for n > 1 {
			n >>= 1
			bits++
		}
	}
	if bits < 31 {
		return fmt.Errorf("%w: lifetime %s too short for us to honour", ErrBadCrypto, p)
	}
	return nil
}

// String writes the attribute value for our own a=crypto line.
func (c Crypto) String() string {
	return strconv.FormatUint(uint64(c.Tag), 10) + " " + c.Suite + " inline:" + base64.StdEncoding.EncodeToString(c.Key)
}

// isSAVP reports whether an m-line is RTP/SAVP (RFC 3711 §12).
func isSAVP(md *psdp.MediaDescription) bool {
	return strings.EqualFold(strings.Join(md.MediaName.Protos, "/"), "RTP/SAVP")
}

// firstCrypto returns the first usable a=crypto line of an m-line, in the
// offerer's order of preference (RFC 4568 §7.1.1).
func firstCrypto(md *psdp.MediaDescription) (Crypto, bool) {
	n := 0
	for _, a := range md.Attributes {
		if a.Key != "crypto" {
			continue
		}
		if n++; n > maxCryptoLines {
			break
		}
		if c, err := ParseCrypto(a.Value); err == nil {
			return c, true
		}
	}
	return Crypto{}, false
}

// cryptoWithTag returns the usable a=crypto line with the given tag: the
// answer to our offer must pick one of the tags we offered (§7.1.2).
func cryptoWithTag(md *psdp.MediaDescription, tag uint32) (Crypto, bool) {
	c, ok := firstCrypto(md)
	return c, ok && c.Tag == tag
}

// offerTag is the tag of the one a=crypto line in our own offers.
const offerTag = 1

// srtpKey returns the local key, checking that it is usable.
func (l Local) srtpKey() ([]byte, error) {
	if len(l.Key) != KeyLen {
		return nil, fmt.Errorf("local srtp key is %d bytes, want %d", len(l.Key), KeyLen)
	}
	return l.Key, nil
}
