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
// INFO reaches the caller as RFC 4733.
func TestFallbackDigitsAcrossBridge(t *testing.T) {
	for _, tc := range []struct {
		name     string
		noEvents bool
	}{{"agent-with-events", false}, {"agent-info-only", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			g := fbGateway(t)
			a := agentStartConfig(t, agent.Config{Gateway: g.SIP, Ext: "1002", Password: "demo1002",
				Mode: agent.AutoAnswer, Tone: 700, NoEvents: tc.noEvents})
			start := time.Now()
			c := fbCaller(ctx, t, g, "5550021", "")
			fbAskForPerson(ctx, t, c, start)
			ac := fbWaitCall(ctx, t, a)
			fbWaitAnswered(ctx, t, ac, "agent")
			if err := fbWaitTone(ctx, "caller", c.Audio, 700); err != nil {
				t.Fatal(err) // bridged
			}

			// One press at a time, each waited for, as a person presses
			// keys: 5 by INFO, 3 by RFC 4733, then 9 by both at once, as a
			// phone set to send both does.
			presses := []struct {
				key       byte
				info, rtp bool
			}{{'5', true, false}, {'3', false, true}, {'9', true, true}}
			var want string
			for _, p := range presses {
				if p.info {
					if err := c.SendDigitINFO(ctx, p.key); err != nil {
						t.Fatalf("caller SendDigitINFO(%q) = %v", p.key, err)
					}
				}
				if p.rtp {
					if err := c.SendDigit4733(p.key, 100*time.Millisecond); err != nil {
						t.Fatalf("caller SendDigit4733(%q) = %v", p.key, err)
					}
				}
				want += string(p.key)
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
			if err := waitCallerEvent(ctx, c, '7'); err != nil {
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

// agentInfoKeys is the keys of the SIP INFO presses the agent received,
// read from application/dtmf-relay bodies; another body type shows as "?".
func agentInfoKeys(ac *agent.AgentCall) string {
	var keys []byte
	for _, in := range ac.Infos() {
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
		return agentInfoKeys(ac)
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
