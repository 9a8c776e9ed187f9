package sip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// The gateway never resolves a host name it read from the network. Names
// in Via, Contact, Record-Route or a Request-URI are the sender's to
// choose: resolving them would let any caller make us send DNS queries
// (and then SIP) wherever it likes, and torture messages did. Every
// destination we pick ourselves is an IP literal (Call.request,
// routeOut); sipgo's own fallbacks (a TCP answer whose connection has
// gone is sent to the Via host) go through noDNS, which refuses and
// counts.

// errNoDNS is what every lookup through the server's resolver returns.
var errNoDNS = errors.New("sip: host names from the network are never resolved")

// noDNS is the resolver handed to sipgo: it sends no query at all. The
// pure-Go resolver reads /etc/hosts before it dials, so a name listed
// there (localhost) still resolves locally; nothing leaves the host.
func (s *Server) noDNS() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			s.guard.namesRefused.Add(1)
			s.badLog.log(s.log, "sip dns lookup refused")
			return nil, errNoDNS
		},
	}
}

// ipDestination returns hostport as an address to send to when its host
// is an IP literal (port 5060 when none is given, RFC 3261 §19.1.2);
// false for a host name, which must not be resolved.
func ipDestination(host string, port int) (netip.AddrPort, bool) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, false
	}
	if port <= 0 || port > 65535 {
		port = 5060
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), true
}

// newParser is sipgo's parser with Contact left raw (parsed lazily by
// (*sip.Request).Contact()), so the registrar sees whether a Contact URI
// was enclosed in <> (RFC 3261 §20.10, RFC 4475 §3.1.2.13 regbadct); see
// registrar.HeaderParsers.
func newParser() *sip.Parser {
	m := make(map[string]sip.HeaderParser)
	for k, v := range sip.DefaultHeadersParser() {
		switch k {
		case "contact", "m":
		case "from", "f", "to", "t":
			m[k] = trimmedParams(v)
		default:
			m[k] = v
		}
	}
	return sip.NewParser(sip.WithHeadersParsers(m))
}

// trimmedParams wraps sipgo's From/To parser: RFC 3261 §25.1 allows LWS
// around the '=' of a parameter (EQUAL = SWS "=" SWS), which sipgo keeps in
// the name, so "tag = x" (RFC 4475 §3.1.1.1 wsinv) would have no tag and
// its transaction could not be matched.
func trimmedParams(p sip.HeaderParser) sip.HeaderParser {
	return func(name []byte, data string) (sip.Header, error) {
		h, err := p(name, data)
		if err != nil {
			return h, err
		}
		var params sip.HeaderParams
		switch v := h.(type) {
		case *sip.FromHeader:
			params = v.Params
		case *sip.ToHeader:
			params = v.Params
		}
		for i := range params {
			params[i].K = strings.TrimSpace(params[i].K)
			params[i].V = strings.TrimSpace(params[i].V)
		}
		return h, nil
	}
}

// clipHost bounds a host name from the network before it is logged.
func clipHost(h string) string {
	if len(h) > 64 {
		return h[:64] + "..."
	}
	return h
}
