package sip

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// sipgo drops a datagram its parser refuses, logging all of it at error
// level, so the sender gets no answer and retransmits until its timer
// expires. readFilter runs before sipgo's parser on every UDP datagram: a
// message the parser refuses but whose Via, From, To, Call-ID and CSeq can
// be read gets a stateless 400 (or 416 for a Request-URI scheme sipgo does
// not know), RFC 3261 §8.2 and §16.3; anything else is dropped. Either way
// the event is logged at most once a second.
//
// Over TCP a parse error leaves no message boundary to resync on; sipgo
// closes the connection, which RFC 4475 §3.1.2.2 allows.
func (s *Server) readFilter(info sip.TransportReadProps, data []byte) ([]byte, error) {
	if info.Transport == "TCP" {
		return s.frames.filter(info.RemoteAddr.String(), data)
	}
	if info.Transport != "UDP" || len(bytes.Trim(data, "\r\n\x00")) == 0 {
		return data, nil
	}
	_, err := s.parser.ParseSIP(data)
	if err == nil {
		return data, nil
	}
	src := addrPortOf(info.RemoteAddr)
	if !s.guard.rawAnswerAllowed(data, src.Addr()) {
		return nil, nil // a source over its rate limit gets no stateless answers either
	}
	res, dst, ok := s.rejectRaw(data, src)
	if ok {
		if _, werr := s.udp.WriteTo(res, net.UDPAddrFromAddrPort(dst)); werr != nil {
			ok = false
		}
	}
	if ok {
		s.badSent.Add(1)
	}
	s.badLog.log(s.log, "sip malformed datagram", "source", src.String(), "answered", ok, "error", err.Error())
	return nil, nil
}

// viaRe reads the sent-by and the parameters of a Via value (RFC 3261
// §20.42), allowing LWS around the slashes.
var viaRe = regexp.MustCompile(`(?i)^SIP\s*/\s*[^/\s]+\s*/\s*[a-z]+\s+([^;,\s]+)\s*(;[^,]*)?`)

// schemeRe is the URI scheme grammar of RFC 3986 §3.1.
var schemeRe = regexp.MustCompile(`^[a-z][a-z0-9+\-.]*$`)

// rejectRaw builds a stateless response to an unparsable request from its
// raw header lines, and where to send it: the source address with the Via
// port (RFC 3261 §18.2.2, RFC 3581 rport).
func (s *Server) rejectRaw(data []byte, src netip.AddrPort) ([]byte, netip.AddrPort, bool) {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	lines := unfold(strings.Split(string(head), "\r\n"))
	if len(lines) < 2 || strings.HasPrefix(lines[0], "SIP/") {
		return nil, netip.AddrPort{}, false // a response, or nothing
	}
	var vias []string
	hdr := map[string]string{}
	for _, l := range lines[1:] {
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.TrimSpace(val)
		switch name {
		case "v", "via":
			vias = append(vias, val)
		case "f", "from", "t", "to", "i", "call-id", "cseq":
			long := map[string]string{"v": "via", "f": "from", "t": "to", "i": "call-id"}[name]
			if long == "" {
				long = name
			}
			if _, dup := hdr[long]; !dup {
				hdr[long] = val
			}
		}
	}
	if len(vias) == 0 || hdr["from"] == "" || hdr["to"] == "" || hdr["call-id"] == "" || hdr["cseq"] == "" {
		return nil, netip.AddrPort{}, false
	}
	// A bare CR or LF (or NUL) inside a value we would echo could split
	// our response into other headers: such a message is not answered.
	for _, v := range append(vias, hdr["from"], hdr["to"], hdr["call-id"], hdr["cseq"]) {
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, netip.AddrPort{}, false
		}
	}
	top, _, _ := strings.Cut(vias[0], ",")
	m := viaRe.FindStringSubmatch(strings.TrimSpace(top))
	if m == nil {
		return nil, netip.AddrPort{}, false
	}
	port := 5060
	if _, p, err := net.SplitHostPort(m[1]); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
			port = n
		}
	}
	if params := strings.ToLower(m[2]); strings.Contains(params+";", ";rport;") {
		port = int(src.Port())
	}
	code, reason := 400, "Bad Request"
	if f := strings.Fields(lines[0]); len(f) == 3 {
		// Only a well-formed but unknown scheme is 416 (RFC 3261 §8.2.2.1);
		// "<sip" (RFC 4475 §3.1.2.7) is just malformed.
		scheme, _, _ := strings.Cut(f[1], ":")
		switch s := strings.ToLower(scheme); {
		case s == "sip", s == "sips", s == "tel", !schemeRe.MatchString(s):
		default:
			code, reason = 416, "Unsupported URI Scheme"
		}
	}
	to := hdr["to"]
	if !strings.Contains(strings.ToLower(to), ";tag=") {
		to += ";tag=" + sip.GenerateTagN(10) // RFC 3261 §8.2.6.2
	}
	var b strings.Builder
	b.WriteString("SIP/2.0 " + strconv.Itoa(code) + " " + reason + "\r\n")
	for _, v := range vias {
		b.WriteString("Via: " + v + "\r\n")
	}
	b.WriteString("From: " + hdr["from"] + "\r\nTo: " + to + "\r\nCall-ID: " + hdr["call-id"] +
		"\r\nCSeq: " + hdr["cseq"] + "\r\nServer: " + s.cfg.UserAgent + "\r\nContent-Length: 0\r\n\r\n")
	return []byte(b.String()), netip.AddrPortFrom(src.Addr(), uint16(port)), true
}

// unfold joins header continuation lines (RFC 3261 §7.3.1).
func unfold(lines []string) []string {
	out := lines[:0:0]
	for _, l := range lines {
		if len(out) > 1 && l != "" && (l[0] == ' ' || l[0] == '\t') {
			out[len(out)-1] += " " + strings.TrimSpace(l)
			continue
		}
		out = append(out, l)
	}
	return out
}

// limiter lets one log line through per period and counts the rest, so a
// flood of bad packets costs one line a second.
type limiter struct {
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *limiter) allow() (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.last) < l.every {
		l.suppressed++
		return false, 0
	}
	l.last, suppressed, l.suppressed = now, l.suppressed, 0
	return true, suppressed
}

func (l *limiter) log(log *slog.Logger, msg string, args ...any) {
	if ok, n := l.allow(); ok {
		log.Warn(msg, append(args, "suppressed", n)...)
	}
}

// quietHandler passes sipgo's log records on, except its per-packet parse
// failures, which carry the whole message: those go through the limiter,
// without the data.
type quietHandler struct {
	next slog.Handler
	lim  *limiter
}

func (h *quietHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "failed to parse" {
		ok, n := h.lim.allow()
		if !ok {
			return nil
		}
		nr := slog.NewRecord(r.Time, slog.LevelWarn, "sip malformed message", r.PC)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key != "data" {
				nr.AddAttrs(a)
			}
			return true
		})
		nr.AddAttrs(slog.Int("suppressed", n))
		return h.next.Handle(ctx, nr)
	}
	return h.next.Handle(ctx, r)
}

func (h *quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietHandler{next: h.next.WithAttrs(as), lim: h.lim}
}

func (h *quietHandler) WithGroup(name string) slog.Handler {
	return &quietHandler{next: h.next.WithGroup(name), lim: h.lim}
}
