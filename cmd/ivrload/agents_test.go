package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"strings"
	"testing"
)

func TestWriteAgentsFile(t *testing.T) {
	var b bytes.Buffer
	if err := writeAgentsFile(&b, 3, 20000, "ivrgw"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	sum := md5.Sum([]byte("20002:ivrgw:load-20002"))
	for _, want := range []string{"realm: ivrgw\n", `extension: "20000"`, `extension: "20002"`, "demo: true",
		"md5: " + hex.EncodeToString(sum[:]) + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("agents file lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "  - name: "); n != 3 {
		t.Errorf("agents file has %d agents, want 3", n)
	}
	for _, args := range [][]string{{"-n", "0"}, {"-n", "5000"}, {"-base", "0"}} {
		if err := agentsCommand(args, io.Discard, io.Discard); err == nil {
			t.Errorf("ivrload agents %v accepted", args)
		}
	}
}

func TestAgentsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-agents", "10", "-calls", "10"}, "-agents needs -key"},
		{[]string{"-agents", "5", "-calls", "10", "-key", "0"}, "no more calls than agents"},
		{[]string{"-agents", "-1"}, "-agents -1"},
		{[]string{"-key", "3"}, "-key needs -key-reply"},
		{[]string{"-key", "x", "-key-reply", "k.wav"}, "-key \"x\""},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%v) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	if _, err := parseFlags([]string{"-agents", "10", "-calls", "10", "-key", "0"}, io.Discard); err != nil {
		t.Errorf("parseFlags(10 agents, 10 calls, key 0) = %v", err)
	}
}
