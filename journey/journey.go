// Package journey is the record of one call, written when the call ends:
// where the caller went in the menu, each key and how it arrived, each
// prompt, why and when they asked for a person, the wait, the agent, who
// hung up and why. The gateway builds it; sinks write it as JSON lines, to a
// Redis stream, and into the metrics.
//
// journey is plain data: it imports no SIP, RTP, Redis or menu package, so
// that every consumer (admin's metrics, routing's stream) can take it.
package journey

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Step kinds, in the order a call usually meets them.
const (
	StepMenu     = "menu"       // entered a menu (Menu)
	StepPrompt   = "prompt"     // a prompt started (Prompt)
	StepKey      = "key"        // a key press reached the gateway (Key, Method)
	StepOption   = "option"     // a key chose a menu option (Menu, Key)
	StepInvalid  = "invalid"    // a key matched nothing (Menu, Key)
	StepNoInput  = "no_input"   // the menu timed out waiting (Menu)
	StepClosed   = "closed"     // outside opening hours (Reason: the schedule): of Menu, or of Queue asked for from Menu
	StepEscalate = "escalate"   // handed to the human fallback (Reason, Queue)
	StepQueued   = "queued"     // waiting in a queue (Queue)
	StepRinging  = "ringing"    // an agent's phone rings (Agent)
	StepAnswered = "answered"   // the agent answered: a person is on the line (Agent)
	StepWhisper  = "whisper"    // the agent heard the caller's summary (Prompt: its clips; Reason: heard, skipped by KEY, ...)
	StepCallback = "callback"   // a callback was offered or booked (Reason: offered, booked, refused)
	StepNoAgent  = "no_agent"   // nobody could be reached (Reason)
	StepBridged  = "bridge_end" // the conversation with the agent ended (By: caller or agent)
	StepEnd      = "end"        // the call ended (Reason, By)
)

// Step is one thing that happened, At after the call started.
type Step struct {
	At     Millis `json:"at_ms"`
	Kind   string `json:"kind"`
	Menu   string `json:"menu,omitempty"`
	Key    string `json:"key,omitempty"`
	Method string `json:"method,omitempty"` // rfc4733, info, inband
	Prompt string `json:"prompt,omitempty"`
	Queue  string `json:"queue,omitempty"`
	Agent  string `json:"agent,omitempty"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// Millis is a duration written as whole milliseconds.
type Millis time.Duration

// MarshalJSON writes the milliseconds.
func (m Millis) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprint(time.Duration(m).Milliseconds())), nil
}

// UnmarshalJSON reads milliseconds.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("journey: milliseconds: %w", err)
	}
	*m = Millis(time.Duration(n) * time.Millisecond)
	return nil
}

// Journey is one call, start to end.
type Journey struct {
	CallID    string    `json:"call_id"`
	Gateway   string    `json:"gateway,omitempty"`
	Caller    string    `json:"caller"` // as configured: plain, or masked
	Start     time.Time `json:"start"`
	Duration  Millis    `json:"duration_ms"`
	Transport string    `json:"transport,omitempty"`
	Codec     string    `json:"codec,omitempty"`
	Path      []string  `json:"path"`            // menus in order
	Keys      string    `json:"keys"`            // menu choices; digits of a collect as x
	Outcome   string    `json:"outcome"`         // the menu's: transfer:<reason>, hangup:<reason>, caller_hangup, ended:<reason>
	Escalated string    `json:"escalated"`       // why the caller went to a person; "" if never
	Queue     string    `json:"queue,omitempty"` // the queue asked for
	// InMenu is the time from the answer to the escalation or the end.
	InMenu Millis `json:"in_menu_ms"`
	// ToPerson is from the escalation to an agent's answer; 0 if none answered.
	ToPerson Millis `json:"to_person_ms,omitempty"`
	// ToRinging is from the escalation (the key press that asked) to the
	// first agent's INVITE, at least 1 ms; 0 if no agent was rung.
	ToRinging  Millis `json:"to_ringing_ms,omitempty"`
	QueueWait  Millis `json:"queue_wait_ms,omitempty"`
	Agent      string `json:"agent,omitempty"`
	EndedBy    string `json:"ended_by"`   // caller, agent, gateway
	EndReason  string `json:"end_reason"` // remote_bye, cancel, no_rtp, shutdown, menu_hangup, ...
	RTPIn      uint64 `json:"rtp_in"`
	RTPOut     uint64 `json:"rtp_out"`
	RTPLost    uint64 `json:"rtp_lost"`
	RTPLate    uint64 `json:"rtp_late"`
	RTPForeign uint64 `json:"rtp_foreign_dropped"`
	Steps      []Step `json:"steps"`
}

// Sink receives each journey once, when its call ends. Record must not
// block for long: the call's goroutine calls it.
type Sink interface {
	Record(j *Journey)
}

// Sinks sends a journey to each of several sinks.
type Sinks []Sink

// Record implements Sink.
func (s Sinks) Record(j *Journey) {
	for _, k := range s {
		k.Record(j)
	}
}

// Masker turns a caller's number into what the journey stores.
type Masker func(number string) string

// Plain keeps the number.
func Plain(n string) string { return n }

// Hashed returns a masker that stores an HMAC-like keyed SHA-256 of the
// number (16 hex digits): the same caller maps to the same value, so repeat
// calls can be told apart without keeping the number.
func Hashed(key string) Masker {
	return func(n string) string {
		if n == "" {
			return ""
		}
		sum := sha256.Sum256([]byte(key + "\x00" + n))
		return "h:" + hex.EncodeToString(sum[:8])
	}
}

// Writer writes journeys as JSON lines, one per call, never interleaved.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	err error // the first write error, kept so a full disk is not logged per call
}

// NewWriter returns a sink writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Record implements Sink.
func (w *Writer) Record(j *Journey) {
	b, err := json.Marshal(j)
	if err != nil {
		return // a Journey always marshals; nothing sensible to do otherwise
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(b); err != nil && w.err == nil {
		w.err = err
	}
}

// Err is the first write error, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Live is where one call in progress is now, for /calls and the supervisor
// page.
type Live struct {
	CallID string    `json:"call_id"`
	Caller string    `json:"caller"`
	Since  time.Time `json:"since"`
	State  string    `json:"state"` // menu, escalating, queued, ringing, with_agent
	Menu   string    `json:"menu,omitempty"`
	Queue  string    `json:"queue,omitempty"`
	Agent  string    `json:"agent,omitempty"`
	Keys   int       `json:"keys"`
}

// Live states.
const (
	LiveMenu       = "menu"
	LiveEscalating = "escalating"
	LiveQueued     = "queued"
	LiveRinging    = "ringing"
	LiveWithAgent  = "with_agent"
)

// Apply moves a live view along by one step.
func (l *Live) Apply(s Step) {
	switch s.Kind {
	case StepMenu:
		l.State, l.Menu = LiveMenu, s.Menu
	case StepKey:
		l.Keys++
	case StepEscalate:
		l.State, l.Queue = LiveEscalating, s.Queue
	case StepQueued:
		l.State, l.Queue = LiveQueued, s.Queue
	case StepRinging:
		l.State, l.Agent = LiveRinging, s.Agent
	case StepAnswered:
		l.State, l.Agent = LiveWithAgent, s.Agent
	case StepNoAgent:
		l.State, l.Agent = LiveMenu, ""
	}
}
