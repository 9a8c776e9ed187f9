package sip

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// maxDisplay bounds the caller's display name we copy into From: the
// INVITE must stay well under the UDP limit (FACTS.md, RFC 3261 §18.1.1).
const maxDisplay = 64

// reservedHeaders are the headers we build ourselves; DialRequest.Headers
// may not set them.
var reservedHeaders = []string{"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq",
	"contact", "m", "max-forwards", "content-type", "c", "content-length", "l",
	"content-encoding", "e", "route", "record-route", "user-agent", "allow", "require", "proxy-require"}

// newOutbound checks r and builds the leg and its INVITE.
func (s *Server) newOutbound(r DialRequest) (*Outbound, error) {
	target, err := parseContact(r.Contact)
	if err != nil {
		return nil, err
	}
	transport, err := dialTransport(r.Transport, target)
	if err != nil {
		return nil, err
	}
	if !r.Source.IsValid() || r.Source.Port() == 0 || r.Source.Addr().IsUnspecified() {
		return nil, fmt.Errorf("%w: source %v", ErrBadDialRequest, r.Source)
	}
	if l := r.Local; !l.Addr.IsValid() || l.Port <= 0 || l.Port > 65535 || len(l.Codecs) == 0 {
		return nil, fmt.Errorf("%w: local media %v:%d codecs %v", ErrBadDialRequest, l.Addr, l.Port, l.Codecs)
	}
	if transport == transportTLS && s.tlsL == nil {
		return nil, fmt.Errorf("%w: contact %q needs tls, which is off", ErrBadDialRequest, r.Contact)
	}
	if strings.EqualFold(target.Scheme, "sips") && transport != transportTLS {
		return nil, fmt.Errorf("%w: sips contact %q registered over %s", ErrBadDialRequest, r.Contact, transport)
	}
	local, err := s.srtpLocal(r.Local, transport == transportTLS)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDialRequest, err)
	}
	extra, err := extraHeaders(r.Headers, r.HeaderOrder)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(r.FromUser, "\r\n") {
		return nil, fmt.Errorf("%w: caller number contains CR or LF", ErrBadDialRequest)
	}

	o := &Outbound{
		s:         s,
		id:        sip.GenerateTagN(24),
		transport: transport,
		dest:      netip.AddrPortFrom(r.Source.Addr().Unmap(), r.Source.Port()),
		localTag:  sip.GenerateTagN(16),
		digits:    make(chan dtmf.Event, 32),
		updates:   make(chan sdp.Media, 4),
		acks:      make(chan *sip.Request, 4),
		done:      make(chan struct{}),
		sending:   make(chan struct{}, 1),
		local:     local,
		// RFC 3261 §8.1.1.5: any start below 2**31; small keeps it readable.
		cseq: 1 + rand.Uint32N(1<<15),
	}
	o.log = s.log.With("call_id", o.id, "leg", "agent")

	inv := sip.NewRequest(sip.INVITE, target)
	inv.AppendHeader(s.outVia(transport))
	from := &sip.FromHeader{
		DisplayName: quoteDisplay(r.FromDisplay),
		Address:     sip.Uri{Scheme: "sip", User: escapeUser(r.FromUser), Host: s.cfg.PublicIP.String()},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", o.localTag)
	inv.AppendHeader(from)
	// To is the agent's AOR as far as we know it: the contact without
	// parameters or headers (RFC 3261 §8.1.1.2 allows any URI here).
	to := &sip.ToHeader{Address: sip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host, Port: target.Port}, Params: sip.NewParams()}
	inv.AppendHeader(to)
	cid := sip.CallIDHeader(o.id)
	inv.AppendHeader(&cid)
	inv.AppendHeader(&sip.CSeqHeader{SeqNo: o.cseq, MethodName: sip.INVITE})
	mf := sip.MaxForwardsHeader(70)
	inv.AppendHeader(&mf)
	contact := s.contact(transport)
	if strings.EqualFold(target.Scheme, "sips") {
		contact = s.tlsContact(true) // RFC 3261 §8.1.1.8
	}
	inv.AppendHeader(sip.NewHeader("Contact", contact))
	inv.AppendHeader(sip.NewHeader("User-Agent", s.cfg.UserAgent))
	inv.AppendHeader(sip.NewHeader("Allow", s.allow()))
	for _, h := range extra {
		inv.AppendHeader(h)
	}
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody(sdp.Offer(local))
	s.routeOut(inv, transport, o.dest)
	o.invite = inv
	return o, nil
}

// outVia is a Via for a request we originate: our public address and
// listening port, a fresh branch (RFC 3261 §8.1.1.7) and rport (RFC 3581),
// so the agent answers where the request came from.
func (s *Server) outVia(transport string) *sip.ViaHeader {
	port := s.Addr().Port()
	switch transport {
	case "TCP":
		port = s.TCPAddr().Port()
	case transportTLS:
		port = s.TLSAddr().Port()
	}
	v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: transport,
		Host: s.cfg.PublicIP.String(), Port: int(port), Params: sip.NewParams()}
	v.Params.Add("branch", sip.GenerateBranchN(16))
	v.Params.Add("rport", "")
	return v
}

// routeOut sends req to dest whatever its Request-URI says: the agent may
// sit behind a NAT, and its binding is where the REGISTER came from. Over
// UDP the request leaves from our listening socket (a random port would
// not pass the agent's NAT, and sipgo picks one unless told, FACTS.md).
// Over TCP sipgo's pool is looked up by remote address, so the connection
// the agent registered on is reused while it stays open, else one is
// dialled (RFC 5626 §5 in spirit, without the outbound extension).
func (s *Server) routeOut(req *sip.Request, transport string, dest netip.AddrPort) {
	req.SetTransport(transport)
	req.SetDestination(dest.String())
	if transport == "UDP" {
		la := s.Addr()
		req.Laddr = sip.Addr{IP: net.IP(la.Addr().AsSlice()), Port: int(la.Port())}
	}
}

// request builds a request inside the dialog (RFC 3261 §12.2.1.1): remote
// target as Request-URI, the route set, our From and the agent's To. o.mu
// is held.
func (o *Outbound) request(method sip.RequestMethod, cseq uint32) *sip.Request {
	req := sip.NewRequest(method, *o.target.Clone())
	req.AppendHeader(o.s.outVia(o.transport))
	req.AppendHeader(sip.HeaderClone(o.invite.From()))
	req.AppendHeader(sip.HeaderClone(o.to))
	cid := sip.CallIDHeader(o.id)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, r := range o.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(sip.NewHeader("User-Agent", o.s.cfg.UserAgent))
	req.SetBody(nil)
	o.s.routeOut(req, o.transport, o.dest)
	return req
}

// cancelRequest builds the CANCEL for our INVITE: same Request-URI, top Via
// (branch), From, To, Call-ID and CSeq number (RFC 3261 §9.1).
func (o *Outbound) cancelRequest() *sip.Request {
	inv := o.invite
	req := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	req.AppendHeader(sip.HeaderClone(inv.Via()))
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("User-Agent", o.s.cfg.UserAgent))
	req.SetBody(nil)
	o.s.routeOut(req, o.transport, o.dest)
	return req
}

// ContactAtSource reports whether the phone registered from the host its
// Contact names: it is not behind a NAT, so the SDP it answers with will
// name the address it sends from (the gateway's shared RTP sockets rely on
// that). A Contact that names a host name, or cannot be read, is false.
func (r DialRequest) ContactAtSource() bool {
	u, err := parseContact(r.Contact)
	if err != nil || !r.Source.IsValid() {
		return false
	}
	a, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	return err == nil && a.Unmap() == r.Source.Addr().Unmap()
}

// parseContact reads a registered contact, bare or in angle brackets.
func parseContact(s string) (sip.Uri, error) {
	var u sip.Uri
	if strings.ContainsFunc(s, isCtl) {
		return u, fmt.Errorf("%w: control character in contact", ErrBadDialRequest)
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		s = s[1 : len(s)-1]
	}
	if err := sip.ParseUri(s, &u); err != nil {
		return u, fmt.Errorf("%w: contact %q: %w", ErrBadDialRequest, s, err)
	}
	if (!strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips")) || u.Host == "" {
		return u, fmt.Errorf("%w: contact %q is not a sip or sips URI with a host", ErrBadDialRequest, s)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

// dialTransport is "UDP", "TCP" or "TLS": as registered, else the
// contact's transport parameter, else TLS for sips: and UDP for sip:
// (RFC 3263 §4.1).
func dialTransport(t string, contact sip.Uri) (string, error) {
	if t == "" && contact.UriParams != nil {
		t, _ = contact.UriParams.Get("transport")
	}
	switch strings.ToLower(t) {
	case "":
		if strings.EqualFold(contact.Scheme, "sips") {
			return transportTLS, nil
		}
		return "UDP", nil
	case "udp":
		return "UDP", nil
	case "tcp":
		return "TCP", nil
	case "tls":
		return transportTLS, nil
	}
	return "", fmt.Errorf("%w: transport %q (udp, tcp or tls)", ErrBadDialRequest, t)
}

// extraHeaders checks the caller's extra headers: token names (RFC 3261
// §25.1), none we build ourselves, no control characters in values so
// nothing can be injected; empty values are left out. The names in order
// come first, in that order (a screen pop reads them so), the rest sorted:
// INVITEs are reproducible.
func extraHeaders(h map[string]string, order []string) ([]sip.Header, error) {
	names := make([]string, 0, len(h))
	for k := range h {
		if !slices.Contains(order, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	first := make([]string, 0, len(order))
	for _, k := range order {
		if _, ok := h[k]; ok && !slices.Contains(first, k) {
			first = append(first, k)
		}
	}
	names = append(first, names...)
	out := make([]sip.Header, 0, len(names))
	for _, k := range names {
		v := strings.TrimSpace(h[k])
		switch {
		case !isToken(k):
			return nil, fmt.Errorf("%w: header name %q is not a token", ErrBadDialRequest, k)
		case slices.Contains(reservedHeaders, strings.ToLower(k)):
			return nil, fmt.Errorf("%w: header %q is set by the gateway", ErrBadDialRequest, k)
		case strings.ContainsFunc(v, func(r rune) bool { return r != '\t' && isCtl(r) }):
			return nil, fmt.Errorf("%w: header %q value contains a control character", ErrBadDialRequest, k)
		case !utf8.ValidString(v):
			return nil, fmt.Errorf("%w: header %q value is not UTF-8", ErrBadDialRequest, k)
		case v == "":
			continue
		}
		out = append(out, sip.NewHeader(k, v))
	}
	return out, nil
}

// isToken reports whether s is an RFC 3261 §25.1 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

// quoteDisplay makes the inside of a quoted-string (RFC 3261 §25.1) from a
// caller's display name: quotes and backslashes escaped, control
// characters (CR, LF, ...) dropped, invalid UTF-8 replaced, length bounded.
func quoteDisplay(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if isCtl(r) {
			continue
		}
		if n+utf8.RuneLen(r) > maxDisplay {
			break
		}
		n += utf8.RuneLen(r)
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// escapeUser writes a caller number as the user part of a SIP URI
// (RFC 3261 §25.1 user): characters outside unreserved and the safe
// user-unreserved ones are %-escaped; an existing %XX escape is kept. An
// empty number becomes "anonymous" (RFC 3323 §4.1.1.3 style).
func escapeUser(s string) string {
	if s == "" {
		return "anonymous"
	}
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			b.WriteByte(c)
		case strings.IndexByte("-_.!~*'()&=+$,/", c) >= 0:
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		default:
			// ';' '?' '@' ':' and the rest would end the user part or
			// confuse parsers; escaping is always allowed.
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isSDP reports whether a Content-Type is application/sdp.
func isSDP(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/sdp")
}
