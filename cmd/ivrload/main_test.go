package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone/fakeuas"
)

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"127.0.0.1:5060", true},
		{"127.1.2.3:5060", true},
		{"[::1]:5060", true},
		{"[::ffff:127.0.0.1]:5060", true},
		{"10.0.0.1:5060", false},
		{"192.0.2.10:5060", false},
		{"[2001:db8::1]:5060", false},
		{"localhost:5060", false},
		{"127.0.0.1", false},
		{"127.0.0.1:0", false},
		{"0.0.0.0:5060", false},
	}
	for _, tt := range tests {
		if got := checkTarget(tt.in) == nil; got != tt.want {
			t.Errorf("checkTarget(%q) ok = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and ')' must not shift the fields.
	in := "4242 (ivr gw) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0"
	got, err := parseStat(in)
	if err != nil || got != 3*time.Second {
		t.Errorf("parseStat(%q) = %v, %v, want 3s", in, got, err)
	}
	if _, err := parseStat("garbage"); err == nil {
		t.Error("parseStat(garbage) error = nil, want error")
	}
}

// TestRunAgainstFake runs the whole tool briefly against the fake UAS.
func TestRunAgainstFake(t *testing.T) {
	tests := []struct {
		name string
		fake fakeuas.Config
		want []string
	}{
		{"answered", fakeuas.Config{}, []string{"attempted 4, answered 4, failed 0", "set-up (INVITE to 200, with the ACK): p50 ", "lost 0 (0.000%)", "lateness: p50"}},
		{"busy", fakeuas.Config{Reject: 486}, []string{"attempted 4, answered 0, failed 4", "failures: 486 x4;", "no audio received"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uas, err := fakeuas.Start(tt.fake)
			if err != nil {
				t.Fatal(err)
			}
			defer uas.Close()
			var out bytes.Buffer
			o := options{target: uas.Addr(), transport: "udp", calls: 4, ramp: 20, duration: time.Second,
				to: "support", dialTimeout: 5 * time.Second, pid: os.Getpid()}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := run(ctx, o, &out, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatalf("run() = %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("run() report =\n%s\nwant it to contain %q", out.String(), w)
				}
			}
			if !regexp.MustCompile(`gateway cpu \(pid \d+\): [0-9.]+ s(.|\n)*gateway rss \(pid \d+\): [0-9.]+ MiB before`).MatchString(out.String()) {
				t.Errorf("run() report =\n%s\nwant a cpu line", out.String())
			}
			t.Logf("report:\n%s", out.String())
		})
	}
}

// -strict fails a run with a failed call and passes a clean one.
func TestRunStrict(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fake  fakeuas.Config
		clean bool
	}{{"clean", fakeuas.Config{}, true}, {"busy", fakeuas.Config{Reject: 486}, false}} {
		t.Run(tt.name, func(t *testing.T) {
			uas, err := fakeuas.Start(tt.fake)
			if err != nil {
				t.Fatal(err)
			}
			defer uas.Close()
			o := options{target: uas.Addr(), transport: "udp", calls: 2, ramp: 20, duration: time.Second,
				to: "support", dialTimeout: 5 * time.Second, strict: true}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out bytes.Buffer
			err = run(ctx, o, &out, slog.New(slog.DiscardHandler))
			if tt.clean && err != nil {
				t.Errorf("run -strict on a clean run = %v\n%s", err, out.String())
			}
			if !tt.clean && !errors.Is(err, errNotClean) {
				t.Errorf("run -strict with failed calls = %v, want errNotClean\n%s", err, out.String())
			}
		})
	}
}

func TestParseRSS(t *testing.T) {
	got, err := parseRSS("Name:\tivrgw\nVmPeak:\t  900000 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n")
	if err != nil || got != 51234*1024 {
		t.Errorf("parseRSS = %d, %v, want %d", got, err, 51234*1024)
	}
	for _, bad := range []string{"", "VmRSS:\t12 MB\n", "VmRSS:\tx kB\n"} {
		if _, err := parseRSS(bad); err == nil {
			t.Errorf("parseRSS(%q) accepted", bad)
		}
	}
}
