package admin

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// pinger counts pings of the agents' store.
type pinger struct {
	agents
	pings atomic.Int64
	err   error
}

func (p *pinger) Ping(context.Context) error { p.pings.Add(1); return p.err }

// TestMetricsScrape: /metrics is the Prometheus text format, lint-clean
// (HELP on every family, counters named _total), carries the Go and process
// collectors and the registered figures, and a scrape never pings Redis.
func TestMetricsScrape(t *testing.T) {
	p := &pinger{}
	m := NewMetrics()
	var active float64 = 3
	m.Gauge("ivrgw_calls_active", "Calls in progress.", func() float64 { return active })
	m.Counter("ivrgw_calls_total", "Calls handled.", func() float64 { return 7 })
	m.CounterVec("ivrgw_sip_limited_total", "Requests refused by the per-source limits.", "method",
		func() map[string]float64 { return map[string]float64{"INVITE": 2, "REGISTER": 1} })
	probe := &StoreProbe{}
	probe.Register(m)
	h := Handler(Config{Agents: p, Calls: calls{}, Metrics: m})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { probe.Run(ctx, p, time.Hour, slog.New(slog.DiscardHandler)); close(done) }()
	for p.pings.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	before := p.pings.Load()

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("GET /metrics = %d", w.Code)
	}
	body := w.Body.String()
	if got := p.pings.Load(); got != before {
		t.Errorf("a scrape pinged the store %d times, want 0", got-before)
	}
	for _, want := range []string{
		"ivrgw_calls_active 3\n", "ivrgw_calls_total 7\n",
		`ivrgw_sip_limited_total{method="INVITE"} 2`, `ivrgw_sip_limited_total{method="REGISTER"} 1`,
		"ivrgw_agent_store_up 1\n", "go_goroutines ", "process_resident_memory_bytes ",
		"# HELP ivrgw_calls_total Calls handled.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, pr := range problems {
		t.Errorf("promlint: %s: %s", pr.Metric, pr.Text)
	}
}
