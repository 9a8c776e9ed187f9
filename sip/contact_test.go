package sip

import (
	"net/netip"
	"testing"
)

func TestContactAtSource(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.10:5060")
	for _, tc := range []struct {
		contact string
		source  netip.AddrPort
		want    bool
	}{
		{"sip:alice@192.0.2.10:5060", src, true},
		{"<sip:alice@192.0.2.10;transport=udp>", netip.MustParseAddrPort("192.0.2.10:40000"), true}, // port may differ: the host is what SDP names
		{"sip:alice@10.0.0.5:5060", src, false},                                                     // a NAT'd phone names its private address
		{"sip:alice@phone.example", src, false},                                                     // a host name is not an address
		{"sip:bob@[2001:db8::1]:5060", netip.MustParseAddrPort("[2001:db8::1]:5060"), true},
		{"sip:alice@192.0.2.10", netip.AddrPort{}, false},
		{"not a uri", src, false},
	} {
		r := DialRequest{Contact: tc.contact, Source: tc.source}
		if got := r.ContactAtSource(); got != tc.want {
			t.Errorf("ContactAtSource(%q from %v) = %v, want %v", tc.contact, tc.source, got, tc.want)
		}
	}
}
