//go:build !linux

package media

import (
	"errors"
	"net"
	"net/netip"
)

// muxIO needs recvmmsg and sendmmsg; elsewhere NewMux fails and the
// gateway uses a port per call.
type muxIO struct{}

func (x *muxIO) init(*net.UDPConn, bool) error {
	return errors.New("shared rtp sockets need linux (recvmmsg/sendmmsg)")
}
func (x *muxIO) recv() int                         { return 0 }
func (x *muxIO) rxData(int) []byte                 { return nil }
func (x *muxIO) rxSource(int) netip.AddrPort       { return netip.AddrPort{} }
func (x *muxIO) txLen() int                        { return 0 }
func (x *muxIO) txAdd([]byte, netip.AddrPort) bool { return false }
func (x *muxIO) send() (sent, failed, calls int)   { return 0, 0, 0 }
