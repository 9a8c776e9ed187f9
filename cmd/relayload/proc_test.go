package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and ')'.
	line := "4242 (rtp (engine) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 9 0 100 0 0"
	got, err := parseStat([]byte(line))
	if want := 175 * clockTick; err != nil || got != want {
		t.Errorf("parseStat(%q) = %v, %v, want %v", line, got, err, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 0"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) error = nil, want an error", bad)
		}
	}
}

func TestParseRSS(t *testing.T) {
	got, err := parseRSS([]byte("Name:\trtpengine\nVmPeak:\t  9 kB\nVmRSS:\t   36728 kB\nThreads: 9\n"))
	if err != nil || got != 36728 {
		t.Errorf("parseRSS() = %d, %v, want 36728", got, err)
	}
	for _, bad := range []string{"Name: x\n", "VmRSS: 12 MB\n", "VmRSS: x kB\n"} {
		if _, err := parseRSS([]byte(bad)); err == nil {
			t.Errorf("parseRSS(%q) error = nil, want an error", bad)
		}
	}
}

func TestReadSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if c, err := readCPU(os.Getpid()); err != nil || c < 0 || c > time.Hour {
		t.Errorf("readCPU(self) = %v, %v", c, err)
	}
	if r, err := readRSS(os.Getpid()); err != nil || r <= 0 {
		t.Errorf("readRSS(self) = %d, %v", r, err)
	}
}
