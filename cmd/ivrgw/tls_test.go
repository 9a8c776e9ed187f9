package main

import (
	"io"
	"strings"
	"testing"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

func TestTLSFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantErr  string // "" for none
		wantSRTP sdp.SRTPMode
	}{
		{name: "off by default", args: nil, wantSRTP: sdp.SRTPOff},
		{name: "tls with cert", args: []string{"-tls-listen", "127.0.0.1:5061", "-tls-cert", "c.pem", "-tls-key", "k.pem", "-srtp", "required"}, wantSRTP: sdp.SRTPRequired},
		{name: "srtp without tls", args: []string{"-srtp", "optional"}, wantErr: "needs -tls-listen"},
		{name: "tls without key", args: []string{"-tls-listen", "127.0.0.1:5061", "-tls-cert", "c.pem"}, wantErr: "needs -tls-cert and -tls-key"},
		{name: "bad tls address", args: []string{"-tls-listen", "5061", "-tls-cert", "c.pem", "-tls-key", "k.pem"}, wantErr: "-tls-listen"},
		{name: "bad srtp mode", args: []string{"-srtp", "on"}, wantErr: "-srtp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseOptions(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || o.srtp != tt.wantSRTP {
				t.Fatalf("parseOptions(%q) = srtp %v, %v, want %v, nil", tt.args, o.srtp, err, tt.wantSRTP)
			}
		})
	}
	t.Run("env", func(t *testing.T) {
		t.Setenv("IVRGW_SRTP", "required")
		if _, err := parseOptions(nil, io.Discard); err == nil || !strings.Contains(err.Error(), "needs -tls-listen") {
			t.Errorf("parseOptions() with IVRGW_SRTP=required error = %v, want it to need -tls-listen", err)
		}
	})
}
