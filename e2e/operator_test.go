package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// TestValidateCommand: `ivrgw validate` accepts the shipped menu and lists
// every problem of a broken one as file:line:col.
func TestValidateCommand(t *testing.T) {
	out, err := exec.Command(binary, "validate", "../configs/menu.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("validate shipped menu: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "menu.yaml")
	if err := os.WriteFile(bad, []byte(brokenMenu), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(binary, "validate", bad).CombinedOutput()
	if err == nil {
		t.Fatalf("validate broken menu succeeded:\n%s", out)
	}
	for _, want := range []string{bad + ":8:", bad + ":10:", bad + ":15:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate output lacks a problem at %q:\n%s", want, out)
		}
	}
}

// brokenMenu has a missing prompt (line 8), an unknown key (line 10) and a
// submenu that does not exist (line 15).
const brokenMenu = `settings:
  languages: [en]
  default_language: en
  start: main
  welcome: [welcome]
menus:
  main:
    prompt: [no_such_prompt]
    options:
      1: {menu: billing, colour: blue}
      "*": repeat
  billing:
    prompt: [billing_menu]
    options:
      1: {menu: nowhere}
`

// TestBadEditKeepsMenu edits the live menu file: a good edit takes effect
// for new calls, a bad one is refused with its line in the log, and the menu
// in service stays.
func TestBadEditKeepsMenu(t *testing.T) {
	menu := filepath.Join(t.TempDir(), "menu.yaml")
	shipped, err := os.ReadFile("../configs/menu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(menu, shipped, 0o644); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "-menu", menu)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// A broken edit: refused, logged with file and line.
	if err := os.WriteFile(menu, append(append([]byte{}, shipped...), []byte("\nsurprise: [\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	line, err := g.waitLog(ctx, menu+":")
	if err != nil {
		t.Fatalf("bad edit not reported with its file: %v", err)
	}
	t.Logf("gateway said: %s", line)

	// Callers still get the old menu, whole.
	c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "after-bad-edit", To: "support"})
	if err != nil {
		t.Fatalf("Dial after bad edit: %v", err)
	}
	defer c.Close()
	pt := c.Media().Codec
	set := promptSet(t)
	start := time.Now()
	if err := waitPrompt(ctx, c, start, promptSignature(t, set, "en", "main_menu", pt)); err != nil {
		t.Fatal(err)
	}
	// 9 switches to Spanish: the language option of the old menu still works.
	t1 := time.Now()
	if err := c.SendDigit4733('9', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitPrompt(ctx, c, t1, promptSignature(t, set, "es", "main_menu", pt)); err != nil {
		t.Fatalf("language switch: %v", err)
	}
	_ = c.Hangup(ctx)

	// A good edit takes effect for the next call: 3 now plays the balance
	// message instead of the order status.
	edited := strings.Replace(string(shipped), "3: {play: [order_status]}", "3: {play: [balance_info]}", 1)
	if edited == string(shipped) {
		t.Fatal("shipped menu changed shape; update this test's edit")
	}
	if err := os.WriteFile(menu, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := g.waitLog(ctx, "menu reloaded"); err != nil {
		t.Fatal(err)
	}
	c2, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "after-good-edit", To: "support"})
	if err != nil {
		t.Fatalf("Dial after good edit: %v", err)
	}
	defer c2.Close()
	if err := c2.WaitForSpeech(ctx, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	if err := c2.SendDigit4733('3', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := waitPrompt(ctx, c2, t2, promptSignature(t, set, "en", "balance_info", c2.Media().Codec)); err != nil {
		t.Fatalf("edited menu not in service: %v", err)
	}
	_ = c2.Hangup(ctx)
}
