package media

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"
)

// freeRange finds n consecutive even ports that are free right now, so the
// tests do not trip over other processes on a shared machine.
func freeRange(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		base := 20000 + 2*rand.IntN(10000)
		ok := true
		for p := base; p < base+2*n && ok; p += 2 {
			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(p))))
			if err != nil {
				ok = false
				continue
			}
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// fakeClock drives the pool's quarantine in tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestPool(t *testing.T, ports int, q time.Duration) (*PortPool, *fakeClock, int) {
	t.Helper()
	base := freeRange(t, ports)
	p, err := NewPortPool(base, base+2*(ports-1), q)
	if err != nil {
		t.Fatalf("NewPortPool(%d, %d, %v): %v", base, base+2*(ports-1), q, err)
	}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	p.now = clk.now
	return p, clk, base
}

func mustListen(t *testing.T, p *PortPool) (*net.UDPConn, int) {
	t.Helper()
	c, port, err := p.Listen(loopback)
	if err != nil {
		t.Fatalf("Listen(%v) error = %v", loopback, err)
	}
	if got := c.LocalAddr().(*net.UDPAddr).Port; got != port {
		t.Errorf("Listen() port = %d, but socket is on %d", port, got)
	}
	return c, port
}

func TestNewPortPoolRejects(t *testing.T) {
	tests := []struct {
		min, max int
		q        time.Duration
	}{
		{100, 200, 0},     // privileged
		{30000, 20000, 0}, // reversed
		{30001, 30001, 0}, // no even port
		{60000, 70000, 0}, // beyond 65535
		{30000, 30010, -time.Second},
	}
	for _, tt := range tests {
		if _, err := NewPortPool(tt.min, tt.max, tt.q); err == nil {
			t.Errorf("NewPortPool(%d, %d, %v) error = nil, want error", tt.min, tt.max, tt.q)
		}
	}
	p, err := NewPortPool(30001, 30010, 0)
	if err != nil || p.Size() != 5 {
		t.Errorf("NewPortPool(30001, 30010).Size() = %v, %v, want 5 even ports 30002-30010", p.Size(), err)
	}
}

func TestPortPoolExhaustion(t *testing.T) {
	p, _, base := newTestPool(t, 2, 0)
	c1, p1 := mustListen(t, p)
	defer c1.Close()
	c2, p2 := mustListen(t, p)
	defer c2.Close()
	for _, port := range []int{p1, p2} {
		if port%2 != 0 || port < base || port > base+2 {
			t.Errorf("Listen() port = %d, want even in %d-%d", port, base, base+2)
		}
	}
	if p1 == p2 {
		t.Errorf("Listen() twice = %d, %d, want different ports", p1, p2)
	}
	if got := p.InUse(); got != 2 {
		t.Errorf("InUse() = %d, want 2", got)
	}
	if _, _, err := p.Listen(loopback); !errors.Is(err, ErrNoPorts) {
		t.Errorf("Listen() on a full pool error = %v, want ErrNoPorts", err)
	}
}

func TestPortPoolQuarantine(t *testing.T) {
	p, clk, _ := newTestPool(t, 1, 30*time.Second)
	c, port := mustListen(t, p)
	c.Close()
	p.Release(port)
	if got := p.InUse(); got != 0 {
		t.Errorf("InUse() after Release = %d, want 0", got)
	}
	clk.t = clk.t.Add(29 * time.Second)
	if _, _, err := p.Listen(loopback); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("Listen() during quarantine error = %v, want ErrNoPorts", err)
	}
	clk.t = clk.t.Add(2 * time.Second)
	c, again := mustListen(t, p)
	c.Close()
	if again != port {
		t.Errorf("Listen() after quarantine = %d, want %d back", again, port)
	}
	p.Release(12345) // not ours: ignored
	if got := p.InUse(); got != 1 {
		t.Errorf("InUse() after foreign Release = %d, want 1", got)
	}
}

func TestPortPoolRoundRobin(t *testing.T) {
	p, _, base := newTestPool(t, 3, 0)
	var got []int
	for range 4 {
		c, port := mustListen(t, p)
		c.Close()
		p.Release(port) // no quarantine, yet the next call moves on
		got = append(got, port)
	}
	want := []int{base, base + 2, base + 4, base}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Listen() sequence = %v, want %v (round-robin)", got, want)
		}
	}
}

func TestPortPoolSkipsBusyPort(t *testing.T) {
	p, _, base := newTestPool(t, 2, 0)
	busy, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, uint16(base))))
	if err != nil {
		t.Fatalf("occupy port %d: %v", base, err)
	}
	defer busy.Close()
	c, port := mustListen(t, p)
	defer c.Close()
	if port != base+2 {
		t.Errorf("Listen() with %d busy = %d, want %d", base, port, base+2)
	}
	if _, _, err := p.Listen(loopback); !errors.Is(err, ErrNoPorts) {
		t.Errorf("Listen() with the rest busy error = %v, want ErrNoPorts", err)
	}
}

func TestPortPoolIPv6(t *testing.T) {
	p, _, _ := newTestPool(t, 2, 0)
	c, _, err := p.Listen(netip.IPv6Loopback())
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer c.Close()
	if a := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr(); !a.Is6() {
		t.Errorf("Listen(::1) bound %v, want an IPv6 address", a)
	}
	if _, _, err := p.Listen(netip.Addr{}); err == nil {
		t.Error("Listen(invalid address) error = nil, want error")
	}
}
