package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ivrgw/ivrgw/agents"
)

// agentCmd handles `ivrgw agent add`: it appends an agent with a fresh
// password to the agents file and prints the password once. Only the HA1
// hashes are stored.
func agentCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(stderr, "usage: ivrgw agent add -ext 1004 -name Dana [-skills support,billing] [-agents configs/agents.yaml] [-realm ivrgw]")
		return 2
	}
	fs := flag.NewFlagSet("ivrgw agent add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ext := fs.String("ext", "", "extension (the SIP user name the softphone registers with)")
	name := fs.String("name", "", "the agent's name")
	skills := fs.String("skills", "support", "comma-separated skills")
	// The same file and realm the gateway would use: IVRGW_AGENTS and
	// IVRGW_REALM count here too, and the default is found like the gateway's.
	file := fs.String("agents", envOr("IVRGW_AGENTS", besideBinary("configs/agents.yaml")), "agents file to append to")
	realm := fs.String("realm", envOr("IVRGW_REALM", agents.DefaultRealm), "digest realm (must match the file's realm)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *ext == "" || *name == "" {
		fmt.Fprintln(stderr, "ivrgw agent add: -ext and -name are required")
		return 2
	}
	var sk []string
	for _, s := range strings.Split(*skills, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sk = append(sk, s)
		}
	}
	pw, err := agents.AddAgent(*file, *ext, *name, sk, *realm)
	if err != nil {
		fmt.Fprintln(stderr, "ivrgw agent add:", err)
		return 1
	}
	where := *file
	if abs, err := filepath.Abs(where); err == nil {
		where = abs
	}
	fmt.Fprintf(stdout, "added agent %s (%s) to %s\npassword: %s\n(shown once; only its digest hashes are stored)\n", *ext, *name, where, pw)
	return 0
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}
