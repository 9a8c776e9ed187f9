package sip

import (
	"context"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestInDialogNamesNotResolved: the BYE we send follows the caller's
// Contact and Record-Route only when they are IP literals; a host name
// (attacker.invalid) is never resolved, and the BYE goes back to the
// source the INVITE came from.
func TestInDialogNamesNotResolved(t *testing.T) {
	tests := []struct {
		name string
		hdrs []string
	}{
		{"record-route name", []string{"Record-Route: <sip:attacker.invalid;lr>"}},
		{"record-route name with port", []string{"Record-Route: <sip:attacker.invalid:5070;lr>", "Record-Route: <sip:127.0.0.9;lr>"}},
		{"contact name", []string{}}, // Contact is replaced below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hung := make(chan error, 1)
			s := startServer(t, func(ctx context.Context, c *Call) {
				if _, err := c.Answer(ctx, testLocal); err != nil {
					hung <- err
					return
				}
				hung <- c.Hangup(ctx)
			})
			p := newPhone(t, s, false)
			d := p.newDialog("dns")
			msg := d.request("INVITE", "", 1, offerSDP, tt.hdrs...)
			if tt.name == "contact name" {
				msg = replaceHeader(msg, "Contact", "<sip:alice@attacker.invalid:5060>")
			}
			p.send(msg)
			ok := p.expect(200, "INVITE")
			d.toTag = toTagRes(ok)
			p.send(d.request("ACK", "", 1, ""))
			bye := p.expectRequest("BYE")
			p.send(sip.NewResponseFromRequest(bye, 200, "OK", nil).String())
			if err := recvT(t, hung, "Hangup"); err != nil {
				t.Errorf("Hangup() = %v, want nil", err)
			}
		})
	}
}
