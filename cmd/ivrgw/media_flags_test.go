package main

import (
	"io"
	"testing"
	"time"
)

// TestRTPQuarantineFlag: a released RTP port rests 3 s by default (it was
// 30 s, which let a flood of INVITEs hold the whole range for over a
// minute), and the setting is a flag and an IVRGW_ variable.
func TestRTPQuarantineFlag(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		args    []string
		want    time.Duration
		wantErr bool
	}{
		{"default", "", nil, 3 * time.Second, false},
		{"flag", "", []string{"-rtp-quarantine", "10s"}, 10 * time.Second, false},
		{"env", "500ms", nil, 500 * time.Millisecond, false},
		{"off", "", []string{"-rtp-quarantine", "0s"}, 0, false},
		{"negative", "", []string{"-rtp-quarantine", "-1s"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("IVRGW_RTP_QUARANTINE", tt.env)
			}
			o, err := parseOptions(tt.args, io.Discard)
			if tt.wantErr {
				if err == nil {
					t.Errorf("parseOptions(%q) error = nil, want an error", tt.args)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseOptions(%q) error = %v", tt.args, err)
			}
			if o.rtpQuarantine != tt.want {
				t.Errorf("parseOptions(%q).rtpQuarantine = %v, want %v", tt.args, o.rtpQuarantine, tt.want)
			}
		})
	}
}
