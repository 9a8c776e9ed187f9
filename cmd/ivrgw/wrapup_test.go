package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/routing"
)

// TestWrapUpFlag: -wrap-up (IVRGW_WRAP_UP) reaches the agents' store: a
// finished call puts the agent in wrap_up for that long (0: straight back
// to available), 5 s by default.
func TestWrapUpFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		want time.Duration // 0: no wrap-up
	}{
		{"default", nil, "", 5 * time.Second},
		{"flag", []string{"-wrap-up", "2s"}, "", 2 * time.Second},
		{"env", nil, "45s", 45 * time.Second},
		{"none", []string{"-wrap-up", "0s"}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("IVRGW_WRAP_UP", tt.env)
			}
			o, err := parseOptions(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("parseOptions(%q) = %v", tt.args, err)
			}
			store, closeStore, err := openStore("", o.storeOptions(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			b := routing.Binding{Contact: "sip:1002@127.0.0.1:5999", Source: netip.MustParseAddrPort("127.0.0.1:5999"), Transport: "udp"}
			if err := store.SetBinding(ctx, "1002", b, time.Minute); err != nil {
				t.Fatal(err)
			}
			c, err := store.Claim(ctx, "", "call-1", "gw1")
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Answered(ctx, c); err != nil {
				t.Fatal(err)
			}
			before := time.Now().Truncate(time.Millisecond)
			if err := store.Release(ctx, c, routing.Completed); err != nil {
				t.Fatal(err)
			}
			after := time.Now()
			a, err := store.Agent(ctx, "1002")
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == 0 {
				if a.State != routing.Available {
					t.Errorf("agent after release with %q = %s, want available at once", tt.args, a.State)
				}
				return
			}
			if a.State != routing.WrapUp {
				t.Fatalf("agent after release with %q = %s, want wrap_up", tt.args, a.State)
			}
			if a.WrapUntil.Before(before.Add(tt.want)) || a.WrapUntil.After(after.Add(tt.want)) {
				t.Errorf("wrap_up until %v after the release, want %v", a.WrapUntil.Sub(before), tt.want)
			}
		})
	}
}

// TestWrapUpFlagRefused: a negative wrap-up is a mistake, not "none".
func TestWrapUpFlagRefused(t *testing.T) {
	if _, err := parseOptions([]string{"-wrap-up", "-1s"}, io.Discard); err == nil {
		t.Errorf("parseOptions(-wrap-up -1s) = nil error, want refused")
	}
}
