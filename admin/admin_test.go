package admin

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ivrgw/ivrgw/routing"
)

// agents records what the API asked of the agents' store.
type agents struct {
	mu     sync.Mutex
	paused []string
}

func (a *agents) Agents(context.Context) ([]routing.AgentState, error) {
	return []routing.AgentState{{Ext: "1001", State: routing.Available}}, nil
}
func (a *agents) Pause(_ context.Context, ext, _ string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.paused = append(a.paused, ext)
	return nil
}
func (a *agents) Resume(context.Context, string) error { return nil }
func (a *agents) Ping(context.Context) error           { return nil }

func (a *agents) pauses() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.paused)
}

type calls struct{}

func (calls) ActiveCalls() int64 { return 0 }
func (calls) TotalCalls() int64  { return 0 }

func TestAccess(t *testing.T) {
	type req struct {
		method, path, host string
		hdr                map[string]string
	}
	tests := []struct {
		name   string
		token  string
		req    req
		want   int
		pauses int
	}{
		{"open on loopback", "", req{"GET", "/agents", "127.0.0.1:8080", nil}, 200, 0},
		{"open as localhost", "", req{"GET", "/agents", "localhost:8080", nil}, 200, 0},
		{"open ipv6 loopback", "", req{"GET", "/agents", "[::1]:8080", nil}, 200, 0},
		{"rebound name refused", "", req{"GET", "/agents", "evil.example:8080", nil}, 403, 0},
		{"curl pause", "", req{"POST", "/agents/1001/pause", "127.0.0.1:8080", nil}, 200, 1},
		{"same-origin pause", "", req{"POST", "/agents/1001/pause", "127.0.0.1:8080",
			map[string]string{"Origin": "http://127.0.0.1:8080"}}, 200, 1},
		{"foreign origin pause", "", req{"POST", "/agents/1001/pause", "127.0.0.1:8080",
			map[string]string{"Origin": "http://evil.example"}}, 403, 0},
		{"null origin pause", "", req{"POST", "/agents/1001/pause", "127.0.0.1:8080",
			map[string]string{"Origin": "null"}}, 403, 0},
		{"cross-site fetch pause", "", req{"POST", "/agents/1001/pause", "127.0.0.1:8080",
			map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403, 0},
		{"token missing", "s3cret", req{"GET", "/agents", "gw.example:8080", nil}, 401, 0},
		{"token wrong", "s3cret", req{"GET", "/agents", "gw.example:8080",
			map[string]string{"Authorization": "Bearer s3cre"}}, 401, 0},
		{"token right", "s3cret", req{"GET", "/agents", "gw.example:8080",
			map[string]string{"Authorization": "Bearer s3cret"}}, 200, 0},
		{"token needed on loopback too", "s3cret", req{"POST", "/agents/1001/pause", "127.0.0.1:8080", nil}, 401, 0},
		{"token pause", "s3cret", req{"POST", "/agents/1001/pause", "gw.example:8080",
			map[string]string{"Authorization": "Bearer s3cret"}}, 200, 1},
		{"token does not excuse a foreign origin", "s3cret", req{"POST", "/agents/1001/pause", "gw.example:8080",
			map[string]string{"Authorization": "Bearer s3cret", "Origin": "https://evil.example"}}, 403, 0},
		{"public health", "s3cret", req{"GET", "/healthz", "gw.example:8080", nil}, 200, 0},
		{"public ready", "s3cret", req{"GET", "/readyz", "gw.example:8080", nil}, 200, 0},
		{"metrics not public by default", "s3cret", req{"GET", "/metrics", "gw.example:8080", nil}, 401, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &agents{}
			h := Handler(Config{Agents: a, Calls: calls{}, Token: tt.token, Public: []string{"/healthz", "/readyz"}})
			r := httptest.NewRequest(tt.req.method, tt.req.path, strings.NewReader(""))
			r.Host = tt.req.host
			for k, v := range tt.req.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("%s %s = %d %q, want %d", tt.req.method, tt.req.path, w.Code, w.Body.String(), tt.want)
			}
			if got := a.pauses(); got != tt.pauses {
				t.Errorf("agents paused = %d, want %d", got, tt.pauses)
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

func TestReadyWhileDraining(t *testing.T) {
	var draining bool
	h := Handler(Config{Agents: &agents{}, Calls: calls{}, Drain: func() bool { return draining }})
	for _, tt := range []struct {
		draining bool
		want     int
	}{{false, 200}, {true, 503}} {
		draining = tt.draining
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1/readyz", nil))
		if w.Code != tt.want {
			t.Errorf("draining=%v: GET /readyz = %d, want %d", tt.draining, w.Code, tt.want)
		}
	}
}

func TestCheckExposure(t *testing.T) {
	tests := []struct {
		listen, token string
		ok            bool
	}{
		{"127.0.0.1:8080", "", true},
		{"[::1]:8080", "", true},
		{"localhost:8080", "", true},
		{"127.0.0.5:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"[::]:8080", "", false},
		{"192.0.2.7:8080", "", false},
		{"0.0.0.0:8080", "t", true},
		{"nonsense", "t", false},
	}
	for _, tt := range tests {
		err := CheckExposure(tt.listen, tt.token)
		if (err == nil) != tt.ok {
			t.Errorf("CheckExposure(%q, %q) = %v, want ok=%v", tt.listen, tt.token, err, tt.ok)
		}
	}
}
