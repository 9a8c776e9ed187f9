package registrar

import (
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // RFC 8760 keeps MD5 for legacy softphones
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Digest algorithms offered, strongest first (RFC 8760 §2.4: "the server
// SHOULD send ... in the order of preference", and the client uses the
// first one it supports).
const (
	algSHA256 = "SHA-256"
	algMD5    = "MD5"
)

// credentials is one parsed Digest Authorization value (RFC 3261 §25.1
// digest-response, RFC 7616 §3.4).
type credentials struct {
	Username, Realm, Nonce, URI, Response string
	Algorithm, Cnonce, Opaque, QOP        string
	NC                                    string // as sent (8 hex digits); hashed verbatim
}

// Bounds on what the parser accepts: a real Authorization value is a few
// hundred bytes with ten parameters.
const (
	maxAuthLen    = 4096
	maxAuthParams = 32
)

var errNotDigest = errors.New("authorization scheme is not Digest")

// parseAuthorization parses an Authorization header value. It returns
// errNotDigest for another scheme (RFC 4475 regaut01: the registrar then
// challenges with a scheme it knows) and another error for a Digest value
// that is malformed, which earns a 400.
//
// Grammar (RFC 3261 §25.1): "Digest" LWS dig-resp *(COMMA dig-resp), each
// dig-resp a token "=" (token / quoted-string). Names are case-insensitive;
// a repeated name is an error rather than last-one-wins, so two parsers can
// never disagree on which value was meant.
func parseAuthorization(v string) (credentials, error) {
	var c credentials
	if len(v) > maxAuthLen {
		return c, fmt.Errorf("authorization longer than %d bytes", maxAuthLen)
	}
	s := strings.TrimLeft(v, " \t")
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	if i == 0 {
		return c, errors.New("authorization has no scheme")
	}
	if !strings.EqualFold(s[:i], "Digest") {
		return c, errNotDigest
	}
	s = s[i:]
	if s == "" || (s[0] != ' ' && s[0] != '\t') {
		return c, errors.New("digest: want whitespace after scheme")
	}
	seen := make(map[string]bool, 12)
	for n := 0; ; n++ {
		if n == maxAuthParams {
			return c, fmt.Errorf("digest: more than %d parameters", maxAuthParams)
		}
		s = strings.TrimLeft(s, " \t")
		j := 0
		for j < len(s) && isTokenChar(s[j]) {
			j++
		}
		if j == 0 {
			return c, fmt.Errorf("digest: want parameter name at %q", clip(s))
		}
		name := strings.ToLower(s[:j])
		s = strings.TrimLeft(s[j:], " \t")
		if s == "" || s[0] != '=' {
			return c, fmt.Errorf("digest: parameter %s has no value", name)
		}
		s = strings.TrimLeft(s[1:], " \t")
		var val string
		var quoted bool
		var err error
		val, s, quoted, err = parseValue(s)
		if err != nil {
			return c, fmt.Errorf("digest: parameter %s: %w", name, err)
		}
		if seen[name] {
			return c, fmt.Errorf("digest: parameter %s repeated", name)
		}
		seen[name] = true
		if err := c.set(name, val, quoted); err != nil {
			return c, err
		}
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] != ',' {
			return c, fmt.Errorf("digest: want ',' at %q", clip(s))
		}
		s = s[1:]
	}
	for _, name := range []string{"username", "realm", "nonce", "uri", "response"} {
		if !seen[name] {
			return c, fmt.Errorf("digest: missing %s", name)
		}
	}
	return c, nil
}

func (c *credentials) set(name, val string, quoted bool) error {
	switch name {
	case "username":
		c.Username = val
	case "realm":
		c.Realm = val
	case "nonce":
		c.Nonce = val
	case "uri":
		c.URI = val
	case "response":
		c.Response = val
	case "algorithm":
		c.Algorithm = val
	case "cnonce":
		c.Cnonce = val
	case "opaque":
		c.Opaque = val
	case "qop":
		// message-qop is a token in RFC 3261 §25.1, but some clients quote it.
		c.QOP = val
	case "nc":
		// nc-value = 8LHEX (RFC 3261 §25.1); it is hashed as sent.
		if quoted || len(val) != 8 || !isHex(val) {
			return fmt.Errorf("digest: nc %q is not 8 hex digits", clip(val))
		}
		c.NC = val
	default:
		// auth-param extensions (RFC 3261 §25.1) are allowed and ignored.
	}
	return nil
}

// parseValue reads a token or a quoted-string (RFC 3261 §25.1) from the start
// of s and returns the value and the rest.
func parseValue(s string) (val, rest string, quoted bool, err error) {
	if s == "" {
		return "", s, false, errors.New("empty value")
	}
	if s[0] != '"' {
		j := 0
		for j < len(s) && isTokenChar(s[j]) {
			j++
		}
		if j == 0 {
			return "", s, false, fmt.Errorf("bad character %q", s[0])
		}
		return s[:j], s[j:], false, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"':
			return b.String(), s[i+1:], true, nil
		case ch == '\\':
			// quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F). We refuse the
			// control characters there too, as in the plain text (found by
			// FuzzParseAuthorization): nothing legitimate needs them, and the
			// values reach logs.
			if i+1 >= len(s) {
				return "", s, true, errors.New("unterminated quoted-pair")
			}
			i++
			if e := s[i]; e < 0x20 && e != '\t' || e == 0x7f || e >= 0x80 {
				return "", s, true, fmt.Errorf("bad escaped character %q", e)
			}
			b.WriteByte(s[i])
		case ch < 0x20 && ch != '\t' || ch == 0x7f:
			return "", s, true, fmt.Errorf("control character %q in quoted string", ch)
		default:
			b.WriteByte(ch)
		}
	}
	return "", s, true, errors.New("unterminated quoted string")
}

// isTokenChar: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" /
// "+" / "`" / "'" / "~") (RFC 3261 §25.1).
func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-.!%*_+`'~", c) >= 0
}

func isHex(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// newHash returns the hash for a digest algorithm name; ok is false for
// algorithms we do not offer (the -sess variants, SHA-512-256).
func newHash(alg string) (h func() hash.Hash, canonical string, ok bool) {
	switch {
	case alg == "" || strings.EqualFold(alg, algMD5):
		// No algorithm means MD5 (RFC 2617 §3.2.1).
		return md5.New, algMD5, true
	case strings.EqualFold(alg, algSHA256):
		return sha256.New, algSHA256, true
	}
	return nil, "", false
}

func hexHash(h func() hash.Hash, parts ...string) string {
	w := h()
	for i, p := range parts {
		if i > 0 {
			w.Write([]byte{':'})
		}
		w.Write([]byte(p))
	}
	return hex.EncodeToString(w.Sum(nil))
}

// digestResponse computes request-digest for qop=auth (RFC 2617 §3.2.2.1,
// RFC 7616 §3.4.1): KD(HA1, nonce:nc:cnonce:qop:H(A2)) with A2 = method:uri.
func digestResponse(h func() hash.Hash, ha1, nonce, nc, cnonce, qop, method, uri string) string {
	ha2 := hexHash(h, method, uri)
	return hexHash(h, ha1, nonce, nc, cnonce, qop, ha2)
}

// nonces are stateless: base64url(issued unix-nanos || HMAC-SHA256(key,
// "nonce" || issued || source IP)[:16]). The gateway verifies one without
// storing it (RFC 7616 §3.3 suggests a timestamp and a private key in the
// nonce), and binding it to the source IP stops a nonce seen by one host
// from being used by another.
const (
	nonceMACLen = 16
	nonceRawLen = 8 + nonceMACLen
)

type nonceSigner struct{ key []byte }

func (s nonceSigner) mac(issued int64, src netip.Addr) []byte {
	m := hmac.New(sha256.New, s.key)
	var buf [8 + 5 + 16]byte
	copy(buf[:5], "nonce")
	binary.BigEndian.PutUint64(buf[5:13], uint64(issued))
	a := src.Unmap().As16()
	copy(buf[13:], a[:])
	m.Write(buf[:])
	return m.Sum(nil)[:nonceMACLen]
}

func (s nonceSigner) issue(now time.Time, src netip.Addr) string {
	var raw [nonceRawLen]byte
	ts := now.UnixNano()
	binary.BigEndian.PutUint64(raw[:8], uint64(ts))
	copy(raw[8:], s.mac(ts, src))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// verify reports whether n is a nonce this key issued to src, and when.
func (s nonceSigner) verify(n string, src netip.Addr) (issued time.Time, ok bool) {
	if len(n) != base64.RawURLEncoding.EncodedLen(nonceRawLen) {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(raw) != nonceRawLen {
		return time.Time{}, false
	}
	ts := int64(binary.BigEndian.Uint64(raw[:8]))
	if !hmac.Equal(raw[8:], s.mac(ts, src)) {
		return time.Time{}, false
	}
	return time.Unix(0, ts), true
}

// opaque is constant per key: RFC 7616 §3.3 only asks that the client
// return it unchanged; tying it to the key detects credentials computed
// against another server's challenge.
func (s nonceSigner) opaque() string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("opaque"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// fakeHA1 stands in for an unknown user's HA1 so the work done and the
// answer given are the same as for a known user with a wrong password: no
// user enumeration. It depends on the secret key, so nobody can compute a
// matching response.
func (s nonceSigner) fakeHA1(h func() hash.Hash, user string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("fake-ha1:" + strconv.Quote(user)))
	return hexHash(h, hex.EncodeToString(m.Sum(nil)))
}
