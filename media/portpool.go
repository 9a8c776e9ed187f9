package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
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
// Ports are handed out at random within the range, so a stranger cannot
// guess the next call's port from the last one's (issue 6: sequential ports
// let a spray aim at calls being set up). A released port sits in
// quarantine for a while, so late packets of a finished call do not reach
// the next call on the same port at once; it can be short (3 s by default)
// because a stream also drops packets that are not from its latched source
// and SSRC (see Stream.latch).
type PortPool struct {
	min, max   int // even bounds, inclusive
	quarantine time.Duration
	now        func() time.Time // replaced in tests
	intN       func(int) int    // random index in [0, n); replaced in tests

	mu     sync.Mutex
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
		// math/rand/v2's global source is ChaCha8 seeded by the runtime
		// from the operating system's entropy: not guessable from outside.
		intN:  rand.IntN,
		inUse: make(map[int]bool), frozen: make(map[int]time.Time),
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

// Quarantined is the number of released ports still in quarantine.
func (p *PortPool) Quarantined() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.thaw(p.now())
	return len(p.frozen)
}

// thaw ends the quarantines that are over; mu held. The map holds at most
// Size entries, and this runs once per Listen, not per port tried.
func (p *PortPool) thaw(now time.Time) {
	for port, until := range p.frozen {
		if !now.Before(until) {
			delete(p.frozen, port)
		}
	}
}

// Listen binds a UDP socket on ip and a free even port of the range, picked
// at random (udp4 for an IPv4 address, udp6 otherwise): the search starts
// at a random port and goes up from there, wrapping, so every port is tried
// once before the pool gives up. Ports in use, in quarantine or busy in the
// operating system are skipped. The caller closes the socket and then calls
// Release.
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
	p.thaw(p.now())
	n := p.Size()
	start := p.intN(n)
	busy := 0
	for i := range n {
		port := p.min + 2*((start+i)%n)
		if p.inUse[port] {
			continue
		}
		if _, ok := p.frozen[port]; ok {
			continue
		}
		conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if errors.Is(err, syscall.EADDRINUSE) {
			busy++
			continue // another process (or socket) holds it: try the next
		}
		if err != nil {
			return nil, 0, fmt.Errorf("bind rtp port %s: %w", netip.AddrPortFrom(ip, uint16(port)), err)
		}
		p.inUse[port] = true
		return conn, port, nil
	}
	return nil, 0, fmt.Errorf("bind rtp port in %d-%d (%d ports: %d in use, %d quarantined, %d busy in the os): %w",
		p.min, p.max, n, len(p.inUse), len(p.frozen), busy, ErrNoPorts)
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
