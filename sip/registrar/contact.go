package registrar

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// contact is one Contact value of a REGISTER.
type contact struct {
	wildcard bool
	uri      sip.Uri
	expires  int64 // the expires param (RFC 3261 §10.2.1.1), or -1
}

// maxContactLen bounds a stored contact URI; bindings go to Redis.
const maxContactLen = 512

// HeaderParsers returns sipgo's default header parsers minus Contact, so
// Contact values reach the registrar as written. sipgo's parsed form loses
// whether a URI was inside <>, which RFC 3261 §20.10 makes significant: an
// addr-spec with '?' headers must be enclosed (RFC 4475 §3.1.2.13, regbadct).
// sipgo parses a raw Contact lazily when (*sip.Request).Contact() is called,
// so the rest of the stack is unaffected. Wire it with
//
//	sipgo.WithUserAgentParser(sip.NewParser(sip.WithHeadersParsers(registrar.HeaderParsers())))
//
// The registrar also works with sipgo's default parser, minus that one check.
func HeaderParsers() map[string]sip.HeaderParser {
	out := make(map[string]sip.HeaderParser)
	for k, v := range sip.DefaultHeadersParser() {
		if k != "contact" && k != "m" {
			out[k] = v
		}
	}
	return out
}

// contactsOf collects the Contact values of req, from either sipgo's parsed
// headers or raw ones (see HeaderParsers). An error means 400.
func contactsOf(req *sip.Request) ([]contact, error) {
	var out []contact
	for _, name := range []string{"contact", "m"} {
		for _, h := range req.GetHeaders(name) {
			switch ch := h.(type) {
			case *sip.ContactHeader:
				c, err := fromParsed(ch)
				if err != nil {
					return nil, err
				}
				out = append(out, c)
			default:
				cs, err := parseContactValue(h.Value())
				if err != nil {
					return nil, err
				}
				out = append(out, cs...)
			}
			if len(out) > 16 {
				return nil, errors.New("too many Contact values")
			}
		}
	}
	return out, nil
}

func fromParsed(ch *sip.ContactHeader) (contact, error) {
	if ch.Address.Wildcard {
		if ch.Params.Length() > 0 {
			return contact{}, errors.New(`"*" Contact takes no parameters`)
		}
		return contact{wildcard: true, expires: -1}, nil
	}
	return checkContact(ch.Address, ch.Params)
}

// parseContactValue parses one raw Contact header value, which may hold
// several comma-separated values (RFC 3261 §7.3.1, §20.10).
func parseContactValue(v string) ([]contact, error) {
	if strings.ContainsAny(v, "\r\n\x00") {
		return nil, errors.New("control character in Contact")
	}
	var out []contact
	for _, part := range splitContacts(v) {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, errors.New("empty Contact value")
		}
		if part == "*" {
			out = append(out, contact{wildcard: true, expires: -1})
			continue
		}
		if !strings.ContainsRune(part, '<') {
			// addr-spec form: everything after the first ';' is a header
			// parameter, and a URI with '?' headers MUST be enclosed in <>
			// (RFC 3261 §20.10; RFC 4475 §3.1.2.13).
			uriPart, _, _ := strings.Cut(part, ";")
			if strings.ContainsRune(uriPart, '?') {
				return nil, errors.New("Contact URI with headers must be enclosed in <>")
			}
		}
		var uri sip.Uri
		var params sip.HeaderParams
		if _, err := sip.ParseAddressValue(part, &uri, &params); err != nil {
			return nil, fmt.Errorf("bad Contact: %w", err)
		}
		if uri.Wildcard {
			return nil, errors.New(`"*" Contact must stand alone`)
		}
		c, err := checkContact(uri, params)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// splitContacts splits at commas outside quoted strings and <>.
func splitContacts(v string) []string {
	var parts []string
	inQuote, inAngle, esc := false, false, false
	start := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case esc:
			esc = false
		case inQuote && c == '\\':
			esc = true
		case c == '"' && !inAngle:
			inQuote = !inQuote
		case inQuote:
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case c == ',' && !inAngle:
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	return append(parts, v[start:])
}

func checkContact(uri sip.Uri, params sip.HeaderParams) (contact, error) {
	scheme := strings.ToLower(uri.Scheme)
	if scheme != "sip" && scheme != "sips" {
		return contact{}, fmt.Errorf("Contact scheme %q is not sip or sips", clip(uri.Scheme))
	}
	if uri.Host == "" {
		return contact{}, errors.New("Contact URI has no host")
	}
	s := uri.String()
	if len(s) > maxContactLen {
		return contact{}, fmt.Errorf("Contact URI longer than %d bytes", maxContactLen)
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		// sipgo does not validate values (FACTS.md); this one is stored and
		// later written into an INVITE's Request-URI.
		return contact{}, errors.New("control character in Contact URI")
	}
	c := contact{uri: uri, expires: -1}
	if v, ok := params.Get("expires"); ok {
		e, err := parseDeltaSeconds(v)
		if err != nil {
			return contact{}, fmt.Errorf("Contact expires: %w", err)
		}
		c.expires = int64(e)
	}
	return c, nil
}

// parseDeltaSeconds parses delta-seconds = 1*DIGIT, 0 to 2^32-1 (RFC 3261
// §20.19, §25.1). RFC 3261 §20.19 lets a malformed Expires count as 3600;
// we answer 400 instead, as RFC 4475 §3.1.2.4 (scalar02) expects and issue 3
// asks ("an absurd Expires: a clear 4xx"), because guessing a lifetime for a
// garbled request stores a binding the agent did not ask for.
func parseDeltaSeconds(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty delta-seconds")
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not delta-seconds", clip(s))
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxUint32 {
		return 0, fmt.Errorf("%q is larger than 2^32-1", clip(s))
	}
	return uint32(n), nil
}
