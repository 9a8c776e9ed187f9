package main

import (
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCallbackFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		trunk   string // "" when callbacks are off
		whisper bool
		err     string // in the error; "" for accepted
	}{
		{name: "defaults: whisper on, no callbacks", whisper: true},
		{name: "trunk", args: []string{"-trunk", "sip:127.0.0.1:5080"}, trunk: "127.0.0.1:5080", whisper: true},
		{name: "ipv6 trunk", args: []string{"-trunk", "sip:[::1]:5080"}, trunk: "[::1]:5080", whisper: true},
		{name: "env", env: map[string]string{"IVRGW_TRUNK": "sip:127.0.0.2:5070", "IVRGW_WHISPER": "off"}, trunk: "127.0.0.2:5070"},
		{name: "host name refused", args: []string{"-trunk", "sip:trunk.example.com:5060"}, err: "names are not resolved"},
		{name: "no scheme", args: []string{"-trunk", "127.0.0.1:5060"}, err: "want sip:IP:PORT"},
		{name: "no port", args: []string{"-trunk", "sip:127.0.0.1"}, err: "-trunk"},
		{name: "unspecified", args: []string{"-trunk", "sip:0.0.0.0:5060"}, err: "unicast"},
		{name: "whisper typo", args: []string{"-whisper", "yes"}, err: "-whisper"},
		{name: "leave key", args: []string{"-callback-key", "*"}, err: "leaves the queue"},
		{name: "two keys", args: []string{"-callback-key", "12"}, err: "-callback-key"},
		{name: "not a key", args: []string{"-callback-key", "x"}, err: "-callback-key"},
		{name: "negative retries", args: []string{"-callback-retries", "-1"}, err: "-callback-retries"},
		{name: "short ttl", args: []string{"-callback-ttl", "10s"}, err: "-callback-ttl"},
		{name: "from a uri", args: []string{"-callback-from", "sip:x@y"}, err: "-callback-from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			o, err := parseOptions(tt.args, io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseOptions(%v) = %v, want an error about %q", tt.args, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseOptions(%v) = %v", tt.args, err)
			}
			if got := o.whisper == "on"; got != tt.whisper {
				t.Errorf("whisper = %q, want on %v", o.whisper, tt.whisper)
			}
			cfg := o.callbackConfig(nil)
			if tt.trunk == "" {
				if cfg.Trunk.IsValid() {
					t.Errorf("trunk = %v, want callbacks off", cfg.Trunk)
				}
				return
			}
			if want := netip.MustParseAddrPort(tt.trunk); cfg.Trunk != want {
				t.Errorf("trunk = %v, want %v", cfg.Trunk, want)
			}
			if cfg.Key != '1' || cfg.Retries != 2 || cfg.OfferAfter != time.Minute || cfg.TTL != 2*time.Hour || cfg.From != "support" {
				t.Errorf("defaults = %+v", cfg)
			}
		})
	}
}
