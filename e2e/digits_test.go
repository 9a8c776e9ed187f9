package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// TestFallbackDigitsAcrossBridge: keys pressed while bridged reach the
// other side once, in the form that side negotiated. A caller's SIP INFO
// reaches an agent phone with telephone-event as RFC 4733 events, and an
// agent phone without it as SIP INFO; a caller's RFC 4733 press is relayed
// in RTP to the first and turned into INFO for the second; a press sent
// both ways at once (a phone set to send both) arrives once; an agent's
// INFO reaches the caller as RFC 4733, or as INFO when the caller's phone
// has no telephone-event.
func TestFallbackDigitsAcrossBridge(t *testing.T) {
	for _, tc := range []struct {
		name           string
		noEvents       bool // the agent's phone has no telephone-event
		callerNoEvents bool // the caller's phone has no telephone-event
		presses        string
		info, rtp      []bool
	}{
		{"agent-with-events", false, false, "539", []bool{true, false, true}, []bool{false, true, true}},
		{"agent-info-only", true, false, "539", []bool{true, false, true}, []bool{false, true, true}},
		{"caller-info-only", false, true, "5", []bool{true}, []bool{false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			g := fbGateway(t)
			a := agentStartConfig(t, agent.Config{Gateway: g.SIP, Ext: "1002", Password: "demo1002",
				Mode: agent.AutoAnswer, Tone: 700, NoEvents: tc.noEvents})
			start := time.Now()
			c := fbCallerConfig(ctx, t, testphone.Config{Target: g.SIP, From: "5550021", To: "support", NoEvents: tc.callerNoEvents})
			fbAtMenu(ctx, t, c, start)
			if err := c.SendDigitINFO(ctx, '0'); err != nil {
				t.Fatalf("caller SendDigitINFO('0') = %v", err)
			}
			ac := fbWaitCall(ctx, t, a)
			fbWaitAnswered(ctx, t, ac, "agent")
			if err := fbWaitTone(ctx, "caller", c.Audio, 700); err != nil {
				t.Fatal(err) // bridged
			}

			// One press at a time, each waited for, as a person presses
			// keys: by INFO, by RFC 4733, or by both at once, as a phone
			// set to send both does.
			var want string
			for i := range len(tc.presses) {
				key := tc.presses[i]
				if tc.info[i] {
					if err := c.SendDigitINFO(ctx, key); err != nil {
						t.Fatalf("caller SendDigitINFO(%q) = %v", key, err)
					}
				}
				if tc.rtp[i] {
					if err := c.SendDigit4733(key, 100*time.Millisecond); err != nil {
						t.Fatalf("caller SendDigit4733(%q) = %v", key, err)
					}
				}
				want += string(key)
				if err := poll(ctx, fmt.Sprintf("keys %q at the agent", want), func() bool {
					return len(agentKeys(ac, tc.noEvents)) >= len(want)
				}); err != nil {
					t.Fatalf("%v (got %q)", err, agentKeys(ac, tc.noEvents))
				}
			}
			time.Sleep(500 * time.Millisecond) // a press passed on twice would show by now
			if got := agentKeys(ac, tc.noEvents); got != want {
				t.Errorf("agent got keys %q, want %q (each press once)", got, want)
			}
			if tc.noEvents {
				for _, p := range ac.Packets() {
					if p.PT != ac.Media().Codec {
						t.Fatalf("agent without telephone-event got an RTP packet of payload type %d", p.PT)
					}
				}
			} else if n := len(ac.Infos()); n != 0 {
				t.Errorf("agent with telephone-event got %d INFOs, want none: %+v", n, ac.Infos())
			}

			if err := ac.SendDigitINFO(ctx, '7', 120*time.Millisecond); err != nil {
				t.Fatalf("agent SendDigitINFO('7') = %v", err)
			}
			if tc.callerNoEvents {
				if err := poll(ctx, "INFO 7 at the caller", func() bool { return infoKeys(c.Infos()) == "7" }); err != nil {
					t.Fatalf("%v (got %q)", err, infoKeys(c.Infos()))
				}
			} else if err := waitCallerEvent(ctx, c, '7'); err != nil {
				t.Fatal(err)
			}
			// Still one call: none of the presses reached the menu.
			if n := fbLogCount(g, "key dropped"); n != 0 {
				t.Errorf("gateway log has %d \"key dropped\" lines, want none while bridged", n)
			}
		})
	}
}

// agentEventKeys is the keys of the RFC 4733 events the agent received
// that ended, in order, one per event: the packets of one event share a
// timestamp (RFC 4733 §2.5.1.1), and its end is sent three times.
func agentEventKeys(ac *agent.AgentCall) string {
	var keys []byte
	seen := map[uint32]bool{}
	for _, p := range ac.Packets() {
		if !p.End || p.PT == ac.Media().Codec || seen[p.Timestamp] {
			continue
		}
		seen[p.Timestamp] = true
		keys = append(keys, testphone.EventDigit(p.Event))
	}
	return string(keys)
}

// infoKeys is the keys of SIP INFO key presses, read from
// application/dtmf-relay bodies; another body type shows as "?".
func infoKeys(infos []testphone.Info) string {
	var keys []byte
	for _, in := range infos {
		if in.ContentType != "application/dtmf-relay" {
			keys = append(keys, '?')
			continue
		}
		for line := range strings.Lines(in.Body) {
			if k, ok := strings.CutPrefix(strings.TrimSpace(line), "Signal="); ok && len(k) == 1 {
				keys = append(keys, k[0])
			}
		}
	}
	return string(keys)
}

// agentKeys is the keys the agent received: by SIP INFO when it has no
// telephone-event, else as RFC 4733 events.
func agentKeys(ac *agent.AgentCall, info bool) string {
	if info {
		var infos []testphone.Info
		for _, in := range ac.Infos() {
			infos = append(infos, testphone.Info(in))
		}
		return infoKeys(infos)
	}
	return agentEventKeys(ac)
}

// waitCallerEvent waits until the caller has received an ended RFC 4733
// event for digit.
func waitCallerEvent(ctx context.Context, c *testphone.Call, digit byte) error {
	return poll(ctx, fmt.Sprintf("RFC 4733 %q at the caller", digit), func() bool {
		for _, ev := range c.Events() {
			if ev.End && testphone.EventDigit(ev.Event) == digit {
				return true
			}
		}
		return false
	})
}

// poll checks done every 50 ms until it holds or ctx ends.
func poll(ctx context.Context, what string, done func() bool) error {
	for !done() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
