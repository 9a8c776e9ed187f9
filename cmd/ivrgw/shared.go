package main

import (
	"fmt"
	"net/netip"

	"github.com/ivrgw/ivrgw/admin"
	"github.com/ivrgw/ivrgw/media"
)

// openShared binds the -rtp-shared sockets on the first even ports of the
// range and gives each to a pacer worker; it returns them and the first
// port left to the pool of ports of their own.
func openShared(o *options, bind netip.Addr, pacer *media.Pacer) ([]*media.Mux, int, error) {
	if o.rtpShared == 0 {
		return nil, o.rtpMin, nil
	}
	ports, poolMin, err := o.sharedPorts()
	if err != nil {
		return nil, 0, fmt.Errorf("-rtp-shared: %w", err)
	}
	var muxes []*media.Mux
	for _, p := range ports {
		m, err := media.NewMux(netip.AddrPortFrom(bind, uint16(p)))
		if err != nil {
			for _, m := range muxes {
				_ = m.Close()
			}
			return nil, 0, fmt.Errorf("-rtp-shared: %w", err)
		}
		pacer.AttachMux(m)
		muxes = append(muxes, m)
	}
	return muxes, poolMin, nil
}

// registerMuxMetrics exports the shared sockets' counters, summed.
func registerMuxMetrics(m *admin.Metrics, muxes []*media.Mux) {
	if len(muxes) == 0 {
		return
	}
	sum := func(f func(media.MuxStats) uint64) func() float64 {
		return func() float64 {
			var n uint64
			for _, x := range muxes {
				n += f(x.Stats())
			}
			return float64(n)
		}
	}
	m.Gauge("ivrgw_rtp_shared_streams", "Call legs on the shared RTP sockets (-rtp-shared).", func() float64 {
		n := 0
		for _, x := range muxes {
			n += x.Len()
		}
		return float64(n)
	})
	m.Counter("ivrgw_rtp_shared_received_total", "Datagrams read from the shared RTP sockets.", sum(func(s media.MuxStats) uint64 { return s.Received }))
	m.Counter("ivrgw_rtp_shared_unknown_total", "Datagrams on the shared RTP sockets that no call leg claimed (by source address or SSRC), dropped.", sum(func(s media.MuxStats) uint64 { return s.Unknown }))
	m.Counter("ivrgw_rtp_shared_conflicts_total", "Call legs whose SDP address another leg on a shared socket already had.", sum(func(s media.MuxStats) uint64 { return s.Conflicts }))
	m.Counter("ivrgw_rtp_shared_sent_total", "Datagrams the kernel took on the shared RTP sockets.", sum(func(s media.MuxStats) uint64 { return s.Sent }))
	m.Counter("ivrgw_rtp_shared_send_errors_total", "Datagrams the kernel refused on the shared RTP sockets.", sum(func(s media.MuxStats) uint64 { return s.SendErrors + s.Dropped }))
	m.Counter("ivrgw_rtp_shared_recv_calls_total", "recvmmsg system calls on the shared RTP sockets.", sum(func(s media.MuxStats) uint64 { return s.RecvCalls }))
	m.Counter("ivrgw_rtp_shared_send_calls_total", "sendmmsg system calls on the shared RTP sockets.", sum(func(s media.MuxStats) uint64 { return s.SendCalls }))
}
