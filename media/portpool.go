package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// ErrNoPorts is returned by Listen when every port of the range is in use,
// in quarantine or busy in the operating system.
var ErrNoPorts = errors.New("media: no free rtp port")

// PortPool hands out even UDP ports from a range for RTP. RFC 3550 §11:
// RTP takes an even port and RTCP the next odd one; we send no RTCP but keep
// the convention, which peers and firewalls expect.
//
// Ports are handed out round-robin rather than lowest-first, and a released
// port sits in quarantine for a while, so late packets of a finished call
// never reach the next call that binds the same port.
type PortPool struct {
	min, max   int // even bounds, inclusive
	quarantine time.Duration
	now        func() time.Time // replaced in tests

	mu     sync.Mutex
	next   int               // next port to try
	inUse  map[int]bool      // handed out, not yet released
	frozen map[int]time.Time // released port -> end of its quarantine
}

// NewPortPool returns a pool over the even ports of [min, max].
func NewPortPool(min, max int, quarantine time.Duration) (*PortPool, error) {
	if min%2 != 0 {
		min++
	}
	if min < 1024 || max > 65535 || min > max || quarantine < 0 {
		return nil, fmt.Errorf("rtp port range %d-%d (quarantine %v): need 1024 <= min <= max <= 65535 with an even port", min, max, quarantine)
	}
	if max%2 != 0 {
		max--
	}
	return &PortPool{
		min: min, max: max, quarantine: quarantine, now: time.Now,
		next: min, inUse: make(map[int]bool), frozen: make(map[int]time.Time),
	}, nil
}

// Size is the number of ports in the range.
func (p *PortPool) Size() int { return (p.max-p.min)/2 + 1 }

// InUse is the number of ports handed out and not released.
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

// Listen binds a UDP socket on ip and the next free even port of the range
// (udp4 for an IPv4 address, udp6 otherwise). Ports busy in the operating
// system are skipped. The caller closes the socket and then calls Release.
func (p *PortPool) Listen(ip netip.Addr) (*net.UDPConn, int, error) {
	if !ip.IsValid() {
		return nil, 0, fmt.Errorf("bind rtp port: invalid address")
	}
	ip = ip.Unmap()
	network := "udp6"
	if ip.Is4() {
		network = "udp4"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for range p.Size() {
		port := p.next
		p.next += 2
		if p.next > p.max {
			p.next = p.min
		}
		if p.inUse[port] {
			continue
		}
		if until, ok := p.frozen[port]; ok {
			if now.Before(until) {
				continue
			}
			delete(p.frozen, port)
		}
		conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if errors.Is(err, syscall.EADDRINUSE) {
			continue // another process (or socket) holds it: try the next
		}
		if err != nil {
			return nil, 0, fmt.Errorf("bind rtp port %s: %w", netip.AddrPortFrom(ip, uint16(port)), err)
		}
		p.inUse[port] = true
		return conn, port, nil
	}
	return nil, 0, fmt.Errorf("bind rtp port in %d-%d (%d in use): %w", p.min, p.max, len(p.inUse), ErrNoPorts)
}

// Release returns port to the pool after its quarantine. Releasing a port
// the pool did not hand out does nothing.
func (p *PortPool) Release(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inUse[port] {
		return
	}
	delete(p.inUse, port)
	if p.quarantine > 0 {
		p.frozen[port] = p.now().Add(p.quarantine)
	}
}
