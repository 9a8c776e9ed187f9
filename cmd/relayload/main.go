// Command relayload measures what an RTP relay costs: it drives rtpengine
// over its NG control protocol (offer/answer/delete, bencode over UDP),
// sets up N calls between pairs of its own loopback sockets, sends 20 ms
// PCMU both ways through the relay, counts what comes back, and, given
// -pid, reports the relay's CPU per session-second and per relayed packet
// and its memory per session. It is the peer figure the gateway's own
// bridged-call cost is compared with (docs/rtpengine-peer.md).
//
// It only talks to loopback (the NG address and every relay port
// rtpengine hands out are checked), paces all sending from one goroutine
// per 256 sessions, and every loop ends by itself. It imports none of the
// gateway's packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"time"
)

type options struct {
	ng        netip.AddrPort
	sessions  int
	ramp      float64
	duration  time.Duration
	settle    time.Duration
	pid       int
	strict    bool
	ngTimeout time.Duration
}

// errNotClean is run's error under -strict when the run was not clean.
var errNotClean = errors.New("relay run not clean")

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "relayload:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "relayload:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var ng string
	fs := flag.NewFlagSet("relayload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&ng, "ng", "127.0.0.1:2223", "rtpengine's NG control address (loopback IP:PORT only)")
	fs.IntVar(&o.sessions, "sessions", 100, "concurrent relayed calls, 1..5000")
	fs.Float64Var(&o.ramp, "ramp", 200, "sessions set up per second")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "steady state, once every session is up")
	fs.DurationVar(&o.settle, "settle", time.Second, "wait between the last set-up and the steady state")
	fs.IntVar(&o.pid, "pid", 0, "the relay's process id, for its CPU and RSS (Linux /proc); 0: not measured")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 unless every session was set up and deleted and no packet was lost or mangled (datagrams from other addresses are counted, not failed)")
	fs.DurationVar(&o.ngTimeout, "ng-timeout", time.Second, "wait for each NG reply (3 tries)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	ap, err := loopbackAddrPort(ng)
	if err != nil {
		errs = append(errs, fmt.Errorf("-ng: %w", err))
	}
	o.ng = ap
	if o.sessions < 1 || o.sessions > 5000 {
		errs = append(errs, fmt.Errorf("-sessions %d: want 1..5000", o.sessions))
	}
	if !(o.ramp >= 1 && o.ramp <= 10000) {
		errs = append(errs, fmt.Errorf("-ramp %v: want 1..10000 a second", o.ramp))
	}
	if o.duration < 100*time.Millisecond || o.duration > 10*time.Minute {
		errs = append(errs, fmt.Errorf("-duration %v: want 100ms..10m", o.duration))
	}
	if o.settle < 0 || o.settle > time.Minute {
		errs = append(errs, fmt.Errorf("-settle %v: want 0..1m", o.settle))
	}
	if o.pid < 0 {
		errs = append(errs, fmt.Errorf("-pid %d: want a process id", o.pid))
	}
	if o.ngTimeout <= 0 || o.ngTimeout > 30*time.Second {
		errs = append(errs, fmt.Errorf("-ng-timeout %v: want (0, 30s]", o.ngTimeout))
	}
	return o, errors.Join(errs...)
}

// direction is one way through the relay.
type direction struct {
	Sent, Received uint64
	LostSeq        int64 // RFC 3550 §6.4.1 cumulative lost, summed over legs
	Reordered      uint64
	Bad            uint64 // from the relay port, but not the peer's PCMU
	Foreign        uint64 // from other addresses: ignored, not the relay's doing
}

func (d direction) lost() int64 { return int64(d.Sent) - int64(d.Received) }

// relayCost is the relay's resources over the steady state.
type relayCost struct {
	CPU                 time.Duration
	MsPerSessionSecond  float64
	UsPerPacket         float64
	RSSBeforeKiB        int64
	RSSSteadyKiB        int64
	RSSPerSessionKiB    float64
	SelfMsPerSessionSec float64 // relayload's own, for the box's share
}

type report struct {
	Sessions, SetUp, Failed, DeleteFailed int
	FirstErr                              string
	AtoB, BtoA                            direction
	Steady                                time.Duration
	SteadyPackets                         uint64 // relayed, both ways, in the steady state
	Missed, SendErr                       uint64
	Cost                                  *relayCost
}

func (r *report) clean() bool {
	return r.Failed == 0 && r.DeleteFailed == 0 && r.SendErr == 0 &&
		r.AtoB.lost() == 0 && r.BtoA.lost() == 0 && r.AtoB.LostSeq == 0 && r.BtoA.LostSeq == 0 &&
		r.AtoB.Bad == 0 && r.BtoA.Bad == 0
}

// run sets the sessions up at -ramp a second, each sending as soon as it
// is up, waits -settle, measures -duration of steady state, then stops the
// media and deletes every session it offered.
func run(ctx context.Context, o options, out io.Writer) (*report, error) {
	rep := &report{Sessions: o.sessions}
	var rss0 int64
	if o.pid > 0 {
		if _, err := readCPU(o.pid); err != nil {
			return nil, err
		}
		var err error
		if rss0, err = readRSS(o.pid); err != nil {
			return nil, err
		}
	}
	ng, err := dialNG(o.ng, o.ngTimeout, 3)
	if err != nil {
		return nil, err
	}
	defer ng.Close()
	if _, err := ng.call(ctx, map[string]any{"command": "ping"}); err != nil {
		return nil, fmt.Errorf("relay at %v: %w", o.ng, err)
	}
	legIP := netip.MustParseAddr("127.0.0.1")
	if o.ng.Addr().Is6() && !o.ng.Addr().Is4In6() {
		legIP = netip.IPv6Loopback()
	}
	runID := strconv.FormatInt(time.Now().UnixNano()%1e12, 36)

	// The media clock. Everything after it is bounded by end.
	start := time.Now()
	rampTime := time.Duration(float64(o.sessions) / o.ramp * float64(time.Second))
	// Each set-up may take 2 requests x 3 tries x ng-timeout at worst.
	end := start.Add(rampTime + time.Duration(o.sessions)*6*o.ngTimeout + o.settle + o.duration + 10*time.Second)
	mediaCtx, stopMedia := context.WithCancel(ctx)
	defer stopMedia()
	pacers := make([]*pacer, (o.sessions+perPacer-1)/perPacer)
	var pacing, receiving sync.WaitGroup
	for i := range pacers {
		pacers[i] = newPacer()
		pacing.Go(func() { pacers[i].run(mediaCtx, start, end) })
	}

	var sessions []*session
	defer func() {
		for _, s := range sessions {
			s.close()
		}
		receiving.Wait()
	}()
	for i := 0; i < o.sessions && ctx.Err() == nil; i++ {
		if d := time.Until(start.Add(time.Duration(float64(i) / o.ramp * float64(time.Second)))); d > 0 {
			sleep(ctx, d)
		}
		s, err := newSession(i, legIP, runID)
		if err != nil {
			rep.Failed++
			rep.firstErr(err)
			continue
		}
		sessions = append(sessions, s)
		if err := s.setup(ctx, ng); err != nil {
			rep.Failed++
			rep.firstErr(err)
			continue
		}
		rep.SetUp++
		receiving.Go(func() { s.a.receive(end) })
		receiving.Go(func() { s.b.receive(end) })
		pacers[i/perPacer].add <- s
	}

	// Steady state: every session that could be set up is sending.
	sleep(ctx, o.settle)
	var cpu0, self0 time.Duration
	if o.pid > 0 {
		cpu0, _ = readCPU(o.pid)
	}
	self0 = selfCPU()
	pk0, t0 := relayed(sessions), time.Now()
	sleep(ctx, o.duration)
	var cpu1 time.Duration
	var cpuErr error
	if o.pid > 0 {
		cpu1, cpuErr = readCPU(o.pid)
	}
	self1 := selfCPU()
	pk1, t1 := relayed(sessions), time.Now()
	var rss1 int64
	var rssErr error
	if o.pid > 0 {
		rss1, rssErr = readRSS(o.pid)
	}
	rep.Steady, rep.SteadyPackets = t1.Sub(t0), pk1-pk0

	stopMedia()
	pacing.Wait()
	// What is in flight through the relay arrives within a few ms on
	// loopback; the receivers keep counting until the sockets close.
	time.Sleep(200 * time.Millisecond)

	// Teardown runs even after an interrupt: never leave calls behind.
	tctx := context.WithoutCancel(ctx)
	for _, s := range sessions {
		if !s.offered {
			continue
		}
		if err := s.delete(tctx, ng); err != nil {
			rep.DeleteFailed++
			rep.firstErr(err)
		}
	}
	for _, s := range sessions {
		s.close()
	}
	receiving.Wait()
	rep.count(sessions)
	sessions = nil // closed: the deferred clean-up has nothing left
	for _, p := range pacers {
		rep.Missed += p.missed.Load()
		rep.SendErr += p.sendErr.Load()
	}
	if o.pid > 0 && cpuErr == nil && rssErr == nil && rep.SetUp > 0 {
		sessSec := float64(rep.SetUp) * rep.Steady.Seconds()
		c := &relayCost{
			CPU:                 cpu1 - cpu0,
			MsPerSessionSecond:  float64((cpu1 - cpu0).Microseconds()) / 1000 / sessSec,
			RSSBeforeKiB:        rss0,
			RSSSteadyKiB:        rss1,
			RSSPerSessionKiB:    float64(rss1-rss0) / float64(rep.SetUp),
			SelfMsPerSessionSec: float64((self1 - self0).Microseconds()) / 1000 / sessSec,
		}
		if rep.SteadyPackets > 0 {
			c.UsPerPacket = float64((cpu1 - cpu0).Nanoseconds()) / 1000 / float64(rep.SteadyPackets)
		}
		rep.Cost = c
	} else if o.pid > 0 {
		rep.firstErr(errors.Join(cpuErr, rssErr))
	}
	rep.print(out, o)
	if o.strict && !rep.clean() {
		return rep, errNotClean
	}
	return rep, ctx.Err()
}

// count adds up the legs once their receivers have stopped.
func (r *report) count(sessions []*session) {
	add := func(d *direction, from, to *leg) {
		d.Sent += from.sent.Load()
		d.Received += to.recv.packets.Load()
		d.LostSeq += int64(to.recv.expected()) - int64(to.recv.packets.Load())
		d.Reordered += to.recv.reorder
		d.Bad += to.recv.bad.Load()
		d.Foreign += to.recv.foreign.Load()
	}
	for _, s := range sessions {
		add(&r.AtoB, s.a, s.b)
		add(&r.BtoA, s.b, s.a)
	}
}

// relayed is how many packets the legs have had from the relay so far.
func relayed(sessions []*session) uint64 {
	var n uint64
	for _, s := range sessions {
		n += s.a.recv.packets.Load() + s.b.recv.packets.Load()
	}
	return n
}

func (r *report) firstErr(err error) {
	if r.FirstErr == "" && err != nil {
		r.FirstErr = err.Error()
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (r *report) print(w io.Writer, o options) {
	fmt.Fprintf(w, "relay %v: %d sessions, %d set up, %d failed, %d delete failures\n",
		o.ng, r.Sessions, r.SetUp, r.Failed, r.DeleteFailed)
	if r.FirstErr != "" {
		fmt.Fprintf(w, "first error: %s\n", r.FirstErr)
	}
	for _, d := range []struct {
		name string
		d    direction
	}{{"a->b", r.AtoB}, {"b->a", r.BtoA}} {
		fmt.Fprintf(w, "%s: sent %d, received %d, lost %d (by seq %d), reordered %d, bad %d, foreign %d\n",
			d.name, d.d.Sent, d.d.Received, d.d.lost(), d.d.LostSeq, d.d.Reordered, d.d.Bad, d.d.Foreign)
	}
	nominal := float64(r.SetUp) * 2 * r.Steady.Seconds() / frameDur.Seconds()
	pct := 0.0
	if nominal > 0 {
		pct = 100 * float64(r.SteadyPackets) / nominal
	}
	fmt.Fprintf(w, "steady state %.1f s: %d packets relayed (%.1f%% of 50/s each way per session); pacer missed %d frames, %d send errors\n",
		r.Steady.Seconds(), r.SteadyPackets, pct, r.Missed, r.SendErr)
	c := r.Cost
	if c == nil {
		fmt.Fprintf(w, "RESULT sessions=%d setup=%d failed=%d lost_ab=%d lost_ba=%d\n",
			r.Sessions, r.SetUp, r.Failed, r.AtoB.lost(), r.BtoA.lost())
		return
	}
	fmt.Fprintf(w, "relay cpu (pid %d): %.2f s = %.3f ms per session-second, %.2f us per relayed packet\n",
		o.pid, c.CPU.Seconds(), c.MsPerSessionSecond, c.UsPerPacket)
	fmt.Fprintf(w, "relay rss: %d KiB before, %d KiB in steady state = %.1f KiB per session\n",
		c.RSSBeforeKiB, c.RSSSteadyKiB, c.RSSPerSessionKiB)
	fmt.Fprintf(w, "relayload's own cpu: %.3f ms per session-second\n", c.SelfMsPerSessionSec)
	fmt.Fprintf(w, "RESULT sessions=%d setup=%d failed=%d lost_ab=%d lost_ba=%d steady_s=%.2f packets=%d ms_per_session_s=%.3f us_per_packet=%.2f rss_kib_per_session=%.1f self_ms_per_session_s=%.3f missed=%d bad=%d foreign=%d\n",
		r.Sessions, r.SetUp, r.Failed, r.AtoB.lost(), r.BtoA.lost(), r.Steady.Seconds(), r.SteadyPackets,
		c.MsPerSessionSecond, c.UsPerPacket, c.RSSPerSessionKiB, c.SelfMsPerSessionSec, r.Missed,
		r.AtoB.Bad+r.BtoA.Bad, r.AtoB.Foreign+r.BtoA.Foreign)
}
