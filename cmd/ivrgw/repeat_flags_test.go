package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestRepeatFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		calls    int
		window   time.Duration
		priority int
		err      string // in the error; "" for accepted
	}{
		{name: "defaults", calls: 3, window: 30 * time.Minute, priority: 50},
		{name: "flags", args: []string{"-repeat-calls", "2", "-repeat-window", "10m", "-repeat-priority", "99"}, calls: 2, window: 10 * time.Minute, priority: 99},
		{name: "env", env: map[string]string{"IVRGW_REPEAT_CALLS": "5", "IVRGW_REPEAT_WINDOW": "1h", "IVRGW_REPEAT_PRIORITY": "0"}, calls: 5, window: time.Hour, priority: 0},
		{name: "flag beats env", args: []string{"-repeat-calls", "4"}, env: map[string]string{"IVRGW_REPEAT_CALLS": "5"}, calls: 4, window: 30 * time.Minute, priority: 50},
		{name: "off", args: []string{"-repeat-calls", "0"}, calls: 0, window: 30 * time.Minute, priority: 50},
		{name: "one call is every call", args: []string{"-repeat-calls", "1"}, err: "-repeat-calls"},
		{name: "negative calls", args: []string{"-repeat-calls", "-1"}, err: "-repeat-calls"},
		{name: "more than remembered", args: []string{"-repeat-calls", "33"}, err: "-repeat-calls"},
		{name: "no window", args: []string{"-repeat-window", "0s"}, err: "-repeat-window"},
		{name: "window under a second", args: []string{"-repeat-window", "500ms"}, err: "-repeat-window"},
		{name: "window over a day", args: []string{"-repeat-window", "25h"}, err: "-repeat-window"},
		{name: "priority too high", args: []string{"-repeat-priority", "100"}, err: "-repeat-priority"},
		{name: "negative priority", args: []string{"-repeat-priority", "-1"}, err: "-repeat-priority"},
		{name: "bad env", env: map[string]string{"IVRGW_REPEAT_CALLS": "three"}, err: "IVRGW_REPEAT_CALLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			o, err := parseOptions(tt.args, io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("parseOptions(%q) = %v, want an error naming %s", tt.args, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseOptions(%q) = %v, want accepted", tt.args, err)
			}
			if o.repeatCalls != tt.calls || o.repeatWindow != tt.window || o.repeatPriority != tt.priority {
				t.Errorf("parseOptions(%q) = calls %d window %v priority %d, want %d %v %d",
					tt.args, o.repeatCalls, o.repeatWindow, o.repeatPriority, tt.calls, tt.window, tt.priority)
			}
		})
	}
}
