package e2e

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// chromium finds Debian's chromium; CI (IVRGW_REQUIRE_CHROMIUM=1) fails
// without it, a developer's machine skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("IVRGW_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium not installed and IVRGW_REQUIRE_CHROMIUM=1")
	}
	t.Skip("chromium not installed")
	return ""
}

// TestSupervisorPage drives the live page in headless Chromium: a test
// call appears in the menu, the agent's state changes live both when the
// page's own button pauses them and when the API resumes them, and the
// finished call leaves the list and shows in the funnel.
func TestSupervisorPage(t *testing.T) {
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	g := fbGateway(t)
	agentStart(t, g, "1002", agent.AutoAnswer)

	alloc, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true), chromedp.UserDataDir(t.TempDir()))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(alloc)
	defer bcancel()
	visible := func(what, sel string) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(bctx, 20*time.Second)
		defer wcancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(sel)); err != nil {
			html, _ := chromedp.Run(bctx, chromedp.OuterHTML("body"))
			t.Fatalf("supervisor page: %s (%s): %v\n%s", what, sel, err, html)
		}
	}

	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+g.HTTP+"/supervisor")); err != nil {
		t.Fatal(err)
	}
	visible("agent available", `#agents tr[data-ext="1002"][data-state="available"]`)

	start := time.Now()
	c := fbCaller(ctx, t, g, "5550777", "Page Test")
	fbAtMenu(ctx, t, c, start)
	visible("call in the main menu", `#calls tr[data-call="`+c.CallID()+`"][data-state="menu"]`)
	menu, err := chromedp.Run(bctx, chromedp.Text(`#calls tr[data-call="`+c.CallID()+`"] td:nth-child(4)`))
	if err != nil {
		t.Fatal(err)
	}
	if menu != "main" {
		t.Errorf("supervisor page: call's menu = %q, want main", menu)
	}

	// The page's own button pauses the agent (a same-origin POST)...
	if err := chromedp.Do(bctx, chromedp.Click(`#agents tr[data-ext="1002"] button[data-action="pause"]`)); err != nil {
		t.Fatal(err)
	}
	visible("agent paused", `#agents tr[data-ext="1002"][data-state="paused"]`)
	if a := fbAgent(t, g.HTTP, "1002"); a.State != "paused" {
		t.Errorf("GET /agents 1002 after the page's pause = %q, want paused", a.State)
	}
	// ...and a change made elsewhere shows up without a reload.
	if code := fbPost(t, g.HTTP, "/agents/1002/resume"); code != 200 {
		t.Fatalf("POST resume = %d", code)
	}
	visible("agent available again", `#agents tr[data-ext="1002"][data-state="available"]`)

	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	visible("funnel of the finished call", `#funnel tr[data-menu="main"]`)
	wctx, wcancel := context.WithTimeout(bctx, 20*time.Second)
	defer wcancel()
	if err := chromedp.Do(wctx, chromedp.WaitNotPresent(`#calls tr[data-call="`+c.CallID()+`"]`)); err != nil {
		t.Errorf("supervisor page: the ended call is still listed: %v", err)
	}
}
