package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Dialog is what any gateway of the pool needs to end a dialog this one
// holds, should this one die: the fields of the BYE (RFC 3261 §12.2.1.1)
// and where to send it. It is plain data, kept in Redis with the bridge.
type Dialog struct {
	CallID    string   `json:"call_id"`
	Target    string   `json:"target"` // Request-URI: the remote target
	From      string   `json:"from"`   // our side, with our tag
	To        string   `json:"to"`     // their side, with their tag
	Routes    []string `json:"routes,omitempty"`
	CSeq      uint32   `json:"cseq"` // the BYE's
	Dest      string   `json:"dest"` // IP:port the BYE goes to: where their packets came from
	Transport string   `json:"transport"`
}

// byeCSeqGap puts the stored BYE's CSeq above any request this gateway will
// still send in the dialog (INFO for keys): a CSeq only has to grow
// (RFC 3261 §12.2.1.1).
const byeCSeqGap = 1 << 16

// Dialog returns the caller's dialog as a Dialog (after the answer).
func (c *Call) Dialog() Dialog {
	c.mu.Lock()
	defer c.mu.Unlock()
	return dialogOf(c.request(sip.BYE, c.cseq+byeCSeqGap), c.source)
}

// Dialog returns the agent's dialog as a Dialog (once answered).
func (o *Outbound) Dialog() Dialog {
	o.mu.Lock()
	defer o.mu.Unlock()
	return dialogOf(o.request(sip.BYE, o.cseq+byeCSeqGap), o.dest)
}

func dialogOf(req *sip.Request, fallback netip.AddrPort) Dialog {
	d := Dialog{
		CallID: req.CallID().Value(), Target: req.Recipient.String(),
		From: req.From().Value(), To: req.To().Value(), CSeq: req.CSeq().SeqNo,
		Dest: req.Destination(), Transport: req.Transport(),
	}
	if _, err := netip.ParseAddrPort(d.Dest); err != nil {
		d.Dest = fallback.String() // a route by name: never resolved, see EndDialog
	}
	for _, r := range req.GetHeaders("Route") {
		d.Routes = append(d.Routes, r.Value())
	}
	return d
}

// ErrBadDialog: a stored Dialog that cannot be sent as it is.
var ErrBadDialog = errors.New("sip: bad stored dialog")

// EndDialog sends the BYE of a dialog another gateway held, from this
// server's socket, and waits for the answer (bounded by ctx). Only an IP
// literal destination is used: nothing from a stored dialog is ever
// resolved by DNS. A 481 (the far end had already let go) counts as done.
func (s *Server) EndDialog(ctx context.Context, d Dialog) error {
	dest, err := netip.ParseAddrPort(d.Dest)
	if err != nil {
		return fmt.Errorf("%w: destination %q is not ip:port", ErrBadDialog, d.Dest)
	}
	var target sip.Uri
	if err := sip.ParseUri(d.Target, &target); err != nil {
		return fmt.Errorf("%w: target %q: %w", ErrBadDialog, d.Target, err)
	}
	from, err := parseAddress(d.From)
	if err != nil {
		return fmt.Errorf("%w: from: %w", ErrBadDialog, err)
	}
	to, err := parseAddress(d.To)
	if err != nil {
		return fmt.Errorf("%w: to: %w", ErrBadDialog, err)
	}
	if d.CallID == "" || strings.ContainsFunc(d.CallID+strings.Join(d.Routes, ""), isCtl) {
		return fmt.Errorf("%w: call-id or route", ErrBadDialog)
	}
	transport := strings.ToUpper(d.Transport)
	if transport != "TCP" {
		transport = "UDP"
	}
	req := sip.NewRequest(sip.BYE, target)
	fh := from
	th := sip.ToHeader(to)
	req.AppendHeader(&fh)
	req.AppendHeader(&th)
	cid := sip.CallIDHeader(d.CallID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: d.CSeq, MethodName: sip.BYE})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, r := range d.Routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(sip.NewHeader("Reason", `SIP;cause=500;text="gateway failed"`))
	req.AppendHeader(sip.NewHeader("User-Agent", s.cfg.UserAgent))
	req.SetBody(nil)
	req.PrependHeader(s.outVia(transport)) // our own Via, as on the requests we build for our dialogs
	s.routeOut(req, transport, dest)
	tx, err := s.client.TransactionRequest(ctx, req, asBuilt)
	if err != nil {
		return fmt.Errorf("end dialog %s: %w", d.CallID, err)
	}
	res, err := finalResponse(ctx, tx)
	if err != nil {
		return fmt.Errorf("end dialog %s: %w", d.CallID, err)
	}
	if res.StatusCode >= 300 && res.StatusCode != 481 {
		return fmt.Errorf("end dialog %s: %d %s", d.CallID, res.StatusCode, res.Reason)
	}
	return nil
}

func parseAddress(v string) (sip.FromHeader, error) {
	var h sip.FromHeader
	h.Params = sip.NewParams()
	name, err := sip.ParseAddressValue(v, &h.Address, &h.Params)
	if err != nil {
		return h, err
	}
	h.DisplayName = name
	return h, nil
}
