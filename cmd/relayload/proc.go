package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux this runs on (the kernel fixes it for user space, proc(5)).
const clockTick = 10 * time.Millisecond

// readCPU returns utime+stime of pid, all its threads, from
// /proc/PID/stat (proc(5): fields 14 and 15, counted after the ')' that
// ends the command name, which may itself hold spaces and parentheses).
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu of pid %d: %w", pid, err)
	}
	return parseStat(b)
}

func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("parse /proc stat: no ')'")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, errors.New("parse /proc stat: too few fields")
	}
	var sum time.Duration
	for _, s := range f[11:13] { // state is field 3, so utime (14) is f[11]
		v, err := strconv.ParseUint(string(s), 10, 63)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat: %w", err)
		}
		sum += time.Duration(v) * clockTick
	}
	return sum, nil
}

// readRSS returns VmRSS of pid in KiB from /proc/PID/status.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read rss of pid %d: %w", pid, err)
	}
	return parseRSS(b)
}

func parseRSS(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("parse /proc status: VmRSS %q", bytes.TrimSpace(rest))
		}
		v, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc status: VmRSS: %w", err)
		}
		return v, nil
	}
	return 0, errors.New("parse /proc status: no VmRSS")
}

// selfCPU is this process's own user+system time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
