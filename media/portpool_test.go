package media

import (
	"errors"
	"fmt"
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

// TestPortPoolRandom: ports come at random from the range, not in order
// (a stranger must not guess the next call's port), and never twice while
// in use. The source is seeded so the test is deterministic.
func TestPortPoolRandom(t *testing.T) {
	const size, calls = 100, 20
	p, _, base := newTestPool(t, size, 0)
	var seqs [2][]int
	for k, seed := range []uint64{1, 2} {
		p.intN = rand.New(rand.NewPCG(seed, 0)).IntN
		seen := make(map[int]bool)
		var conns []*net.UDPConn
		for range calls {
			c, port := mustListen(t, p)
			conns = append(conns, c)
			if seen[port] || port < base || port > base+2*(size-1) || port%2 != 0 {
				t.Fatalf("Listen() = %d, want a new even port in %d-%d (had %v)", port, base, base+2*(size-1), seqs[k])
			}
			seen[port] = true
			seqs[k] = append(seqs[k], port)
		}
		for i, port := range seqs[k] {
			conns[i].Close()
			p.Release(port)
		}
		steps := 0
		for i := 1; i < calls; i++ {
			if d := seqs[k][i] - seqs[k][i-1]; d == 2 || d == -2*(size-1) {
				steps++
			}
		}
		if steps > 3 {
			t.Errorf("Listen() x%d with seed %d = %v: %d of %d steps to the next port, want <= 3 (random)", calls, seed, seqs[k], steps, calls-1)
		}
	}
	same := 0
	for i := range calls {
		if seqs[0][i] == seqs[1][i] {
			same++
		}
	}
	if same > 3 {
		t.Errorf("Listen() sequences with seeds 1 and 2 = %v and %v: %d of %d equal, want <= 3", seqs[0], seqs[1], same, calls)
	}
}

// TestPortPoolCounts: every port of the range is handed out once, then
// none while they are in use or in quarantine; the error and the counts
// (for metrics) say how many are which.
func TestPortPoolCounts(t *testing.T) {
	const size = 10
	p, clk, base := newTestPool(t, size, 3*time.Second)
	p.intN = rand.New(rand.NewPCG(7, 7)).IntN
	conns := make(map[int]*net.UDPConn)
	for range size {
		c, port := mustListen(t, p)
		defer c.Close()
		if conns[port] != nil {
			t.Fatalf("Listen() = %d twice while in use", port)
		}
		conns[port] = c
	}
	released := []int{base, base + 2, base + 18}
	for _, port := range released {
		conns[port].Close()
		p.Release(port)
	}
	_, _, err := p.Listen(loopback)
	want := fmt.Sprintf("bind rtp port in %d-%d (10 ports: 7 in use, 3 quarantined, 0 busy in the os): media: no free rtp port", base, base+18)
	if !errors.Is(err, ErrNoPorts) || err.Error() != want {
		t.Errorf("Listen() on a full pool = %v, want %q", err, want)
	}
	if in, q := p.InUse(), p.Quarantined(); in != 7 || q != 3 {
		t.Errorf("InUse(), Quarantined() = %d, %d, want 7, 3", in, q)
	}
	clk.t = clk.t.Add(3 * time.Second)
	if q := p.Quarantined(); q != 0 {
		t.Errorf("Quarantined() after 3s = %d, want 0", q)
	}
	c, port := mustListen(t, p)
	defer c.Close()
	if port != base && port != base+2 && port != base+18 {
		t.Errorf("Listen() after the quarantine = %d, want one of the released %v", port, released)
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
