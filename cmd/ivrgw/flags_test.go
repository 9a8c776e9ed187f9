package main

import (
	"io"
	"os"
	"path/filepath"
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

func TestDefaultsBesideBinary(t *testing.T) {
	install := t.TempDir() // /opt/ivrgw: the binary and its configs/
	if err := os.MkdirAll(filepath.Join(install, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	menu := filepath.Join(install, "configs", "menu.yaml")
	if err := os.WriteFile(menu, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(install, "ivrgw")
	t.Chdir(t.TempDir()) // somewhere else, without configs/
	tests := []struct{ rel, want string }{
		{"configs/menu.yaml", menu},
		{"configs/none.yaml", "configs/none.yaml"}, // not there either: left for the error to name
	}
	for _, tt := range tests {
		if got := besideBinaryOf(tt.rel, exe); got != tt.want {
			t.Errorf("besideBinaryOf(%q) = %q, want %q", tt.rel, got, tt.want)
		}
	}
	// From the working directory first.
	if err := os.MkdirAll("configs", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("configs/menu.yaml", []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := besideBinary("configs/menu.yaml"); got != "configs/menu.yaml" {
		t.Errorf("besideBinary with ./configs/menu.yaml = %q, want the working directory's", got)
	}
}
