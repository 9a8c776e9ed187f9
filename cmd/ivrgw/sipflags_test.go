package main

import (
	"fmt"
	"io"
	"testing"

	"github.com/ivrgw/ivrgw/sip"
)

func TestParseRateLimit(t *testing.T) {
	tests := []struct {
		in      string
		want    sip.RateLimit
		wantErr bool
	}{
		{"20/40", sip.RateLimit{Rate: 20, Burst: 40}, false},
		{"0.5/1", sip.RateLimit{Rate: 0.5, Burst: 1}, false},
		{"5", sip.RateLimit{Rate: 5, Burst: 10}, false},
		{"off", sip.RateLimit{Rate: -1}, false},
		{"0/10", sip.RateLimit{}, true},
		{"x/1", sip.RateLimit{}, true},
		{"5/0", sip.RateLimit{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseRateLimit(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseRateLimit(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSIPGuardFlags(t *testing.T) {
	o, err := parseOptions([]string{"-sip-allow", "127.0.0.1/32, 10.1.2.3/8,::1", "-sip-max-pending", "0", "-sip-limit-options", "off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(o.sipAllow); got != "[127.0.0.1/32 10.0.0.0/8 ::1/128]" {
		t.Errorf("-sip-allow = %s, want [127.0.0.1/32 10.0.0.0/8 ::1/128]", got)
	}
	if o.sipLimits.MaxPending != -1 || o.sipLimits.Options.Rate != -1 || o.sipLimits.Invite != (sip.RateLimit{Rate: 20, Burst: 40}) {
		t.Errorf("limits = %+v, want MaxPending -1 (no cap), OPTIONS off, INVITE 20/40", o.sipLimits)
	}
	for _, bad := range [][]string{{"-sip-allow", "10.0.0.0/33"}, {"-sip-limit-invite", "fast"}, {"-sip-max-pending", "-1"}, {"-register-lockout", "0s"}} {
		if _, err := parseOptions(bad, io.Discard); err == nil {
			t.Errorf("parseOptions(%q) = nil error, want one", bad)
		}
	}
}
