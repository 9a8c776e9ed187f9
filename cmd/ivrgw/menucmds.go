package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/ivrgw/ivrgw/agents"
	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/prompts"
)

// defaultQueue is the queue any agent on duty serves: gateway.Config's
// DefaultQueue, which the gateway leaves at its default.
const defaultQueue = "support"

// staff answers the menu checker's question "can anyone take calls from
// this queue?" from the agents file, the way gateway.Fallback routes: the
// default queue to anyone, any other queue to agents with that skill.
type staff struct{ agents []agents.Agent }

func (s staff) Serves(queue string) bool {
	if queue == defaultQueue {
		return len(s.agents) > 0
	}
	return slices.ContainsFunc(s.agents, func(a agents.Agent) bool { return a.HasSkill(queue) })
}

var _ ivr.Staff = staff{}

// validateCmd checks a menu file like the running gateway would and prints
// every problem; with -agents it also checks that every queue has agents.
func validateCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ivrgw validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	agentsFile := fs.String("agents", "", "also check every queue against this agents file (e.g. configs/agents.yaml)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ivrgw validate [-agents configs/agents.yaml] MENU.yaml")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	set, err := prompts.Default()
	if err != nil {
		fmt.Fprintln(stderr, "ivrgw: embedded prompts:", err)
		return 1
	}
	in := ivr.Inputs{Catalog: set}
	if *agentsFile != "" {
		dir, err := agents.Load(*agentsFile)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		in.Staff = staff{dir.All()}
	}
	if _, err := ivr.LoadWith(fs.Arg(0), in); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", fs.Arg(0))
	return 0
}

// graphCmd prints the menu as Graphviz DOT or Mermaid, each menu marked
// with its distance in key presses to a person. A menu with judgement
// problems (a dead end, an unreachable menu) is drawn anyway, the problems
// going to stderr, since that is when a picture helps.
func graphCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ivrgw graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "dot", "dot (Graphviz: ivrgw graph F | dot -Tsvg > menu.svg) or mermaid")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ivrgw graph [-format dot|mermaid] MENU.yaml")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	write := map[string]func(io.Writer, *ivr.Config) error{"dot": ivr.WriteDOT, "mermaid": ivr.WriteMermaid}[*format]
	if fs.NArg() != 1 || write == nil {
		fs.Usage()
		return 2
	}
	cfg, err := ivr.LoadWith(fs.Arg(0), ivr.Inputs{Lenient: true})
	if cfg == nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
	}
	if err := write(stdout, cfg); err != nil {
		fmt.Fprintln(stderr, "ivrgw: write graph:", err)
		return 1
	}
	return 0
}

// checkCmd validates what the gateway would start with: the flags (and
// IVRGW_* environment), the agents file, and the menu checked against the
// prompts and the agents. It prints every problem and starts nothing.
func checkCmd(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "flags:", err)
		return 1
	}
	bad := false
	problem := func(what string, err error) {
		fmt.Fprintf(stderr, "%s: %v\n", what, err)
		bad = true
	}
	if _, _, err := o.addresses(); err != nil {
		problem("flags", err)
	}
	in := ivr.Inputs{}
	if set, err := loadPrompts(o.prompts); err != nil {
		problem("prompts", err)
	} else {
		in.Catalog = set
	}
	dir, err := agents.Load(o.agents)
	switch {
	case err != nil:
		fmt.Fprintln(stderr, err)
		bad = true
	case dir.Realm() != o.realm:
		problem("agents", fmt.Errorf("%s was made for realm %q but -realm is %q (the stored HA1 hashes depend on it)", o.agents, dir.Realm(), o.realm))
		in.Staff = staff{dir.All()}
	default:
		in.Staff = staff{dir.All()}
	}
	if _, err := ivr.LoadWith(o.menu, in); err != nil {
		fmt.Fprintln(stderr, err)
		bad = true
	}
	if bad {
		return 1
	}
	fmt.Fprintf(stdout, "ok: flags, %s, %s\n", o.agents, o.menu)
	return 0
}
