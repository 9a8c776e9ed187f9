// Package agents loads the directory of human agents (the people callers are
// handed to) from the operator's YAML file, and appends new agents to it.
//
// An agent has a name, an extension (the user part of its SIP AOR, digits
// only), skills, and digest credentials stored only as HA1 hashes, one for
// MD5 (RFC 2617 §3.2.2.2) and one for SHA-256 (RFC 7616 §3.4.2, RFC 8760).
// An HA1 is H(username ":" realm ":" password), so it is bound to the realm:
// changing the realm invalidates every stored hash, and the file records the
// realm its hashes were computed for.
//
// Decoding is strict (unknown keys are errors) and every problem is reported
// as file:line:col. There is deliberately no custom UnmarshalYAML: one that
// calls Node.Decode would silently turn strict checking off beneath it;
// semantic checks map AST node positions instead.
//
// This package imports only the standard library and github.com/goccy/go-yaml:
// it must not import any network code (sip, routing, sipgo, go-redis).
package agents

import (
	"crypto/md5" //nolint:gosec // RFC 2617/8760 digest needs MD5 for legacy softphones
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// DefaultRealm is the digest realm the shipped file's hashes were computed for.
const DefaultRealm = "ivrgw"

// Agent is one person who can take calls.
type Agent struct {
	Name      string
	Extension string   // user part of the AOR, digits only
	Skills    []string // lowercase tokens, e.g. billing, support, es
	Demo      bool     // demo accounts may register from loopback only
	HA1MD5    string   // lowercase hex, 32 chars: MD5(ext:realm:password)
	HA1SHA256 string   // lowercase hex, 64 chars: SHA-256(ext:realm:password)
}

// HasSkill reports whether the agent has skill s.
func (a Agent) HasSkill(s string) bool { return slices.Contains(a.Skills, s) }

// Directory is the loaded, validated set of agents. It is immutable: reload
// the file to change it.
type Directory struct {
	realm string
	byExt map[string]int
	list  []Agent
}

// Realm returns the digest realm the directory's HA1 hashes belong to.
func (d *Directory) Realm() string { return d.realm }

// Lookup returns the agent whose extension is user.
func (d *Directory) Lookup(user string) (Agent, bool) {
	i, ok := d.byExt[user]
	if !ok {
		return Agent{}, false
	}
	return cloneAgent(d.list[i]), true
}

// All returns every agent in file order. The slice is a copy.
func (d *Directory) All() []Agent {
	out := make([]Agent, len(d.list))
	for i, a := range d.list {
		out[i] = cloneAgent(a)
	}
	return out
}

func cloneAgent(a Agent) Agent {
	a.Skills = slices.Clone(a.Skills)
	return a
}

// HA1MD5 computes MD5(user ":" realm ":" password) as lowercase hex
// (RFC 2617 §3.2.2.2).
func HA1MD5(user, realm, password string) string {
	sum := md5.Sum([]byte(user + ":" + realm + ":" + password)) //nolint:gosec // see import
	return hex.EncodeToString(sum[:])
}

// HA1SHA256 computes SHA-256(user ":" realm ":" password) as lowercase hex
// (RFC 7616 §3.4.2).
func HA1SHA256(user, realm, password string) string {
	sum := sha256.Sum256([]byte(user + ":" + realm + ":" + password))
	return hex.EncodeToString(sum[:])
}

// validExtension: digits only, because the extension is dialled from a keypad
// and is the user part of a SIP URI; 2 to 15 digits (E.164 length bound).
func validExtension(s string) bool {
	if len(s) < 2 || len(s) > 15 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validSkill: lowercase token, so skills compare byte-for-byte and are safe
// as Redis key parts.
func validSkill(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '-' || c == '_'))
		if !ok {
			return false
		}
	}
	return true
}

// validName: printable, no control characters, because the name may end up
// in a SIP display name and in logs (FACTS: sipgo does not validate values).
func validName(s string) bool {
	if strings.TrimSpace(s) == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// validRealm: a realm goes into a quoted-string of WWW-Authenticate; keep it
// to a conservative token-ish set.
func validRealm(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func validHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
