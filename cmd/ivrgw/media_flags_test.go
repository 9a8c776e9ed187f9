package main

import (
	"io"
	"slices"
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

// TestRTPSharedFlag: -rtp-shared N takes the first N even ports of
// -rtp-ports for the shared sockets and leaves the rest to legs of their
// own; a range with nothing left over, or N out of bounds, is refused.
func TestRTPSharedFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		shared  []int
		poolMin int
		wantErr bool
	}{
		{"default off", nil, nil, 10000, false},
		{"two", []string{"-rtp-shared", "2"}, []int{10000, 10002}, 10004, false},
		{"odd start", []string{"-rtp-ports", "30001-30010", "-rtp-shared", "3"}, []int{30002, 30004, 30006}, 30008, false},
		{"nothing left", []string{"-rtp-ports", "30000-30005", "-rtp-shared", "3"}, nil, 0, true},
		{"negative", []string{"-rtp-shared", "-1"}, nil, 0, true},
		{"too many", []string{"-rtp-shared", "65"}, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
			if o.rtpShared == 0 {
				if tt.shared != nil {
					t.Fatalf("rtpShared = 0, want %v", tt.shared)
				}
				return
			}
			shared, poolMin, err := o.sharedPorts()
			if err != nil || !slices.Equal(shared, tt.shared) || poolMin != tt.poolMin {
				t.Errorf("sharedPorts() = %v, %d, %v; want %v, %d", shared, poolMin, err, tt.shared, tt.poolMin)
			}
		})
	}
}
