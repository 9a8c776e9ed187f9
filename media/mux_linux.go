//go:build linux

package media

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of recvmmsg(2) and sendmmsg(2): x/sys/unix
// has the system call numbers but not the type. Go pads it as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// muxIO is a shared socket's batched system calls; it never allocates
// after init. The receive side belongs to the draining worker, the send
// side to whoever holds Mux.txMu.
type muxIO struct {
	rc syscall.RawConn
	v4 bool

	rxHdr  [muxBatch]mmsghdr
	rxIov  [muxBatch]unix.Iovec
	rxName [muxBatch]unix.RawSockaddrInet6 // large enough for either family
	rxBuf  [muxBatch][maxPacket]byte
	rxN    int
	rxFn   func(uintptr) bool // method value made once: no closure per call

	txHdr  [muxQueue]mmsghdr
	txIov  [muxQueue]unix.Iovec
	txName [muxQueue]unix.RawSockaddrInet6
	txBuf  [muxQueue][maxPacket]byte
	txN    int
	txOff  int // first queued datagram not yet sent
	txRet  int
	txErr  syscall.Errno
	txFn   func(uintptr) bool
}

func (x *muxIO) init(conn *net.UDPConn, v4 bool) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("raw socket: %w", err)
	}
	x.rc, x.v4 = rc, v4
	for i := range x.rxHdr {
		x.rxIov[i].Base = &x.rxBuf[i][0]
		x.rxIov[i].SetLen(maxPacket)
		h := &x.rxHdr[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&x.rxName[i]))
		h.Iov = &x.rxIov[i]
		h.SetIovlen(1)
	}
	for i := range x.txHdr {
		x.txIov[i].Base = &x.txBuf[i][0]
		h := &x.txHdr[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&x.txName[i]))
		h.Iov = &x.txIov[i]
		h.SetIovlen(1)
	}
	x.rxFn = x.recvmmsg
	x.txFn = x.sendmmsg
	return nil
}

// recv reads up to muxBatch datagrams without waiting; 0 when none is
// there (or the socket failed: a closed socket reads nothing).
func (x *muxIO) recv() int {
	for i := range x.rxHdr {
		x.rxHdr[i].hdr.Namelen = unix.SizeofSockaddrInet6
		x.rxHdr[i].n = 0
	}
	x.rxN = 0
	if err := x.rc.Read(x.rxFn); err != nil {
		return 0
	}
	return x.rxN
}

// recvmmsg is the RawConn.Read callback: one non-blocking try, always
// "done", so the netpoller never parks the worker.
func (x *muxIO) recvmmsg(fd uintptr) bool {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&x.rxHdr[0])), muxBatch, unix.MSG_DONTWAIT, 0, 0)
	if errno == 0 {
		x.rxN = int(n)
	}
	return true
}

func (x *muxIO) rxData(i int) []byte { return x.rxBuf[i][:x.rxHdr[i].n] }

func (x *muxIO) rxSource(i int) netip.AddrPort {
	return sockaddrToAddrPort(&x.rxName[i], x.rxHdr[i].hdr.Namelen)
}

func sockaddrToAddrPort(sa *unix.RawSockaddrInet6, n uint32) netip.AddrPort {
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

func (x *muxIO) txLen() int { return x.txN }

// txAdd queues b for to; false if to cannot be reached from this socket's
// family or b does not fit.
func (x *muxIO) txAdd(b []byte, to netip.AddrPort) bool {
	if len(b) > maxPacket || !to.IsValid() {
		return false
	}
	i := x.txN
	name := &x.txName[i]
	a := to.Addr()
	switch {
	case x.v4 && a.Unmap().Is4():
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		*s4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Unmap().As4()}
		p := (*[2]byte)(unsafe.Pointer(&s4.Port))
		p[0], p[1] = byte(to.Port()>>8), byte(to.Port())
		x.txHdr[i].hdr.Namelen = unix.SizeofSockaddrInet4
	case !x.v4:
		*name = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		p := (*[2]byte)(unsafe.Pointer(&name.Port))
		p[0], p[1] = byte(to.Port()>>8), byte(to.Port())
		x.txHdr[i].hdr.Namelen = unix.SizeofSockaddrInet6
	default:
		return false
	}
	copy(x.txBuf[i][:], b)
	x.txIov[i].SetLen(len(b))
	x.txN++
	return true
}

// send hands every queued datagram to the kernel and empties the queue.
// A datagram the kernel refuses (sendmmsg stops at the first failure) is
// counted and skipped; a full socket buffer is waited out by the netpoller.
func (x *muxIO) send() (sent, failed, calls int) {
	for x.txOff = 0; x.txOff < x.txN; {
		x.txRet, x.txErr = 0, 0
		err := x.rc.Write(x.txFn)
		calls++
		switch {
		case err != nil: // the socket is closed: nothing more can go
			failed += x.txN - x.txOff
			x.txOff = x.txN
		case x.txErr != 0:
			failed++
			x.txOff++
		default:
			sent += x.txRet
			x.txOff += x.txRet
		}
	}
	x.txN, x.txOff = 0, 0
	return sent, failed, calls
}

// sendmmsg is the RawConn.Write callback: false (wait until writable) only
// when the socket buffer is full.
func (x *muxIO) sendmmsg(fd uintptr) bool {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&x.txHdr[x.txOff])), uintptr(x.txN-x.txOff), 0, 0, 0)
	if errno == unix.EAGAIN {
		return false
	}
	if errno != 0 {
		x.txErr = errno
		return true
	}
	if n == 0 { // cannot happen with a non-empty vector; do not spin
		x.txErr = unix.EIO
		return true
	}
	x.txRet = int(n)
	return true
}
