package routing

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestNewEmbeddedExpiresKeys(t *testing.T) {
	rdb, stop, err := NewEmbedded()
	if err != nil {
		t.Fatalf("NewEmbedded() = %v", err)
	}
	defer stop()
	s := New(rdb, Options{})
	defer s.Close()
	ctx := context.Background()
	if err := s.SetBinding(ctx, "1001", binding("1001"), 200*time.Millisecond); err != nil {
		t.Fatalf("SetBinding() = %v", err)
	}
	if st := agentState(t, s, "1001").State; st != Available {
		t.Fatalf("Agent(1001) = %s, want available", st)
	}
	// the embedded server runs TTLs on the wall clock (ClockTTL)
	time.Sleep(300 * time.Millisecond)
	if _, err := s.Claim(ctx, "", "c1", "gw1"); !errors.Is(err, ErrNoAgent) {
		t.Errorf("Claim() after registration expiry = %v, want ErrNoAgent", err)
	}
}

func TestDialRejectsBadURL(t *testing.T) {
	for _, url := range []string{"", "http://127.0.0.1:6379", "redis://127.0.0.1:6379/notadb"} {
		if _, err := Dial(url); err == nil {
			t.Errorf("Dial(%q) = nil error, want an error", url)
		}
	}
}

// TestErrorClassification: transient server states are ErrUnavailable,
// other error replies are bugs and are not.
func TestErrorClassification(t *testing.T) {
	tests := []struct {
		reply       string
		unavailable bool
	}{
		{"LOADING Redis is loading the dataset in memory", true},
		{"MASTERDOWN Link with MASTER is down", true},
		{"READONLY You can't write against a read only replica.", true},
		{"ERR something is wrong", false},
		{"WRONGTYPE Operation against a key holding the wrong kind of value", false},
	}
	b := newMini(t)
	s := newStore(t, b, Options{})
	for _, tt := range tests {
		b.mini.SetError(tt.reply)
		err := s.Ping(context.Background())
		b.mini.SetError("")
		if err == nil || errors.Is(err, ErrUnavailable) != tt.unavailable {
			t.Errorf("Ping() with reply %q = %v, want unavailable=%v", tt.reply, err, tt.unavailable)
		}
	}
}

// TestImports keeps the package contract of docs/design.md: routing is the
// only importer of go-redis and knows nothing of SIP or RTP. Of the
// project's own packages it may use only journey (pure data types).
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/ivrgw/ivrgw/routing": true,
		"github.com/ivrgw/ivrgw/journey": true,
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"github.com/emiago/sipgo", "github.com/pion/", "github.com/ivrgw/ivrgw/"} {
			if strings.HasPrefix(dep, bad) && !allowed[dep] {
				t.Errorf("routing depends on %s, which docs/design.md forbids", dep)
			}
		}
	}
}
