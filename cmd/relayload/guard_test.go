package main

import (
	"net/netip"
	"testing"
)

func TestLoopbackAddrPort(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"127.0.0.1:2223", true},
		{"127.9.8.7:1", true},
		{"[::1]:2223", true},
		{"[::ffff:127.0.0.1]:2223", true},
		{"127.0.0.1:0", false},
		{"10.0.0.1:2223", false},
		{"192.0.2.10:2223", false},
		{"0.0.0.0:2223", false},
		{"[::]:2223", false},
		{"[fe80::1%lo]:2223", false},
		{"[::1%lo]:2223", false},
		{"localhost:2223", false},
		{"127.0.0.1", false},
		{"", false},
	}
	for _, tt := range tests {
		ap, err := loopbackAddrPort(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("loopbackAddrPort(%q) = %v, %v, want ok %v", tt.in, ap, err, tt.ok)
		}
	}
}

func TestRelayTargetLoopbackOnly(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1", true}, {"::1", true}, {"10.1.2.3", false}, {"192.0.2.1", false}} {
		a := netip.MustParseAddr(tt.addr)
		_, err := relayTarget(map[string]any{"result": "ok", "sdp": legSDP(a, 4000, 1)})
		if (err == nil) != tt.ok {
			t.Errorf("relayTarget(sdp at %v) error = %v, want ok %v", a, err, tt.ok)
		}
	}
	if _, err := relayTarget(map[string]any{"result": "ok"}); err == nil {
		t.Errorf("relayTarget(no sdp) error = nil, want an error")
	}
}
