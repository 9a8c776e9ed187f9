package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseOptionsRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error; "" for accepted
	}{
		{"defaults", nil, nil, ""},
		{"bad log level", []string{"-log-level", "verbose"}, nil, "-log-level"},
		{"bad log level from env", nil, map[string]string{"IVRGW_LOG_LEVEL": "loud"}, "-log-level"},
		{"admin off loopback without token", []string{"-http", "0.0.0.0:8080"}, nil, "-admin-token"},
		{"admin on all interfaces without token", []string{"-http", ":8080"}, nil, "-admin-token"},
		{"admin off loopback with token", []string{"-http", "0.0.0.0:8080", "-admin-token", "t0k"}, nil, ""},
		{"admin token from env", []string{"-http", "0.0.0.0:8080"}, map[string]string{"IVRGW_ADMIN_TOKEN": "t0k"}, ""},
		{"public path without slash", []string{"-admin-public", "metrics"}, nil, "-admin-public"},
		{"negative drain", []string{"-drain-timeout", "-1s"}, nil, "-drain-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := parseOptions(tt.args, io.Discard)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("parseOptions(%q) = %v, want accepted", tt.args, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("parseOptions(%q) = %v, want an error naming %s", tt.args, err, tt.want)
			}
		})
	}
}
