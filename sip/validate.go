package sip

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// rejection is a response decided by request validation.
type rejection struct {
	code    int
	reason  string
	headers []sip.Header
}

// wrap puts request validation and panic recovery in front of a handler;
// sipgo recovers no panics itself (FACTS.md).
func (s *Server) wrap(fn sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		tx, answered := s.frames.track(req, tx)
		defer answered()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("sip handler panic", "method", string(req.Method), "call_id", callID(req),
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				if !req.IsAck() {
					s.respond(req, tx, 500, "Server Internal Error")
				}
			}
		}()
		if !s.admit(req, tx) {
			return
		}
		if rej := s.validate(req); rej != nil {
			s.logBad(req, rej)
			if !req.IsAck() { // an ACK is never answered (RFC 3261 §17.2.3)
				s.respond(req, tx, rej.code, rej.reason, rej.headers...)
			}
			return
		}
		fn(req, tx)
	}
}

// validate applies the UAS checks of RFC 3261 §8.2 in its order, after the
// basic well-formedness the parser does not enforce.
func (s *Server) validate(req *sip.Request) *rejection {
	// RFC 3261 §8.1.1: these are mandatory, and single-valued (§7.3.1, §20).
	for _, h := range []string{"Call-ID", "From", "To", "CSeq", "Via"} {
		if len(req.GetHeaders(h)) == 0 {
			return &rejection{code: 400, reason: "Bad Request (missing " + h + ")"}
		}
	}
	for _, h := range []string{"Call-ID", "From", "To", "CSeq", "Max-Forwards", "Content-Length"} {
		if len(req.GetHeaders(h)) > 1 {
			return &rejection{code: 400, reason: "Bad Request (multiple " + h + ")"}
		}
	}
	if req.SipVersion != "SIP/2.0" {
		return &rejection{code: 505, reason: "Version Not Supported"} // RFC 3261 §21.5.6
	}
	// sipgo upper-cases the request-line method, not the CSeq one.
	if cseq := req.CSeq(); !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return &rejection{code: 400, reason: "Bad Request (CSeq method mismatch)"} // RFC 3261 §8.1.1.5
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return &rejection{code: 400, reason: "Bad Request (Content-Length)"} // RFC 3261 §18.3
	}
	// RFC 3261 §8.2.1: method first, so that an unknown method is 405/501
	// whatever else it carries.
	if !s.implements(string(req.Method)) {
		return s.unsupportedMethod(req)
	}
	// RFC 3261 §8.2.2.1: Request-URI scheme.
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "tel":
	default:
		return &rejection{code: 416, reason: "Unsupported URI Scheme"}
	}
	// RFC 3261 §8.2.2.3: Require, ignored for ACK and CANCEL. We support no
	// extension, so every tag listed is unsupported (420 + Unsupported).
	if !req.IsAck() && !req.IsCancel() {
		var unsupported []string
		for _, h := range req.GetHeaders("Require") {
			for _, tag := range strings.Split(h.Value(), ",") {
				if tag = strings.TrimSpace(tag); tag != "" {
					unsupported = append(unsupported, tag)
				}
			}
		}
		if len(unsupported) > 0 {
			return &rejection{code: 420, reason: "Bad Extension",
				headers: []sip.Header{sip.NewHeader("Unsupported", strings.Join(unsupported, ", "))}}
		}
	}
	return nil
}

func (s *Server) implements(method string) bool {
	if slices.Contains(baseMethods, method) {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.extra[method]
}

// unsupportedMethod is 405 with Allow for a standard method we do not
// implement, 501 for one nobody defined (RFC 3261 §8.2.1, §21.5.2).
func (s *Server) unsupportedMethod(req *sip.Request) *rejection {
	allow := sip.NewHeader("Allow", s.allow())
	if slices.Contains(standardMethods, string(req.Method)) {
		return &rejection{code: 405, reason: "Method Not Allowed", headers: []sip.Header{allow}}
	}
	return &rejection{code: 501, reason: "Not Implemented", headers: []sip.Header{allow}}
}

// onNoRoute only runs for methods validate let through, which cannot
// happen; it answers like validate would.
func (s *Server) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	rej := s.unsupportedMethod(req)
	s.respond(req, tx, rej.code, rej.reason, rej.headers...)
}

// onOptions answers OPTIONS with our capabilities (RFC 3261 §11.2).
// Max-Forwards 0 needs nothing special at a UAS (RFC 3261 §8.2, RFC 4475 §3.3.11).
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if toTag(req) == "" && s.refuseDraining(req, tx) {
		return // out of dialog: a keep-alive probe, told to go elsewhere
	}
	s.respond(req, tx, 200, "OK",
		sip.NewHeader("Allow", s.allow()),
		sip.NewHeader("Accept", "application/sdp"))
}

// respond sends a response built from req, with our Server header.
func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	// sipgo copies the request's version; ours is the only one we speak,
	// also in the 505 to a SIP/7.0 request (RFC 3261 §7.2, RFC 4475 §3.1.2.16).
	res.SipVersion = "SIP/2.0"
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Server", s.cfg.UserAgent))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond failed", "code", code, "call_id", callID(req), "error", err)
	}
}

func (s *Server) logBad(req *sip.Request, rej *rejection) {
	if rej.code == 400 {
		s.badLog.log(s.log, "sip bad request", "method", string(req.Method), "call_id", callID(req), "reason", rej.reason)
		return
	}
	s.log.Debug("sip request rejected", "method", string(req.Method), "call_id", callID(req), "code", rej.code)
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}
