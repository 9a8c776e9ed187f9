package sip

import (
	"errors"
	"log/slog"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/media/dtmf"
)

// onInfo takes key presses sent as SIP INFO (application/dtmf-relay or
// application/dtmf; RFC 6086 frames INFO, the bodies are vendor formats).
// Outside a dialog INFO gets 481 (RFC 6086 §4.2.2); another body type gets
// 415 with Accept (RFC 3261 §21.4.13); an empty body is the legacy
// keep-alive and gets 200.
func (s *Server) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	var push func(dtmf.Event)
	var log *slog.Logger
	if c := s.lookup(req); c != nil {
		push, log = c.pushDigit, c.log
	} else if o := s.lookupOutbound(req); o != nil {
		push, log = o.pushDigit, o.log // the agent's keys on an outbound leg
	} else {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	body := req.Body()
	if len(body) == 0 {
		s.respond(req, tx, 200, "OK")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	ev, err := dtmf.ParseInfo(ct, body)
	switch {
	case errors.Is(err, dtmf.ErrContentType):
		s.respond(req, tx, 415, "Unsupported Media Type",
			sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	case err != nil:
		log.Debug("sip info body refused", "error", err)
		s.respond(req, tx, 400, "Bad Request")
		return
	}
	s.respond(req, tx, 200, "OK")
	push(ev)
}
