package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/ivrgw/ivrgw/admin"
	"github.com/ivrgw/ivrgw/gateway"
	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip"
)

// registerMetrics exposes the figures the packages keep. Each is read at
// scrape time from memory; none touches Redis.
func registerMetrics(m *admin.Metrics, gw *gateway.Gateway, srv *sip.Server, bindings *gateway.Bindings, pacer *media.Pacer, ports *media.PortPool, menus *ivr.Reloader) {
	m.CounterVec("ivrgw_sip_invite_responses_total", "Responses sent to INVITEs, by status code (100 included; retransmissions not).", "code", func() map[string]float64 {
		out := map[string]float64{}
		for code, n := range srv.InviteResponses() {
			out[strconv.Itoa(code)] = float64(n)
		}
		return out
	})
	byMethod := func(c sip.MethodCounts) map[string]float64 {
		return map[string]float64{"INVITE": float64(c.Invite), "REGISTER": float64(c.Register), "OPTIONS": float64(c.Options)}
	}
	m.CounterVec("ivrgw_sip_rate_limited_total", "Requests over their source's rate limit answered 503 + Retry-After, by method.", "method", func() map[string]float64 { return byMethod(srv.Stats().Limited) })
	m.CounterVec("ivrgw_sip_rate_dropped_total", "Requests far over their source's rate limit dropped without an answer, by method.", "method", func() map[string]float64 { return byMethod(srv.Stats().Dropped) })
	m.Counter("ivrgw_sip_pending_refused_total", "INVITEs answered 503: the source had -sip-max-pending calls waiting for ACK.", func() float64 { return float64(srv.Stats().PendingRefused) })
	m.Counter("ivrgw_sip_forbidden_total", "INVITEs answered 403: the source is outside -sip-allow.", func() float64 { return float64(srv.Stats().Forbidden) })
	m.Counter("ivrgw_sip_names_refused_total", "Host names from the network the gateway was asked to resolve and did not.", func() float64 { return float64(srv.Stats().NamesRefused) })
	m.Gauge("ivrgw_sip_limit_sources", "Source addresses tracked by the SIP rate limits.", func() float64 { return float64(srv.Stats().Sources) })
	m.Gauge("ivrgw_registrations", "Agent registrations this gateway accepted and that have not expired.", func() float64 { return float64(bindings.Accepted()) })
	m.Counter("ivrgw_bindings_rewrites_total", "Times this gateway wrote its accepted registrations back to an agents' store that had lost them or been down.", func() float64 { return float64(bindings.Rewrites()) })
	m.CounterVec("ivrgw_menu_reloads_total", "Menu reloads (SIGHUP or a file change) by result: ok, or refused (the old menu stayed).", "result", func() map[string]float64 {
		ok, failed := menus.Reloads()
		return map[string]float64{"ok": float64(ok), "refused": float64(failed)}
	})
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
	m.Gauge("ivrgw_rtp_ports_quarantined", "RTP port pairs released and resting (-rtp-quarantine) before reuse.", func() float64 { return float64(ports.Quarantined()) })
	m.GaugeVec("ivrgw_calls_in_state", "Calls in progress on this gateway by where they are: menu, escalating, queued, ringing, with_agent.", "state", func() map[string]float64 {
		out := map[string]float64{}
		for _, c := range gw.Calls() {
			out[c.State]++
		}
		return out
	})
	m.GaugeVec("ivrgw_queue_calls", "Callers of this gateway waiting in each queue (sum over gateways for the pool).", "queue", func() map[string]float64 {
		out := map[string]float64{}
		for _, c := range gw.Calls() {
			if c.State == journey.LiveQueued || c.State == journey.LiveRinging {
				out[c.Queue]++
			}
		}
		return out
	})
}

// journeyOut is where journeys go: the metrics always, a JSON-lines file
// and the Redis stream when configured.
type journeyOut struct {
	sinks   journey.Sinks
	metrics *admin.JourneyMetrics
	stream  *routing.JourneyStream // nil when off; its writer must be run
}

func journeySinks(o *options, store *routing.Store, m *admin.Metrics, log *slog.Logger) (journeyOut, func(), error) {
	jm := admin.NewJourneyMetrics(m)
	out := journeyOut{sinks: journey.Sinks{jm}, metrics: jm}
	closer := func() {}
	switch o.journeyFile {
	case "":
	case "-":
		out.sinks = append(out.sinks, journey.NewWriter(os.Stdout))
	default:
		f, err := os.OpenFile(o.journeyFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return out, nil, fmt.Errorf("-journey-file: %w", err)
		}
		out.sinks = append(out.sinks, journey.NewWriter(f))
		closer = func() {
			if err := f.Close(); err != nil {
				log.Warn("journey file close failed", "err", err)
			}
		}
	}
	if o.journeyLen > 0 {
		out.stream = store.Journeys(o.journeyLen)
		out.sinks = append(out.sinks, out.stream)
	}
	return out, closer, nil
}

// registerCallbackMetrics exposes the callbacks' counters.
func registerCallbackMetrics(m *admin.Metrics, fb *gateway.Fallback) {
	m.CounterVec("ivrgw_callbacks_total", "Callbacks by outcome: offered (to a caller, once a call), booked, connected (agent and caller bridged), retried (the caller did not answer; tried again later), abandoned (not answered at the last try), expired (not served within -callback-ttl).", "outcome", func() map[string]float64 {
		s := fb.CallbackStats()
		return map[string]float64{"offered": float64(s.Offered), "booked": float64(s.Booked), "connected": float64(s.Connected),
			"retried": float64(s.Retried), "abandoned": float64(s.Abandoned), "expired": float64(s.Expired)}
	})
	m.Gauge("ivrgw_callbacks_active", "Callback calls in progress on this gateway.", func() float64 { return float64(fb.CallbackStats().Active) })
}
