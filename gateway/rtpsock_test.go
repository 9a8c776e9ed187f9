package gateway

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/media"
)

func TestSameHost(t *testing.T) {
	offer := func(c string) []byte {
		return []byte("v=0\r\no=- 1 1 IN IP4 " + c + "\r\ns=-\r\nc=IN IP4 " + c + "\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	}
	src := netip.MustParseAddr("192.0.2.10")
	for _, tc := range []struct {
		name   string
		offer  []byte
		source netip.Addr
		want   bool
	}{
		{"own address", offer("192.0.2.10"), src, true},
		{"mapped source", offer("192.0.2.10"), netip.MustParseAddr("::ffff:192.0.2.10"), true},
		{"behind a NAT", offer("10.0.0.7"), src, false},
		{"hold with 0.0.0.0", offer("0.0.0.0"), src, false},
		{"delayed offer", nil, src, false},
		{"unreadable", []byte("garbage"), src, false},
		{"no source", offer("192.0.2.10"), netip.Addr{}, false},
	} {
		if got := sameHost(tc.offer, tc.source); got != tc.want {
			t.Errorf("%s: sameHost = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOpenRTP(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	pool, err := media.NewPortPool(43200+int(time.Now().UnixNano()%200)*2, 43999, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Without shared sockets, or when told not to share, a leg gets a port
	// of its own from the pool, and gives it back.
	for _, share := range []bool{true, false} {
		var muxes []*media.Mux
		if !share {
			muxes = newMuxes(t, 1)
		}
		s, err := openRTP(pool, muxes, lo, share)
		if err != nil {
			t.Fatal(err)
		}
		if s.conn == nil || s.mux != nil || pool.InUse() != 1 {
			t.Fatalf("openRTP(share %v, %d shared) = conn %v mux %v (%d in use), want a port of its own", share, len(muxes), s.conn, s.mux, pool.InUse())
		}
		s.free()
		if pool.InUse() != 0 {
			t.Errorf("after free: %d ports in use, want 0", pool.InUse())
		}
	}

	// Sharing: the socket with the fewest streams, and no port of the pool.
	muxes := newMuxes(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	st := media.NewStream(media.StreamConfig{Mux: muxes[0], Remote: netip.MustParseAddrPort("127.0.0.1:4000")})
	go func() { defer close(done); _ = st.Run(ctx) }()
	for muxes[0].Len() != 1 {
		time.Sleep(time.Millisecond)
	}
	s, err := openRTP(pool, muxes, lo, true)
	if err != nil {
		t.Fatal(err)
	}
	if s.mux != muxes[1] || s.port != muxes[1].Port() || s.conn != nil || pool.InUse() != 0 {
		t.Errorf("openRTP = mux %p port %d conn %v (%d in use), want the idle shared socket %p port %d", s.mux, s.port, s.conn, pool.InUse(), muxes[1], muxes[1].Port())
	}
	s.free()
	cancel()
	<-done
}

func newMuxes(t *testing.T, n int) []*media.Mux {
	t.Helper()
	var out []*media.Mux
	for range n {
		m, err := media.NewMux(netip.MustParseAddrPort("127.0.0.1:0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		out = append(out, m)
	}
	return out
}
