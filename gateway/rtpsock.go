package gateway

import (
	"net"
	"net/netip"

	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// rtpSocket is where one leg's RTP arrives: a port of its own from the
// pool, or one of the shared sockets of -rtp-shared (docs/design.md).
type rtpSocket struct {
	conn *net.UDPConn // nil on a shared socket
	mux  *media.Mux   // nil on a port of its own
	port int
	free func() // closes a port of its own and gives it back; nothing for a shared one
}

// openRTP takes a shared socket when share is set and there are any (the
// one with the fewest streams), else a port of the leg's own.
func openRTP(pool *media.PortPool, shared []*media.Mux, bind netip.Addr, share bool) (rtpSocket, error) {
	if share && len(shared) > 0 {
		m := shared[0]
		for _, c := range shared[1:] {
			if c.Len() < m.Len() {
				m = c
			}
		}
		return rtpSocket{mux: m, port: m.Port(), free: func() {}}, nil
	}
	conn, port, err := pool.Listen(bind)
	if err != nil {
		return rtpSocket{}, err
	}
	return rtpSocket{conn: conn, port: port, free: func() {
		_ = conn.Close()
		pool.Release(port)
	}}, nil
}

// sameHost reports whether the media address a peer's SDP names is the
// address its signalling came from: only such a peer can share a socket,
// which tells streams apart by source address. A phone behind a NAT names
// its private address and gets a port of its own, where the first packet
// latches whatever address the NAT gave it. A delayed offer (no SDP yet)
// or one that cannot be read also gets its own port.
func sameHost(offer []byte, source netip.Addr) bool {
	if len(offer) == 0 || !source.IsValid() {
		return false
	}
	a, err := sdp.OfferedAddr(offer)
	return err == nil && a.Unmap() == source.Unmap()
}
