package main

import (
	"github.com/ivrgw/ivrgw/admin"
	"github.com/ivrgw/ivrgw/gateway"
	"github.com/ivrgw/ivrgw/media"
)

// registerMetrics exposes the figures the packages keep. Each is read at
// scrape time from memory; none touches Redis.
func registerMetrics(m *admin.Metrics, gw *gateway.Gateway, pacer *media.Pacer, ports *media.PortPool) {
	m.Gauge("ivrgw_calls_active", "Calls in progress.", func() float64 { return float64(gw.ActiveCalls()) })
	m.Counter("ivrgw_calls_total", "Calls handled since start.", func() float64 { return float64(gw.TotalCalls()) })
	m.Counter("ivrgw_rtp_sent_total", "RTP pacer ticks served (packets sent, or skipped on hold).", func() float64 { return float64(pacer.Stats().Sent) })
	m.Counter("ivrgw_rtp_catchup_total", "RTP pacer ticks served a whole packet period or more late.", func() float64 { return float64(pacer.Stats().CatchUp) })
	m.Counter("ivrgw_rtp_resync_total", "RTP streams that fell over 200 ms behind and were resynchronised.", func() float64 { return float64(pacer.Stats().Resyncs) })
	m.Gauge("ivrgw_rtp_send_lateness_p50_seconds", "Median lateness of RTP sends against their deadline, since start.", func() float64 { return pacer.Stats().P50.Seconds() })
	m.Gauge("ivrgw_rtp_send_lateness_p99_seconds", "99th percentile lateness of RTP sends against their deadline, since start.", func() float64 { return pacer.Stats().P99.Seconds() })
	m.Gauge("ivrgw_rtp_send_lateness_max_seconds", "Largest lateness of an RTP send against its deadline, since start.", func() float64 { return pacer.Stats().Max.Seconds() })
	m.Gauge("ivrgw_rtp_ports", "RTP ports (even/odd pairs) in the -rtp-ports range.", func() float64 { return float64(ports.Size()) })
	m.Gauge("ivrgw_rtp_ports_in_use", "RTP port pairs held by calls.", func() float64 { return float64(ports.InUse()) })
}
