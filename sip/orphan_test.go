package sip

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestEndDialogRefuses: a stored dialog is sent only as it safely can be:
// an IP-literal destination over UDP or TCP; a name, a bad URI or a leg
// whose TLS connection was the dead gateway's is refused, not resolved or
// dialled.
func TestEndDialogRefuses(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) {})
	good := Dialog{
		CallID: "orphan-1@test", Target: "sip:1002@127.0.0.1:5099", From: "<sip:ivrgw@127.0.0.1>;tag=a",
		To: "<sip:1002@127.0.0.1>;tag=b", CSeq: 70000, Dest: "127.0.0.1:5099", Transport: "UDP",
	}
	tests := []struct {
		name string
		edit func(*Dialog)
		want error
	}{
		{"host name destination", func(d *Dialog) { d.Dest = "phone.example.com:5060" }, ErrBadDialog},
		{"bad target", func(d *Dialog) { d.Target = "not a uri" }, ErrBadDialog},
		{"control characters in call-id", func(d *Dialog) { d.CallID = "x\r\nVia: evil" }, ErrBadDialog},
		{"tls leg", func(d *Dialog) { d.Transport = "TLS" }, ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.edit(&d)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := s.EndDialog(ctx, d); !errors.Is(err, tt.want) {
				t.Errorf("EndDialog(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}
