package admin

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ivrgw/ivrgw/routing"
)

// Metrics is the gateway's Prometheus registry: the Go runtime and process
// collectors, plus figures the packages already keep (calls, pacer, ports,
// SIP limits), read when scraped. A scrape reads only memory: nothing in it
// waits on Redis (the store's health is probed in the background, see
// StoreProbe).
type Metrics struct {
	reg *prometheus.Registry
}

// NewMetrics returns a registry with the Go and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Metrics{reg: reg}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is for collectors that keep their own state (histograms,
// counters bumped as things happen).
func (m *Metrics) Registry() prometheus.Registerer { return m.reg }

// Gauge registers a gauge read from f at each scrape.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Counter registers a counter read from f at each scrape; f must never go
// down.
func (m *Metrics) Counter(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// GaugeVec registers a gauge family with one label, read from f at each
// scrape: one series per key of f's map.
func (m *Metrics) GaugeVec(name, help, label string, f func() map[string]float64) {
	m.reg.MustRegister(&funcVec{desc: prometheus.NewDesc(name, help, []string{label}, nil), kind: prometheus.GaugeValue, f: f})
}

// CounterVec is GaugeVec for counters: f's values must never go down.
func (m *Metrics) CounterVec(name, help, label string, f func() map[string]float64) {
	m.reg.MustRegister(&funcVec{desc: prometheus.NewDesc(name, help, []string{label}, nil), kind: prometheus.CounterValue, f: f})
}

type funcVec struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	f    func() map[string]float64
}

func (v *funcVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.desc }

func (v *funcVec) Collect(ch chan<- prometheus.Metric) {
	for k, x := range v.f() {
		ch <- prometheus.MustNewConstMetric(v.desc, v.kind, x, k)
	}
}

// StoreProbe pings the agents' store in the background and keeps the last
// answer, so that scrapes report its health without touching it.
type StoreProbe struct {
	mu         sync.Mutex
	up         bool
	latency    time.Duration
	fails      uint64
	states     map[string]int // agents by state, from the last good read
	registered int
	agents     []routing.AgentState // the last good read, for the supervisor page
}

// Agents is the agents' state as last read (nil before the first read).
func (p *StoreProbe) Agents() []routing.AgentState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.agents
}

// Run pings every interval until ctx ends.
func (p *StoreProbe) Run(ctx context.Context, a Agents, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := a.Ping(pctx)
		cancel()
		lat := time.Since(start)
		var states map[string]int
		var as []routing.AgentState
		registered := 0
		if err == nil {
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			var aerr error
			as, aerr = a.Agents(actx)
			acancel()
			if aerr == nil {
				states = make(map[string]int)
				for _, ag := range as {
					states[string(ag.State)]++
					if ag.Registered {
						registered++
					}
				}
			}
		}
		p.mu.Lock()
		was := p.up
		p.up, p.latency = err == nil, lat
		if err != nil {
			p.fails++
		}
		if states != nil {
			p.states, p.registered, p.agents = states, registered, as
		}
		p.mu.Unlock()
		if was && err != nil && ctx.Err() == nil {
			log.Warn("agent store down", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Register adds the probe's figures to m.
func (p *StoreProbe) Register(m *Metrics) {
	m.Gauge("ivrgw_agent_store_up", "1 when the last background ping of the agents' store (Redis) answered.", func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.up {
			return 1
		}
		return 0
	})
	m.Gauge("ivrgw_agent_store_ping_seconds", "Round trip of the last background ping of the agents' store.", func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.latency.Seconds()
	})
	m.GaugeVec("ivrgw_agents", "Agents by state (offline, available, ringing, on_call, wrap_up, paused), as last read from the agents' store in the background.", "state", func() map[string]float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		out := make(map[string]float64, len(p.states))
		for k, v := range p.states {
			out[k] = float64(v)
		}
		return out
	})
	m.Gauge("ivrgw_agents_registered", "Agents with a live registration, as last read from the agents' store.", func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(p.registered)
	})
	m.Counter("ivrgw_agent_store_ping_failures_total", "Background pings of the agents' store that failed.", func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(p.fails)
	})
}
