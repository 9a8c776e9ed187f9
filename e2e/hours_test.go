package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// closedMenu keeps the support queue and the billing menu closed: their
// schedule is open round the clock except on three holidays, yesterday,
// today and tomorrow in UTC, so the test holds whenever it runs (even
// across midnight).
func closedMenu(now time.Time) string {
	day := func(d int) string { return now.UTC().AddDate(0, 0, d).Format(time.DateOnly) }
	return fmt.Sprintf(`settings:
  languages: [en]
  timezone: UTC
  person: {queue: support}
hours:
  closed_today:
    open: {daily: 00:00-24:00}
    holidays: [%s, %s, %s]
queues:
  support:
    hours: closed_today
    closed: {say: [closed_now]}
menus:
  main:
    prompt: [main_menu]
    short: [main_menu_short]
    options:
      1: {menu: billing}
      2: {menu: tech}
  billing:
    prompt: [billing_menu]
    hours: closed_today
    closed: {say: [closed_hours], then: {menu: tech}}
    options: {1: transfer, "*": back}
  tech:
    prompt: [tech_menu]
    options: {1: transfer, "*": back}
`, day(-1), day(0), day(1))
}

// TestClosedHours runs the real binary on a menu whose person queue and
// billing menu are outside their hours. A caller who asks for a person
// hears that the office is closed and gets the menu again; no agent's
// phone rings although one is free. A caller who chooses billing hears the
// hours and lands in the tech menu. The journey record and the metrics
// show both.
func TestClosedHours(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	menu := filepath.Join(dir, "menu.yaml")
	if err := os.WriteFile(menu, []byte(closedMenu(time.Now())), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "journeys.jsonl")
	g := startGateway(t, "-menu", menu, "-journey-file", file, "-ring-timeout", "5s")
	ag := agentStart(t, g, "1002", agent.AutoAnswer) // free, and serves support
	set := promptSet(t)

	start := time.Now()
	c := fbCaller(ctx, t, g, "5550140", "After Hours")
	sig := func(name string) signature { return promptSignature(t, set, "en", name, c.Media().Codec) }
	fbAtMenu(ctx, t, c, start)
	asked := time.Now() // before the key: the message starts as the key is heard
	if err := c.SendDigit4733('0', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitPrompt(ctx, c, asked, sig("closed_now")); err != nil {
		t.Fatalf("the caller who asked for a person was not told the office is closed: %v\n%s", err, g.Log())
	}
	if err := waitPrompt(ctx, c, asked, sig("main_menu_short")); err != nil {
		t.Fatalf("no menu after the closed message: %v", err)
	}

	// Billing is closed too: its message, then the tech menu.
	chose := time.Now()
	if err := c.SendDigit4733('1', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitPrompt(ctx, c, chose, sig("closed_hours")); err != nil {
		t.Fatalf("billing's closed message not heard: %v", err)
	}
	if err := waitPrompt(ctx, c, chose, sig("tech_menu")); err != nil {
		t.Fatalf("not sent to the tech menu while billing is closed: %v", err)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(ag.Calls()); n != 0 {
		t.Errorf("the free agent got %d INVITEs while support was closed, want none", n)
	}

	j := waitJourney(ctx, t, file, c.CallID())
	var steps []string
	for _, s := range j.Steps {
		switch s.Kind {
		case journey.StepClosed:
			steps = append(steps, "closed:"+s.Menu+":"+s.Queue+":"+s.Reason)
		case journey.StepMenu:
			steps = append(steps, "menu:"+s.Menu)
		case journey.StepEscalate, journey.StepQueued, journey.StepRinging:
			steps = append(steps, s.Kind)
		}
	}
	want := "menu:main closed:main:support:closed_today closed:billing::closed_today menu:tech"
	if got := strings.Join(steps, " "); got != want {
		t.Errorf("journey steps (menus, closed, escalations) = %s, want %s", got, want)
	}
	if j.Escalated != "" || j.Agent != "" {
		t.Errorf("journey says escalated %q to agent %q, want neither", j.Escalated, j.Agent)
	}

	body := getBody(ctx, t, "http://"+g.HTTP+"/metrics")
	for _, want := range []string{
		`ivrgw_closed_hours_total{closed="queue:support"} 1`,
		`ivrgw_closed_hours_total{closed="menu:billing"} 1`,
		`ivrgw_menu_funnel_total{event="closed",menu="billing"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLines(body, "closed"))
		}
	}
}
