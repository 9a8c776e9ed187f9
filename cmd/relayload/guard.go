package main

import (
	"fmt"
	"net/netip"
)

// loopbackAddrPort parses "IP:PORT" with a literal IP (no host names, so
// nothing is resolved) and refuses anything outside loopback, and port 0.
func loopbackAddrPort(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: want a literal loopback IP:PORT: %v", s, err)
	}
	if err := loopbackOnly(ap.Addr()); err != nil {
		return netip.AddrPort{}, err
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("%q: port 0", s)
	}
	return ap, nil
}

// loopbackOnly refuses every address that is not loopback (127.0.0.0/8,
// ::1, or an IPv4-mapped 127/8).
func loopbackOnly(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("no address")
	}
	if a.Zone() != "" {
		return fmt.Errorf("%v: no zones: relayload only talks to loopback", a)
	}
	if !a.Unmap().IsLoopback() {
		return fmt.Errorf("%v is not a loopback address: relayload only talks to loopback", a)
	}
	return nil
}
