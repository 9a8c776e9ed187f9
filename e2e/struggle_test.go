package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/sip/testphone"
)

// TestStrugglingCallers drives the real binary on the shipped menu (its
// frustration settings on, priority 10): each way of struggling sends the
// caller to a person, queued at the frustration priority, with its own
// reason in the journey. The person key pressed after the welcome is an
// ordinary request, at the person priority, for contrast.
func TestStrugglingCallers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "journeys.jsonl")
	g := startGateway(t, "-journey-file", file)
	set := promptSet(t)

	press := func(t *testing.T, c *testphone.Call, keys string, gap time.Duration) {
		t.Helper()
		for _, k := range []byte(keys) {
			if err := c.SendDigit4733(k, 80*time.Millisecond); err != nil {
				t.Fatalf("SendDigit4733(%q) = %v", k, err)
			}
			time.Sleep(gap)
		}
	}
	tests := []struct {
		name     string
		from     string
		script   func(ctx context.Context, t *testing.T, c *testphone.Call, start time.Time)
		reason   string
		priority string
	}{
		{
			name: "one budget across menus: 7, 8 in main, 1 to billing, 7 there",
			from: "5550201",
			script: func(ctx context.Context, t *testing.T, c *testphone.Call, start time.Time) {
				fbAtMenu(ctx, t, c, start)
				press(t, c, "78", 600*time.Millisecond)
				press(t, c, "1", 600*time.Millisecond) // billing: a valid choice
				press(t, c, "7", 0)                    // the third failure of the call
			},
			reason: "max_tries", priority: "priority=10",
		},
		{
			name: "the same invalid key twice",
			from: "5550202",
			script: func(ctx context.Context, t *testing.T, c *testphone.Call, start time.Time) {
				fbAtMenu(ctx, t, c, start)
				press(t, c, "77", 600*time.Millisecond)
			},
			reason: "same_invalid_key", priority: "priority=10",
		},
		{
			name: "repeat again and again",
			from: "5550203",
			script: func(ctx context.Context, t *testing.T, c *testphone.Call, start time.Time) {
				fbAtMenu(ctx, t, c, start)
				press(t, c, "***", 600*time.Millisecond)
			},
			reason: "repeat_loop", priority: "priority=10",
		},
		{
			name: "key mashing",
			from: "5550204",
			script: func(ctx context.Context, t *testing.T, c *testphone.Call, start time.Time) {
				fbAtMenu(ctx, t, c, start)
				press(t, c, "333333", 50*time.Millisecond) // well within 3 s
			},
			reason: "key_mashing", priority: "priority=10",
		},
		{
			name: "the person key during the welcome",
			from: "5550205",
			script: func(ctx context.Context, t *testing.T, c *testphone.Call, start time.Time) {
				if err := waitPrompt(ctx, c, start, promptSignature(t, set, "en", "welcome", c.Media().Codec)); err != nil {
					t.Fatal(err)
				}
				press(t, c, "0", 0)
			},
			reason: "person_in_greeting", priority: "priority=10",
		},
		{
			name: "the person key during the menu: an ordinary request",
			from: "5550206",
			script: func(ctx context.Context, t *testing.T, c *testphone.Call, start time.Time) {
				fbAtMenu(ctx, t, c, start)
				press(t, c, "0", 0)
			},
			reason: "caller_request", priority: "priority=0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			start := time.Now()
			c := fbCaller(ctx, t, g, tt.from, "Struggling Caller")
			tt.script(ctx, t, c, start)
			line, err := g.waitLog(ctx, "caller queued", c.CallID())
			if err != nil {
				t.Fatalf("caller never queued for a person: %v\n%s", err, g.Log())
			}
			if !strings.Contains(line, tt.priority) {
				t.Errorf("queued with %q, want %s", line, tt.priority)
			}
			if err := c.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			j := waitJourney(ctx, t, file, c.CallID())
			if j.Escalated != tt.reason {
				t.Errorf("journey escalated = %q, want %q (keys %q, path %v)", j.Escalated, tt.reason, j.Keys, j.Path)
			}
		})
	}
}

// TestMenuTimeCap: with max_menu_time 4s a caller who only listens is
// handed to a person when the cap runs out, before the menu's own
// no-input tries would (5 s after the prompt ends).
func TestMenuTimeCap(t *testing.T) {
	shipped, err := os.ReadFile("../configs/menu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(shipped), "max_menu_time: 5m", "max_menu_time: 4s", 1)
	if src == string(shipped) {
		t.Fatal("configs/menu.yaml has no max_menu_time: 5m to shorten")
	}
	dir := t.TempDir()
	menu, file := filepath.Join(dir, "menu.yaml"), filepath.Join(dir, "journeys.jsonl")
	if err := os.WriteFile(menu, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "-menu", menu, "-journey-file", file)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c := fbCaller(ctx, t, g, "5550207", "Patient Listener")
	if _, err := g.waitLog(ctx, "caller queued", c.CallID(), "priority=10"); err != nil {
		t.Fatalf("the silent caller was not queued at the frustration priority: %v\n%s", err, g.Log())
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	j := waitJourney(ctx, t, file, c.CallID())
	if j.Escalated != "menu_time" || j.Keys != "" {
		t.Errorf("journey escalated %q with keys %q, want menu_time with none", j.Escalated, j.Keys)
	}
	for _, s := range j.Steps {
		if s.Kind == journey.StepNoInput {
			t.Errorf("journey has a no_input step %+v: the cap should have come first", s)
		}
	}
}

// waitJourney reads the journey of callID from the JSON-lines file.
func waitJourney(ctx context.Context, t *testing.T, file, callID string) journey.Journey {
	t.Helper()
	var j journey.Journey
	if err := poll(ctx, "journey of "+callID, func() bool {
		b, _ := os.ReadFile(file)
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			if json.Unmarshal(sc.Bytes(), &j) == nil && j.CallID == callID {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	return j
}
