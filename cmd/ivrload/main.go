// Command ivrload is the gateway's load tool: it places N concurrent calls
// with the project's test phone (sip/testphone), keeps each up for a while
// listening to the menu, and reports how punctually the gateway's RTP
// arrived (lateness against the RTP timestamp schedule), how much was lost,
// and, given -pid, how much CPU the gateway used. With -key each caller
// presses a key during the menu and the tool times the reply prompt
// (keys.go).
//
// It only ever sends to loopback (127.0.0.0/8 or ::1) and every loop ends
// by itself: the ramp after N calls, each call after -duration plus fixed
// SIP timeouts. It must not import the gateway's own packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

type options struct {
	target      string
	transport   string
	calls       int
	ramp        float64
	duration    time.Duration
	pid         int
	to          string
	dialTimeout time.Duration
	strict      bool
	key         string        // "" or one DTMF key to press
	keyAfter    time.Duration // into the call
	keyReply    string        // the μ-law WAV the key should start
	reply       *replyPrompt  // keyReply, loaded
	agents      int           // register this many agents; callers press -key for a person
	agentBase   int           // the first agent's extension
}

// errNotClean is run's error under -strict when the run was not clean.
var errNotClean = errors.New("load run not clean")

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if len(os.Args) > 1 && os.Args[1] == "agents" {
		if err := agentsCommand(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				os.Exit(0)
			}
			fmt.Fprintln(os.Stderr, "ivrload agents:", err)
			os.Exit(2)
		}
		return
	}
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ivrload:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, opts, os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "ivrload:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ivrload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.target, "target", "127.0.0.1:5060", "gateway SIP address (loopback only)")
	fs.StringVar(&o.transport, "transport", "udp", "udp or tcp")
	fs.IntVar(&o.calls, "calls", 100, "number of calls (concurrent when -duration outlasts the ramp; up to 100,000)")
	fs.Float64Var(&o.ramp, "ramp", 50, "calls started per second")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long each call stays up")
	fs.IntVar(&o.pid, "pid", 0, "gateway process id, to report its CPU use (Linux /proc)")
	fs.StringVar(&o.to, "to", "support", "number to dial")
	fs.DurationVar(&o.dialTimeout, "dial-timeout", 10*time.Second, "time allowed for each call to be answered")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when any call failed, was ended early by the gateway, lost an RTP packet, or (with -key) never heard the reply (a smoke test; timings never fail it)")
	fs.StringVar(&o.key, "key", "", "a key each caller presses as an RFC 4733 event, -key-after into the call (0-9, *, #); needs -key-reply")
	fs.DurationVar(&o.keyAfter, "key-after", 5*time.Second, "when, after the answer, each caller presses -key")
	fs.StringVar(&o.keyReply, "key-reply", "", "the prompt -key starts, as the gateway's μ-law WAV (prompts/audio/en/order_status.wav for 3 in the shipped menu); its first packet ends the key-to-prompt time")
	fs.IntVar(&o.agents, "agents", 0, "register this many agents (accounts from \"ivrload agents\") and bridge every caller to one: callers press -key (the person key) and time the agent's answer; 0: menu calls only")
	fs.IntVar(&o.agentBase, "agent-base", 20000, "the first agent's extension (as given to \"ivrload agents -base\")")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if o.agents < 0 || o.agents > 4000 {
		errs = append(errs, fmt.Errorf("-agents %d: want 0..4000", o.agents))
	}
	if o.agents > 0 && o.key == "" {
		errs = append(errs, errors.New("-agents needs -key, the person key the callers press"))
	}
	if o.agents > 0 && o.calls > o.agents {
		errs = append(errs, fmt.Errorf("-calls %d with -agents %d: want no more calls than agents (one call each)", o.calls, o.agents))
	}
	if o.key != "" {
		if len(o.key) != 1 || !strings.Contains("0123456789*#", o.key) {
			errs = append(errs, fmt.Errorf("-key %q: want one of 0-9, * and #", o.key))
		}
		if o.keyAfter <= 0 || o.keyAfter >= o.duration {
			errs = append(errs, fmt.Errorf("-key-after %v: want within the call's -duration %v", o.keyAfter, o.duration))
		}
		if o.agents > 0 {
			// the reply to the key is a person, not a prompt
		} else if o.keyReply == "" {
			errs = append(errs, errors.New("-key needs -key-reply, the prompt it starts"))
		} else if r, err := loadReply(o.keyReply); err != nil {
			errs = append(errs, err)
		} else {
			o.reply = r
		}
	}
	if err := checkTarget(o.target); err != nil {
		errs = append(errs, err)
	}
	if o.transport != "udp" && o.transport != "tcp" {
		errs = append(errs, fmt.Errorf("-transport %q: want udp or tcp", o.transport))
	}
	if o.calls < 1 || o.calls > 100000 {
		errs = append(errs, fmt.Errorf("-calls %d: want 1..100000", o.calls))
	}
	if o.ramp <= 0 {
		errs = append(errs, fmt.Errorf("-ramp %v: want > 0", o.ramp))
	}
	if o.duration <= 0 || o.duration > time.Hour {
		errs = append(errs, fmt.Errorf("-duration %v: want (0, 1h]", o.duration))
	}
	if o.dialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-dial-timeout %v: want > 0", o.dialTimeout))
	}
	return o, errors.Join(errs...)
}

// checkTarget refuses anything but a loopback IP literal: this tool makes
// real load and must never point it at another machine. Host names are
// refused too, so no resolver can turn one into a remote address.
func checkTarget(target string) error {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return fmt.Errorf("-target %q: %w", target, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("-target %q: bad port", target)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("-target %q: host must be a loopback IP address", target)
	}
	if ip.Zone() != "" || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("-target %q: not loopback (want 127.0.0.0/8 or ::1)", target)
	}
	return nil
}

// callResult is one call's outcome.
type callResult struct {
	err        error
	endedEarly bool          // the gateway hung up before -duration
	setup      time.Duration // from dialling (INVITE) to the 200, ACKed
	stats      testphone.Pacing
	pressed    bool          // -key was sent
	replied    bool          // and its reply prompt heard
	keyToReply time.Duration // key's first packet to the reply's first
}

func run(ctx context.Context, o options, out io.Writer, log *slog.Logger) error {
	cpu0, cpuErr := readCPU(o.pid)
	rss0, _ := readRSS(o.pid)
	peak := watchRSS(ctx, o.pid)
	var pool *agentPool
	if o.agents > 0 {
		actx, cancel := context.WithCancel(ctx)
		p, err := startAgents(actx, o, log)
		if err != nil {
			cancel()
			return err
		}
		pool = p
		defer func() { cancel(); pool.close() }()
		fmt.Fprintf(out, "agents: %d registered\n", len(p.agents))
	}
	win := &steady{pid: o.pid, want: o.calls}
	start := time.Now()
	results := make([]callResult, o.calls)
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / o.ramp)
	next := time.Now()
	started := 0
ramp:
	for i := range o.calls {
		if i > 0 {
			next = next.Add(interval)
			select {
			case <-time.After(time.Until(next)):
			case <-ctx.Done():
				break ramp
			}
		}
		started++
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = placeCall(ctx, o, i, log, pool, win)
		}()
	}
	wg.Wait()
	if pool != nil {
		pool.settle(5 * time.Second)
	}
	wall := time.Since(start)
	cpu1, _ := readCPU(o.pid)
	rssPeak := peak()

	fmt.Fprintf(out, "ivrload: target %s/%s, %d calls, ramp %.0f/s, duration %v\n", o.target, o.transport, o.calls, o.ramp, o.duration)
	if o.key != "" {
		fmt.Fprintf(out, "each caller pressed %s %v into the call\n", o.key, o.keyAfter)
	}
	replyName := "key to prompt (key's first packet sent to the reply's first packet received)"
	if pool != nil {
		replyName = "time to a person (key's first packet sent to the agent's leg established)"
	}
	sum := report(out, results[:started], replyName)
	if pool != nil {
		n, rx, tx := pool.media()
		fmt.Fprintf(out, "agents: %d calls answered; rtp received %d, sent %d\n", n, rx, tx)
		if o.strict && n < started {
			sum.unreplied = max(sum.unreplied, started-n)
		}
	}
	if o.pid > 0 {
		if cpuErr != nil {
			fmt.Fprintf(out, "gateway cpu: %v\n", cpuErr)
		} else {
			used := cpu1 - cpu0
			fmt.Fprintf(out, "gateway cpu (pid %d): %.2f s over %.1f s wall = %.1f%% of one core\n",
				o.pid, used.Seconds(), wall.Seconds(), 100*used.Seconds()/wall.Seconds())
		}
		state := "up"
		if pool != nil {
			state = "up and bridged"
		}
		if d, cpu, ok := win.figures(); ok {
			fmt.Fprintf(out, "gateway cpu while all %d calls were %s (pid %d): %.2f s over %.1f s = %.3f ms per call-second\n",
				o.calls, state, o.pid, cpu.Seconds(), d.Seconds(),
				float64(cpu)/float64(time.Millisecond)/(d.Seconds()*float64(o.calls)))
		} else {
			fmt.Fprintln(out, "gateway cpu while all calls were up: no such moment (a call failed or ended before the last was up)")
		}
		if rss0 > 0 && rssPeak > 0 {
			fmt.Fprintf(out, "gateway rss (pid %d): %.1f MiB before, %.1f MiB at the peak, %.1f KiB more per call started\n",
				o.pid, float64(rss0)/(1<<20), float64(rssPeak)/(1<<20), float64(rssPeak-rss0)/1024/float64(max(started, 1)))
		}
	}
	if o.strict {
		if started < o.calls || sum.answered < started || sum.early > 0 || sum.lost > 0 || sum.received == 0 || sum.unreplied > 0 {
			return fmt.Errorf("%w: %d of %d calls started, %d answered, %d ended early, %d packets lost, %d received, %d keys without a reply",
				errNotClean, started, o.calls, sum.answered, sum.early, sum.lost, sum.received, sum.unreplied)
		}
	}
	return nil
}

// summary is what -strict judges a run by.
type summary struct {
	answered, early, lost, received int
	unreplied                       int // -key presses whose reply never came
}

// steady is the window in which every call of the run was up (bridged,
// with -agents): from the last one established to the first one ending.
// The gateway's CPU in it is the steady state, without set-ups, ramp or
// tear-downs.
type steady struct {
	pid  int
	want int

	mu         sync.Mutex
	up         int
	over       bool
	t1, t2     time.Time
	cpu1, cpu2 time.Duration
}

// established counts one call up; the last one opens the window.
func (s *steady) established() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up++
	if s.up == s.want && !s.over {
		s.cpu1, _ = readCPU(s.pid)
		s.t1 = time.Now()
	}
}

// ending marks a call's end; the first one closes the window.
func (s *steady) ending() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		return
	}
	s.over = true
	if !s.t1.IsZero() {
		s.cpu2, _ = readCPU(s.pid)
		s.t2 = time.Now()
	}
}

// figures is the window's length and the gateway's CPU in it.
func (s *steady) figures() (time.Duration, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid <= 0 || s.t1.IsZero() || s.t2.IsZero() || s.t2.Sub(s.t1) < time.Second {
		return 0, 0, false
	}
	return s.t2.Sub(s.t1), s.cpu2 - s.cpu1, true
}

func placeCall(ctx context.Context, o options, i int, log *slog.Logger, pool *agentPool, win *steady) callResult {
	dctx, cancel := context.WithTimeout(ctx, o.dialTimeout)
	defer cancel()
	cfg := testphone.Config{
		Target: o.target, Transport: o.transport, From: fmt.Sprintf("load%05d", i), To: o.to,
		DiscardAudio: true, Logger: log,
	}
	var watch *keyWatch
	if o.key != "" && pool == nil {
		watch = newKeyWatch(o.reply)
		cfg.OnAudio = watch.onAudio
		cfg.Codecs = []uint8{0} // the reply is matched as μ-law bytes
	}
	t0 := time.Now()
	call, err := testphone.Dial(dctx, cfg)
	if err != nil {
		return callResult{err: err}
	}
	defer call.Close()
	res := callResult{setup: time.Since(t0)}
	end := time.NewTimer(o.duration)
	defer end.Stop()
	defer win.ending()
	over := false // the call's time is up
	switch {
	case pool != nil:
		over, res.endedEarly = pressKey(ctx, o, call, nil, pool.await(cfg.From), end.C, &res)
		if res.replied {
			win.established()
		}
	case watch != nil:
		win.established()
		over, res.endedEarly = pressKey(ctx, o, call, watch.arm, watch.heard, end.C, &res)
	default:
		win.established()
	}
	if !over && !res.endedEarly {
		select {
		case <-end.C:
		case <-call.Done():
			res.endedEarly = true
		case <-ctx.Done():
		}
	}
	win.ending() // before the BYE: the window holds only calls in progress
	res.stats = testphone.AnalyzePacing(call.Received(), call.Media().Codec)
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer hcancel()
	if err := call.Hangup(hctx); err != nil {
		log.Warn("hangup failed", "call", i, "error", err)
	}
	return res
}

// pressKey presses o.key o.keyAfter into the call and waits for the reply
// prompt until the call's end (over: that end came, or the run stopped;
// hungUp: the gateway ended the call first).
// arm (may be nil) is called just before the key goes out; reply then gets
// the moment the reply began (the reply prompt's first packet, or the
// agent's answer).
func pressKey(ctx context.Context, o options, call *testphone.Call, arm func(time.Time), reply <-chan time.Time, end <-chan time.Time, res *callResult) (over, hungUp bool) {
	select {
	case <-time.After(o.keyAfter):
	case <-call.Done():
		return false, true
	case <-ctx.Done():
		return true, false
	}
	if arm != nil {
		arm(time.Now())
	}
	sent, err := call.SendDigit4733Timed(o.key[0], 100*time.Millisecond)
	if err != nil || sent.IsZero() {
		select {
		case <-call.Done():
			return false, true
		default:
			return false, false // not sent: the call goes on without a sample
		}
	}
	res.pressed = true
	select {
	case at := <-reply:
		res.replied = true
		res.keyToReply = at.Sub(sent)
		return false, false
	case <-end:
		return true, false
	case <-call.Done():
		return false, true
	case <-ctx.Done():
		return true, false
	}
}

func report(out io.Writer, results []callResult, replyName string) summary {
	var answered, early int
	failures := map[string]int{}
	var all, gaps, setups []time.Duration
	var received, expected int
	var pressed int
	var replies []time.Duration
	for _, r := range results {
		if r.err != nil {
			failures[failureKind(r.err)]++
			continue
		}
		answered++
		setups = append(setups, r.setup)
		if r.endedEarly {
			early++
		}
		all = append(all, r.stats.Lateness...)
		gaps = append(gaps, r.stats.Gaps...)
		received += r.stats.Received
		expected += r.stats.Expected
		if r.pressed {
			pressed++
			if r.replied {
				replies = append(replies, r.keyToReply)
			}
		}
	}
	fmt.Fprintf(out, "calls: attempted %d, answered %d, failed %d, ended early by the gateway %d\n",
		len(results), answered, len(results)-answered, early)
	if len(failures) > 0 {
		kinds := make([]string, 0, len(failures))
		for k := range failures {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		var b strings.Builder
		for _, k := range kinds {
			fmt.Fprintf(&b, " %s x%d;", k, failures[k])
		}
		fmt.Fprintf(out, "failures:%s\n", b.String())
	}
	if len(setups) > 0 {
		slices.Sort(setups)
		fmt.Fprintf(out, "set-up (INVITE to 200, with the ACK): p50 %s, p99 %s, max %s\n",
			ms(testphone.Percentile(setups, 50)), ms(testphone.Percentile(setups, 99)), ms(setups[len(setups)-1]))
	}
	lost := expected - received
	sum := summary{answered: answered, early: early, lost: max(lost, 0), received: received, unreplied: pressed - len(replies)}
	if pressed > 0 {
		fmt.Fprintf(out, "keys: pressed %d, reply heard %d, none %d\n", pressed, len(replies), pressed-len(replies))
	}
	if len(replies) > 0 {
		slices.Sort(replies)
		fmt.Fprintf(out, "%s: p50 %s, p99 %s, max %s\n", replyName,
			ms(testphone.Percentile(replies, 50)), ms(testphone.Percentile(replies, 99)), ms(replies[len(replies)-1]))
	}
	lossPct := 0.0
	if expected > 0 {
		lossPct = 100 * float64(max(lost, 0)) / float64(expected)
	}
	fmt.Fprintf(out, "rtp: received %d packets, expected %d, lost %d (%.3f%%)\n", received, expected, max(lost, 0), lossPct)
	if len(all) == 0 {
		fmt.Fprintln(out, "lateness: no audio received")
		return sum
	}
	slices.Sort(all)
	slices.Sort(gaps)
	fmt.Fprintf(out, "lateness: p50 %s, p99 %s, max %s\n", ms(testphone.Percentile(all, 50)), ms(testphone.Percentile(all, 99)), ms(all[len(all)-1]))
	if len(gaps) > 0 {
		fmt.Fprintf(out, "inter-arrival: p50 %s, p99 %s, max %s\n", ms(testphone.Percentile(gaps, 50)), ms(testphone.Percentile(gaps, 99)), ms(gaps[len(gaps)-1]))
	}
	return sum
}

// failureKind groups errors for the report: SIP status, or a short cause.
func failureKind(err error) string {
	var se *testphone.StatusError
	switch {
	case errors.As(err, &se):
		return strconv.Itoa(se.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 60 {
		s = s[:60]
	}
	return strconv.Quote(s)
}

// readRSS returns the resident set size of pid in bytes (VmRSS in
// /proc/PID/status, proc(5)); 0 and no error when pid is 0.
func readRSS(pid int) (int64, error) {
	if pid <= 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read rss of pid %d: %w", pid, err)
	}
	return parseRSS(string(b))
}

func parseRSS(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("parse /proc status: VmRSS %q", rest)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc status: VmRSS %q: %w", rest, err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("parse /proc status: no VmRSS")
}

// watchRSS samples pid's RSS every 200 ms until the returned function is
// called, which returns the largest sample (0 without a pid).
func watchRSS(ctx context.Context, pid int) func() int64 {
	if pid <= 0 {
		return func() int64 { return 0 }
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if n, err := readRSS(pid); err == nil {
				peak = max(peak, n)
			}
			select {
			case <-ctx.Done():
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { cancel(); return <-done }
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times; 100 on every
// Linux architecture Go runs on (it is fixed in the kernel ABI).
const clockTick = 100

// readCPU returns utime+stime of pid from /proc/PID/stat (proc(5), fields
// 14 and 15); 0 and no error when pid is 0.
func readCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu of pid %d: %w", pid, err)
	}
	return parseStat(string(b))
}

func parseStat(s string) (time.Duration, error) {
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("parse /proc stat: no ')'")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("parse /proc stat: too few fields")
	}
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse /proc stat: %w", err)
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}
