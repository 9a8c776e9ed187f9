package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// runCmd runs the ivrgw command line in-process and returns its exit
// code and outputs.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	code = run(args, &out, &errw)
	return code, out.String(), errw.String()
}

// TestCheck: `ivrgw check` judges flags, agents file and menu together,
// prints every problem at file:line:col, and exits 1 on any.
func TestCheck(t *testing.T) {
	const (
		shippedMenu   = "../../configs/menu.yaml"
		shippedAgents = "../../configs/agents.yaml"
		supportOnly   = "testdata/agents_support.yaml"
	)
	// Where the shipped menu transfers to billing: found, not hard-coded,
	// so editing comments above it does not break the test.
	shipped, err := os.ReadFile(shippedMenu)
	if err != nil {
		t.Fatal(err)
	}
	const billingThen = "then: {transfer: {queue: billing"
	before, _, found := strings.Cut(string(shipped), billingThen)
	if !found {
		t.Fatalf("%s has no %q", shippedMenu, billingThen)
	}
	billingAt := fmt.Sprintf("%s:%d:%d", shippedMenu, strings.Count(before, "\n")+1,
		len(before)-strings.LastIndex(before, "\n")+len("then: {transfer: {queue: "))
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string // lines, in order; nil: stderr empty
	}{
		{"shipped", []string{"-menu", shippedMenu, "-agents", shippedAgents}, 0,
			"ok: flags, " + shippedAgents + ", " + shippedMenu + "\n", nil},
		{"bad flag", []string{"-log-level", "loud"}, 1, "",
			[]string{`flags: -log-level "loud": want debug, info, warn or error`}},
		{"unknown flag", []string{"-menus", "x"}, 1, "",
			nil}, // flag's own message, checked below
		{"bad agents file", []string{"-menu", shippedMenu, "-agents", "testdata/agents_bad.yaml"}, 1, "",
			[]string{
				`testdata/agents_bad.yaml:4:16: agent 1: extension: "12x" must be 2-15 digits`,
				`testdata/agents_bad.yaml:7:7: agent 1: ha1.sha256: required (HA1 hash, never a password)`,
			}},
		{"realm differs", []string{"-menu", shippedMenu, "-agents", shippedAgents, "-realm", "other"}, 1, "",
			[]string{`agents: ../../configs/agents.yaml was made for realm "ivrgw" but -realm is "other" (the stored HA1 hashes depend on it)`}},
		{"queues nobody serves", []string{"-menu", "testdata/menu_queues.yaml", "-agents", supportOnly}, 1, "",
			[]string{
				`testdata/menu_queues.yaml:8:29: transfer to queue "sales": no agent in the agents file serves it`,
				`testdata/menu_queues.yaml:15:36: transfer to queue "billing": no agent in the agents file serves it`,
			}},
		{"shipped menu, support-only agents", []string{"-menu", shippedMenu, "-agents", supportOnly}, 1, "",
			[]string{billingAt + `: transfer to queue "billing": no agent in the agents file serves it`}},
		{"dead ends", []string{"-menu", "testdata/menu_deadend.yaml", "-agents", supportOnly}, 1, "",
			[]string{
				`testdata/menu_deadend.yaml:11:3: menu "billing" is a dead end: none of its options leads to a person (a transfer), only to hang-ups, plays or loops; add a transfer or a way back`,
				`testdata/menu_deadend.yaml:15:3: menu "tech" is a dead end: none of its options leads to a person (a transfer), only to hang-ups, plays or loops; add a transfer or a way back`,
			}},
		{"too far and unserved", []string{"-menu", "testdata/menu_far.yaml", "-agents", supportOnly}, 1, "",
			[]string{
				`testdata/menu_far.yaml:6:3: menu "main" is 2 key presses from a person, more than max_presses_to_person (1)`,
				`testdata/menu_far.yaml:13:29: transfer to queue "billing": no agent in the agents file serves it`,
			}},
		// Both missing files are reported, not just the first.
		{"missing files", []string{"-menu", "testdata/none.yaml", "-agents", "testdata/none-agents.yaml"}, 1, "",
			[]string{
				`load agents: open testdata/none-agents.yaml: no such file or directory`,
				`read menu file: open testdata/none.yaml: no such file or directory`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"check"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("ivrgw check %q exit = %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
			}
			if stdout != tt.stdout {
				t.Errorf("ivrgw check %q stdout = %q, want %q", tt.args, stdout, tt.stdout)
			}
			if tt.stderr == nil {
				if tt.code == 0 && stderr != "" {
					t.Errorf("ivrgw check %q stderr = %q, want empty", tt.args, stderr)
				}
				if tt.code != 0 && stderr == "" {
					t.Errorf("ivrgw check %q stderr empty, want the problem", tt.args)
				}
				return
			}
			if want := strings.Join(tt.stderr, "\n") + "\n"; stderr != want {
				t.Errorf("ivrgw check %q stderr =\n%s\nwant\n%s", tt.args, stderr, want)
			}
		})
	}
}

// TestValidateAgents: validate alone checks the menu; with -agents it also
// judges every queue.
func TestValidateAgents(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"testdata/menu_queues.yaml"}, 0, "testdata/menu_queues.yaml: ok\n", ""},
		{[]string{"-agents", "testdata/agents_support.yaml", "testdata/menu_queues.yaml"}, 1, "",
			`testdata/menu_queues.yaml:8:29: transfer to queue "sales": no agent in the agents file serves it` + "\n" +
				`testdata/menu_queues.yaml:15:36: transfer to queue "billing": no agent in the agents file serves it` + "\n"},
		{[]string{"testdata/menu_deadend.yaml"}, 1, "",
			`testdata/menu_deadend.yaml:11:3: menu "billing" is a dead end: none of its options leads to a person (a transfer), only to hang-ups, plays or loops; add a transfer or a way back` + "\n" +
				`testdata/menu_deadend.yaml:15:3: menu "tech" is a dead end: none of its options leads to a person (a transfer), only to hang-ups, plays or loops; add a transfer or a way back` + "\n"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCmd(t, append([]string{"validate"}, tt.args...)...)
		if code != tt.code || stdout != tt.stdout || stderr != tt.stderr {
			t.Errorf("ivrgw validate %q = %d, stdout %q, stderr\n%s\nwant %d, %q, stderr\n%s", tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
}

// TestGraphCmd: graph prints DOT by default and Mermaid on request, draws
// a menu with judgement problems (naming them on stderr), and refuses a
// file it cannot read or a format it does not know.
func TestGraphCmd(t *testing.T) {
	golden := func(name string) string {
		b, err := os.ReadFile("../../ivr/testdata/graph/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // "" for: must be empty
		stderrHas  string // "" for: must be empty
		stdoutHead string // checked instead of stdout when set
	}{
		{"default is dot", []string{"../../configs/menu.yaml"}, 0, golden("shipped.dot"), "", ""},
		{"dot", []string{"-format", "dot", "../../configs/menu.yaml"}, 0, golden("shipped.dot"), "", ""},
		{"mermaid", []string{"-format", "mermaid", "../../configs/menu.yaml"}, 0, golden("shipped.mmd"), "", ""},
		{"dead end drawn", []string{"testdata/menu_deadend.yaml"}, 0, "",
			`testdata/menu_deadend.yaml:11:3: menu "billing" is a dead end`, "digraph menu {"},
		{"unknown format", []string{"-format", "svg", "../../configs/menu.yaml"}, 2, "", "usage: ivrgw graph", ""},
		{"no file", []string{}, 2, "", "usage: ivrgw graph", ""},
		{"missing file", []string{"testdata/none.yaml"}, 1, "", "testdata/none.yaml", ""},
		{"broken menu", []string{"testdata/agents_bad.yaml"}, 1, "", `testdata/agents_bad.yaml:1:1: unknown key "realm"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"graph"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("ivrgw graph %q exit = %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
			}
			switch {
			case tt.stdoutHead != "":
				if !strings.HasPrefix(stdout, tt.stdoutHead) {
					t.Errorf("ivrgw graph %q stdout = %q..., want it to start %q", tt.args, firstLine(stdout), tt.stdoutHead)
				}
			case stdout != tt.stdout:
				t.Errorf("ivrgw graph %q stdout =\n%s\nwant\n%s", tt.args, stdout, tt.stdout)
			}
			if tt.stderrHas == "" && stderr != "" || !strings.Contains(stderr, tt.stderrHas) {
				t.Errorf("ivrgw graph %q stderr = %q, want it to hold %q", tt.args, stderr, tt.stderrHas)
			}
		})
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
