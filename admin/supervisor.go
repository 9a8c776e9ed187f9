package admin

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/routing"
)

// supervisorPage is the live page: plain HTML and JavaScript, no build step.
//
//go:embed supervisor.html
var supervisorPage []byte

// Supervisor is what the live page shows; any part may be nil.
type Supervisor struct {
	Live   LiveCalls
	Agents interface{ Agents() []routing.AgentState } // StoreProbe: no Redis call per event
	Funnel interface {
		Funnel() map[string]map[string]int
	}
	Every time.Duration // how often /events looks for a change; default 500 ms
}

// snapshot is one state of the page, sent as an event when it changes.
type snapshot struct {
	Gateway string                    `json:"gateway,omitempty"`
	Calls   []journey.Live            `json:"calls"`
	Queues  map[string]int            `json:"queues"`
	Agents  []agentJSON               `json:"agents"`
	Funnel  map[string]map[string]int `json:"funnel"`
}

func (h *handler) snapshot() snapshot {
	sv := h.sv
	s := snapshot{Calls: []journey.Live{}, Queues: map[string]int{}, Agents: []agentJSON{}, Funnel: map[string]map[string]int{}}
	if sv.Live != nil {
		s.Calls = sv.Live.Calls()
		for _, c := range s.Calls {
			if c.State == journey.LiveQueued || c.State == journey.LiveRinging {
				s.Queues[c.Queue]++
			}
		}
	}
	if sv.Agents != nil {
		for _, a := range sv.Agents.Agents() {
			s.Agents = append(s.Agents, toJSON(a))
		}
	}
	if sv.Funnel != nil {
		s.Funnel = sv.Funnel.Funnel()
	}
	return s
}

// events streams snapshots as server-sent events: one at once, then one
// whenever something changed, and a comment every 15 s to keep proxies
// from closing an idle stream. It ends when the client goes away.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	every := h.sv.Every
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last []byte
	idle := 0
	for {
		b, err := json.Marshal(h.snapshot())
		if err != nil {
			return
		}
		switch {
		case !bytes.Equal(b, last):
			if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
				return
			}
			last, idle = b, 0
			fl.Flush()
		case idle*int(every) >= int(15*time.Second):
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			idle = 0
			fl.Flush()
		default:
			idle++
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}
