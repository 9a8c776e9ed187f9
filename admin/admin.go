// Package admin serves the gateway's HTTP endpoints for operators and
// load balancers: liveness, readiness, metrics, and the agents' state with
// pause and resume. It holds no state of its own.
//
// admin imports no SIP, RTP or Redis library; it reads the agents' state
// through the small Agents interface (routing.Store satisfies it). It is the
// only importer of the Prometheus client (metrics.go): other packages keep
// plain counters, registered here by main.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/routing"
)

// Agents is the agents' shared state.
type Agents interface {
	Agents(ctx context.Context) ([]routing.AgentState, error)
	Pause(ctx context.Context, ext, reason string) error
	Resume(ctx context.Context, ext string) error
	Ping(ctx context.Context) error
}

// LiveCalls lists the calls in progress (gateway.Gateway).
type LiveCalls interface {
	Calls() []journey.Live
}

// Calls reports the gateway's call counters.
type Calls interface {
	ActiveCalls() int64
	TotalCalls() int64
}

// Config is what the API reads and who may use it.
type Config struct {
	Agents  Agents
	Calls   Calls
	Metrics *Metrics  // served on /metrics; optional
	Live    LiveCalls // served on /calls; optional
	// Supervisor feeds the live page (/supervisor, /events); nil: no page.
	Supervisor *Supervisor
	Drain      func() bool // optional: true once the gateway drains; /readyz is then 503
	// Token, when set, is required as "Authorization: Bearer <Token>" on
	// every path but those in Public. Without it, only requests naming a
	// loopback Host are served (see CheckExposure for the listener).
	Token  string
	Public []string // paths readable without the token, e.g. /healthz, /readyz
	Logger *slog.Logger
}

// Handler returns the HTTP API.
func Handler(cfg Config) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{agents: cfg.Agents, calls: cfg.Calls, drain: cfg.Drain, sv: cfg.Supervisor, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", h.ready)
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics.Handler())
	}
	if cfg.Supervisor != nil {
		mux.HandleFunc("GET /supervisor", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'")
			w.Header().Set("X-Frame-Options", "DENY")
			_, _ = w.Write(supervisorPage)
		})
		mux.HandleFunc("GET /events", h.events)
	}
	if cfg.Live != nil {
		mux.HandleFunc("GET /calls", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(cfg.Live.Calls())
		})
	}
	mux.HandleFunc("GET /agents", h.list)
	mux.HandleFunc("POST /agents/{ext}/pause", h.pause)
	mux.HandleFunc("POST /agents/{ext}/resume", h.resume)
	return &guard{token: []byte(cfg.Token), public: cfg.Public, next: mux}
}

type handler struct {
	agents Agents
	calls  Calls
	drain  func() bool
	sv     *Supervisor
	log    *slog.Logger
}

func opCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 2*time.Second)
}

// ready is 200 only when the agents' store answers (without it callers still
// get the menu, but nobody can be connected to a person) and the gateway is
// not draining.
func (h *handler) ready(w http.ResponseWriter, r *http.Request) {
	if h.drain != nil && h.drain() {
		http.Error(w, "not ready: draining, new calls are refused", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := opCtx(r)
	defer cancel()
	if err := h.agents.Ping(ctx); err != nil {
		http.Error(w, "not ready: agent store unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

type agentJSON struct {
	Ext        string    `json:"ext"`
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	Skills     []string  `json:"skills"`
	Registered bool      `json:"registered"`
	CallID     string    `json:"call_id,omitempty"`
	Gateway    string    `json:"gateway,omitempty"`
	Misses     int       `json:"misses"`
	IdleSince  time.Time `json:"idle_since,omitzero"`
}

func toJSON(a routing.AgentState) agentJSON {
	return agentJSON{Ext: a.Ext, State: string(a.State), Reason: a.Reason, Skills: a.Skills,
		Registered: a.Registered, CallID: a.CallID, Gateway: a.GatewayID, Misses: a.Misses, IdleSince: a.IdleSince}
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := opCtx(r)
	defer cancel()
	as, err := h.agents.Agents(ctx)
	if err != nil {
		h.fail(w, "list agents", err)
		return
	}
	out := make([]agentJSON, 0, len(as))
	for _, a := range as {
		out = append(out, toJSON(a))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (h *handler) pause(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := opCtx(r)
	defer cancel()
	reason := r.FormValue("reason")
	if reason == "" {
		reason = "break"
	}
	if err := h.agents.Pause(ctx, r.PathValue("ext"), reason); err != nil {
		h.fail(w, "pause agent", err)
		return
	}
	fmt.Fprintln(w, "paused")
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := opCtx(r)
	defer cancel()
	if err := h.agents.Resume(ctx, r.PathValue("ext")); err != nil {
		h.fail(w, "resume agent", err)
		return
	}
	fmt.Fprintln(w, "available")
}

// fail maps routing's errors to HTTP statuses in one place.
func (h *handler) fail(w http.ResponseWriter, what string, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, routing.ErrUnavailable):
		code = http.StatusServiceUnavailable
	case errors.Is(err, routing.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, routing.ErrNotRegistered):
		code = http.StatusConflict
	}
	h.log.Warn("admin request failed", "op", what, "err", err)
	http.Error(w, what+": "+err.Error(), code)
}
