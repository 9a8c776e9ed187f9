package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// Bridged calls: with -agents N the tool registers N agents with the
// gateway (digest auth, one SIP socket each, as N softphones would), each
// answering at once and talking a steady 400 Hz tone; every caller presses
// the person key and is bridged to one of them. The agents' accounts come
// from "ivrload agents", which prints an agents file for the gateway with
// one password per extension that the tool can derive ("load-EXT"), every
// account marked demo so the gateway takes it from loopback only.

// agentTone has 8 whole periods per 20 ms frame: the agents encode it once.
const agentTone = 400

// loadPassword is the password of the load tool's agent ext.
func loadPassword(ext string) string { return "load-" + ext }

// agentsCommand is "ivrload agents": it writes an agents file.
func agentsCommand(args []string, out, stderr io.Writer) error {
	fs := flag.NewFlagSet("ivrload agents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 100, "number of agents (up to 4000)")
	base := fs.Int("base", 20000, "first extension")
	realm := fs.String("realm", "ivrgw", "the gateway's digest realm (the agents file's realm)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 4000 {
		return fmt.Errorf("-n %d: want 1..4000", *n)
	}
	if *base < 1 || *base+*n > 99999999 {
		return fmt.Errorf("-base %d: want extensions of 1 to 8 digits", *base)
	}
	return writeAgentsFile(out, *n, *base, *realm)
}

// writeAgentsFile writes n agents starting at base in the gateway's agents
// file format (configs/agents.yaml), HA1 hashes only.
func writeAgentsFile(w io.Writer, n, base int, realm string) error {
	if _, err := fmt.Fprintf(w, "# %d load-test agents, written by \"ivrload agents\". Password of EXT: load-EXT.\n# demo: true, so the gateway accepts them from loopback only.\nrealm: %s\n\nagents:\n", n, realm); err != nil {
		return fmt.Errorf("write agents file: %w", err)
	}
	for i := range n {
		ext := strconv.Itoa(base + i)
		secret := ext + ":" + realm + ":" + loadPassword(ext)
		m := md5.Sum([]byte(secret))
		s := sha256.Sum256([]byte(secret))
		if _, err := fmt.Fprintf(w, "  - name: Load %s\n    extension: %q\n    skills: [billing, support]\n    demo: true\n    ha1:\n      md5: %s\n      sha256: %s\n",
			ext, ext, hex.EncodeToString(m[:]), hex.EncodeToString(s[:])); err != nil {
			return fmt.Errorf("write agents file: %w", err)
		}
	}
	return nil
}

// agentPool is the run's N registered agents and what they were given.
type agentPool struct {
	agents []*agent.Agent
	wg     sync.WaitGroup

	mu       sync.Mutex
	expect   map[string]chan time.Time // caller user -> its bridge's answer
	calls    []*agent.AgentCall
	answered int
}

// startAgents registers o.agents agents, o.ramp per second, and serves
// their calls until ctx ends.
func startAgents(ctx context.Context, o options, log *slog.Logger) (*agentPool, error) {
	p := &agentPool{expect: map[string]chan time.Time{}}
	interval := time.Duration(float64(time.Second) / o.ramp)
	var mu sync.Mutex
	var errs []error
	var reg sync.WaitGroup
	next := time.Now()
	for i := range o.agents {
		if i > 0 {
			next = next.Add(interval)
			select {
			case <-time.After(time.Until(next)):
			case <-ctx.Done():
				reg.Wait()
				p.close()
				return nil, fmt.Errorf("register agents: %w", ctx.Err())
			}
		}
		ext := strconv.Itoa(o.agentBase + i)
		reg.Add(1)
		go func() {
			defer reg.Done()
			rctx, cancel := context.WithTimeout(ctx, o.dialTimeout)
			defer cancel()
			a, err := agent.Start(rctx, agent.Config{Gateway: o.target, Ext: ext, Password: loadPassword(ext),
				Tone: agentTone, DiscardMedia: true, Logger: log})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			p.agents = append(p.agents, a)
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(ctx, a) }()
		}()
	}
	reg.Wait()
	if err := errors.Join(errs...); err != nil {
		p.close()
		return nil, fmt.Errorf("register %d agents: %d failed, the first: %w", o.agents, len(errs), errs[0])
	}
	return p, nil
}

// serve hands each call the agent answers to the caller waiting for it.
func (p *agentPool) serve(ctx context.Context, a *agent.Agent) {
	for {
		ac, err := a.WaitCall(ctx)
		if err != nil {
			return
		}
		select {
		case <-ac.Answered():
		case <-ac.Done():
			continue
		case <-ctx.Done():
			return
		}
		at := time.Now()
		user, _ := ac.From()
		p.mu.Lock()
		p.calls = append(p.calls, ac)
		p.answered++
		ch := p.expect[user]
		delete(p.expect, user)
		p.mu.Unlock()
		if ch != nil {
			ch <- at // buffered
		}
	}
}

// await is where the caller user's bridge answer will be sent.
func (p *agentPool) await(user string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	p.mu.Lock()
	p.expect[user] = ch
	p.mu.Unlock()
	return ch
}

// media sums the RTP the agents received and sent on their calls.
func (p *agentPool) media() (calls, received, sent int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.calls {
		received += c.ReceivedPackets()
		sent += c.SentPackets()
	}
	return len(p.calls), received, sent
}

// settle waits (up to limit) until every agent's call has ended: the
// gateway ends an agent's leg after its caller's, and an agent closed
// before that BYE arrives would leave the gateway retrying it.
func (p *agentPool) settle(limit time.Duration) {
	deadline := time.After(limit)
	p.mu.Lock()
	calls := append([]*agent.AgentCall(nil), p.calls...)
	p.mu.Unlock()
	for _, c := range calls {
		select {
		case <-c.Done():
		case <-deadline:
			return
		}
	}
}

// close stops every agent (each hangs up what it still has and
// unregisters) and waits for the goroutines serving them; ctx must be over.
func (p *agentPool) close() {
	var wg sync.WaitGroup
	for _, a := range p.agents {
		wg.Add(1)
		go func() { defer wg.Done(); _ = a.Close() }()
	}
	wg.Wait()
	p.wg.Wait()
}
