package admin

import (
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ivrgw/ivrgw/journey"
)

// JourneyMetrics turns each finished call's journey into counters and
// histograms. It is a journey.Sink: the figures move when a call ends, so a
// call in progress shows in the live gauges (ivrgw_calls_active, the queue
// gauge) and not yet here.
type JourneyMetrics struct {
	ended      *prometheus.CounterVec
	endedBy    *prometheus.CounterVec
	escalated  *prometheus.CounterVec
	funnel     *prometheus.CounterVec
	closed     *prometheus.CounterVec
	dtmf       *prometheus.CounterVec
	inMenu     prometheus.Histogram
	toPerson   prometheus.Histogram
	queueWait  prometheus.Histogram
	rtpIn      prometheus.Counter
	rtpOut     prometheus.Counter
	rtpLate    prometheus.Counter
	rtpLost    prometheus.Counter
	rtpForeign prometheus.Counter

	mu     sync.Mutex
	byMenu map[string]map[string]int // the funnel again, for the supervisor page
}

// Funnel is the per-menu funnel since start: menu → event → count.
func (m *JourneyMetrics) Funnel() map[string]map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]map[string]int, len(m.byMenu))
	for k, v := range m.byMenu {
		out[k] = maps.Clone(v)
	}
	return out
}

func (m *JourneyMetrics) count(menu, event string) {
	m.funnel.WithLabelValues(menu, event).Inc()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byMenu == nil {
		m.byMenu = make(map[string]map[string]int)
	}
	if m.byMenu[menu] == nil {
		m.byMenu[menu] = make(map[string]int)
	}
	m.byMenu[menu][event]++
}

// Funnel events per menu (label "event").
const (
	FunnelEntered = "entered"
	FunnelOption  = "option"
	FunnelInvalid = "invalid"
	FunnelNoInput = "no_input"
	FunnelHungUp  = "hung_up"
	FunnelPerson  = "asked_person"
	FunnelClosed  = "closed" // the menu was outside its hours: its closed action ran instead
)

// personBuckets: a person should answer within seconds; the tail shows
// queues that are too long.
var personBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600}

// NewJourneyMetrics registers the families on m.
func NewJourneyMetrics(m *Metrics) *JourneyMetrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	c := func(name, help string) prometheus.Counter {
		v := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.reg.MustRegister(v)
		return v
	}
	h := func(name, help string, buckets []float64) prometheus.Histogram {
		v := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
		m.reg.MustRegister(v)
		return v
	}
	return &JourneyMetrics{
		ended:      cv("ivrgw_calls_ended_total", "Calls ended, by the menu's outcome (transfer:<reason>, hangup:<reason>, caller_hangup, ended:<reason>, none).", "outcome"),
		endedBy:    cv("ivrgw_calls_ended_by_total", "Calls ended, by who ended them (caller, agent, gateway).", "by"),
		escalated:  cv("ivrgw_escalations_total", "Callers handed to a person, by reason (caller_request, max_tries, menu_option, ...).", "reason"),
		funnel:     cv("ivrgw_menu_funnel_total", "What callers did in each menu: entered, option, invalid, no_input, hung_up, asked_person, closed (outside its hours).", "menu", "event"),
		closed:     cv("ivrgw_closed_hours_total", "Callers who met closed hours, by what was closed (menu:<id> or queue:<name>).", "closed"),
		dtmf:       cv("ivrgw_dtmf_total", "Key presses received, by how they arrived (rfc4733, info, inband).", "method"),
		inMenu:     h("ivrgw_menu_seconds", "Time a caller spent in the menu: from the answer to the escalation or the end of the call.", prometheus.ExponentialBuckets(1, 2, 10)),
		toPerson:   h("ivrgw_time_to_person_seconds", "From asking for a person (or giving up in the menu) to an agent answering.", personBuckets),
		queueWait:  h("ivrgw_queue_wait_seconds", "Time from joining a queue to an agent answering.", personBuckets),
		rtpIn:      c("ivrgw_rtp_received_packets_total", "Valid RTP packets received from callers, counted at the end of each call."),
		rtpOut:     c("ivrgw_rtp_sent_packets_total", "RTP packets sent to callers, counted at the end of each call."),
		rtpLost:    c("ivrgw_rtp_lost_packets_total", "RTP packets lost on the way from callers (RFC 3550 expected minus received), counted at the end of each call."),
		rtpLate:    c("ivrgw_rtp_late_packets_total", "RTP packets the pacer sent late to catch up, counted at the end of each call."),
		rtpForeign: c("ivrgw_rtp_foreign_dropped_total", "Datagrams dropped on a call's RTP port because they were not that call's media (wrong source, not RTP), counted at the end of each call."),
	}
}

// Record implements journey.Sink.
func (m *JourneyMetrics) Record(j *journey.Journey) {
	outcome := j.Outcome
	if outcome == "" {
		outcome = "none"
	}
	m.ended.WithLabelValues(outcome).Inc()
	m.endedBy.WithLabelValues(j.EndedBy).Inc()
	if j.Escalated != "" {
		m.escalated.WithLabelValues(j.Escalated).Inc()
	}
	if j.InMenu > 0 {
		m.inMenu.Observe(time.Duration(j.InMenu).Seconds())
	}
	if j.ToPerson > 0 {
		m.toPerson.Observe(time.Duration(j.ToPerson).Seconds())
	}
	if j.QueueWait > 0 {
		m.queueWait.Observe(time.Duration(j.QueueWait).Seconds())
	}
	m.rtpIn.Add(float64(j.RTPIn))
	m.rtpOut.Add(float64(j.RTPOut))
	m.rtpLost.Add(float64(j.RTPLost))
	m.rtpLate.Add(float64(j.RTPLate))
	m.rtpForeign.Add(float64(j.RTPForeign))

	menu, escalated := "", false
	for _, s := range j.Steps {
		switch s.Kind {
		case journey.StepMenu:
			menu = s.Menu
			m.count(menu, FunnelEntered)
		case journey.StepOption:
			m.count(s.Menu, FunnelOption)
		case journey.StepInvalid:
			m.count(s.Menu, FunnelInvalid)
		case journey.StepNoInput:
			m.count(s.Menu, FunnelNoInput)
		case journey.StepEscalate:
			if menu != "" && !escalated {
				m.count(menu, FunnelPerson)
			}
			escalated = true
		case journey.StepKey:
			m.dtmf.WithLabelValues(s.Method).Inc()
		case journey.StepClosed:
			what := "menu:" + s.Menu
			if s.Queue != "" {
				what = "queue:" + s.Queue
			} else {
				m.count(s.Menu, FunnelClosed)
			}
			m.closed.WithLabelValues(what).Inc()
		}
	}
	if menu != "" && !escalated && j.EndedBy == "caller" {
		m.count(menu, FunnelHungUp)
	}
}
