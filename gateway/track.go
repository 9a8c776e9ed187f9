package gateway

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/media/dtmf"
)

// tracker follows one call: its journey record and its live view. Every
// goroutine of the call may note a step.
type tracker struct {
	rec *journey.Recorder

	mu   sync.Mutex
	live journey.Live
	by   string // who ended the conversation with an agent, if there was one
	keys string // menu choices and invalid keys so far, for the agent's screen pop
}

func newTracker(callID, caller string, start time.Time) *tracker {
	return &tracker{
		rec:  journey.NewRecorder(callID, caller, start, time.Now),
		live: journey.Live{CallID: callID, Caller: caller, Since: start, State: journey.LiveMenu},
	}
}

// step records s in the journey and moves the live view.
func (t *tracker) step(s journey.Step) {
	t.rec.Add(s)
	t.mu.Lock()
	t.live.Apply(s)
	switch s.Kind {
	case journey.StepBridged:
		t.by = s.By
	case journey.StepOption, journey.StepInvalid:
		t.keys += s.Key
	}
	t.mu.Unlock()
}

// endedBy is who ended the call: the one who ended its conversation with
// an agent, else what the reason says.
func (t *tracker) endedBy(reason string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.by != "" {
		return t.by
	}
	return endedBy(reason)
}

// menuKeys are the keys that chose or missed a menu option so far.
func (t *tracker) menuKeys() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keys
}

func (t *tracker) snapshot() journey.Live {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}

// key notes a key press and how it arrived; nil records nothing (tests
// of the summary alone).
func (t *tracker) key(ev dtmf.Event) {
	if t == nil {
		return
	}
	t.step(journey.Step{Kind: journey.StepKey, Key: string(ev.Digit), Method: ev.Source.String()})
}

// menu notes a menu event of the session.
func (t *tracker) menu(ev ivr.MenuEvent) {
	s := journey.Step{Kind: ev.Kind, Menu: ev.Menu}
	switch ev.Kind {
	case ivr.MenuEntered:
		s.Kind = journey.StepMenu
	case ivr.MenuOption, ivr.MenuInvalid:
		s.Key = string(ev.Key)
	case ivr.MenuNoInput:
	case ivr.MenuKey:
		s = journey.Step{Kind: journey.StepKey, Key: string(ev.Key), Method: ev.Via}
	case ivr.MenuClosed:
		s.Kind = journey.StepClosed
		s.Queue, s.Reason = ev.Queue, ev.Reason
	default:
		return // escalation: noted by the channel's Transfer, which knows the queue; hang-up: by the end step
	}
	t.step(s)
}

// prompts notes each prompt started.
func (t *tracker) prompts(names []string) {
	for _, n := range names {
		t.step(journey.Step{Kind: journey.StepPrompt, Prompt: n})
	}
}

// calls is the registry of live calls.
type calls struct {
	mu sync.Mutex
	m  map[string]*tracker
}

func (c *calls) add(id string, t *tracker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*tracker)
	}
	c.m[id] = t
}

func (c *calls) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// Calls lists the calls in progress, oldest first (like `core show channels`).
func (g *Gateway) Calls() []journey.Live {
	g.live.mu.Lock()
	ts := make([]*tracker, 0, len(g.live.m))
	for _, t := range g.live.m {
		ts = append(ts, t)
	}
	g.live.mu.Unlock()
	out := make([]journey.Live, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.snapshot())
	}
	slices.SortFunc(out, func(a, b journey.Live) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.CallID, b.CallID)
	})
	return out
}

// endedBy says who ended a call, from how it ended.
func endedBy(reason string) string {
	switch reason {
	case "remote_bye", "cancel", "caller_hangup":
		return "caller"
	case "agent_bye":
		return "agent"
	default:
		return "gateway"
	}
}
