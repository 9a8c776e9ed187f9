package testphone

import (
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"
)

// enableKernelTimestamps asks the kernel to stamp each datagram when it
// reaches the socket (SO_TIMESTAMPNS), so arrival times measure the sender
// and the network, not how soon this process got to read: under load a
// reader goroutine may run milliseconds after the packet arrived.
func enableKernelTimestamps(conn *net.UDPConn) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return false
	}
	return true
}

// readStamped reads one datagram and its kernel arrival time (zero when
// the kernel gave none).
func readStamped(conn *net.UDPConn, buf, oob []byte) (int, netip.AddrPort, time.Time, error) {
	n, oobn, _, src, err := conn.ReadMsgUDPAddrPort(buf, oob)
	if err != nil {
		return 0, src, time.Time{}, err
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return n, src, time.Time{}, nil
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
			return n, src, time.Unix(ts.Sec, ts.Nsec), nil
		}
	}
	return n, src, time.Time{}, nil
}
