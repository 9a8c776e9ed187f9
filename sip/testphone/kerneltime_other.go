//go:build !linux

package testphone

import (
	"net"
	"net/netip"
	"time"
)

func enableKernelTimestamps(*net.UDPConn) bool { return false }

func readStamped(conn *net.UDPConn, buf, _ []byte) (int, netip.AddrPort, time.Time, error) {
	n, src, err := conn.ReadFromUDPAddrPort(buf)
	return n, src, time.Time{}, err
}
