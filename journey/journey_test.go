package journey

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func ms(d time.Duration) Millis          { return Millis(d) }

func TestRecorderDerivesFigures(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	r := NewRecorder("call-1", "alice", c.t, c.now)
	c.advance(100 * time.Millisecond)
	r.Answered()
	r.Add(Step{Kind: StepMenu, Menu: "main"})
	c.advance(2 * time.Second)
	r.Add(Step{Kind: StepKey, Key: "0", Method: "rfc4733"})
	r.Add(Step{Kind: StepEscalate, Reason: "caller_request", Queue: "support"})
	c.advance(10 * time.Millisecond)
	r.Add(Step{Kind: StepQueued, Queue: "support"})
	c.advance(5 * time.Millisecond)
	r.Add(Step{Kind: StepRinging, Agent: "1001"})
	c.advance(985 * time.Millisecond)
	r.Add(Step{Kind: StepAnswered, Agent: "1001"})
	r.Add(Step{Kind: StepEscalate, Reason: "again", Queue: "other"}) // only the first counts
	c.advance(30 * time.Second)
	j := r.Finish("remote_bye", "caller", func(j *Journey) { j.Path = []string{"main"} })
	if r.Finish("x", "y", nil) != nil {
		t.Errorf("second Finish() != nil")
	}
	r.Add(Step{Kind: StepKey}) // after the end: ignored

	checks := []struct {
		name      string
		got, want any
	}{
		{"Escalated", j.Escalated, "caller_request"},
		{"Queue", j.Queue, "support"},
		{"InMenu", j.InMenu, ms(2 * time.Second)},
		{"ToPerson", j.ToPerson, ms(time.Second)},
		{"ToRinging", j.ToRinging, ms(15 * time.Millisecond)},
		{"QueueWait", j.QueueWait, ms(990 * time.Millisecond)},
		{"Agent", j.Agent, "1001"},
		{"Duration", j.Duration, ms(33100 * time.Millisecond)},
		{"EndReason", j.EndReason, "remote_bye"},
		{"EndedBy", j.EndedBy, "caller"},
		{"steps", len(j.Steps), 8},
		{"last step", j.Steps[len(j.Steps)-1].Kind, StepEnd},
		{"key step at", j.Steps[1].At, ms(2100 * time.Millisecond)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("journey %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestRecorderWithoutEscalation(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	r := NewRecorder("c", "", c.t, c.now)
	c.advance(time.Second)
	r.Answered()
	c.advance(4 * time.Second)
	j := r.Finish("shutdown", "gateway", nil)
	if j.InMenu != ms(4*time.Second) || j.ToPerson != 0 || j.Escalated != "" {
		t.Errorf("journey = in menu %v to person %v escalated %q, want 4s, 0, \"\"", j.InMenu, j.ToPerson, j.Escalated)
	}
}

func TestRecorderBoundsSteps(t *testing.T) {
	r := NewRecorder("c", "", time.Now(), nil)
	for range 5 * MaxSteps {
		r.Add(Step{Kind: StepKey, Key: "5"})
	}
	j := r.Finish("remote_bye", "caller", nil)
	if len(j.Steps) != MaxSteps+2 {
		t.Fatalf("steps = %d, want %d (MaxSteps, a dropped marker, the end)", len(j.Steps), MaxSteps+2)
	}
	if d := j.Steps[MaxSteps]; d.Kind != "dropped" || d.Key != "800" {
		t.Errorf("marker = %+v, want dropped 800", d)
	}
}

func TestWriterJSONLines(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			r := NewRecorder("call-"+strings.Repeat("x", i), "bob", time.Unix(0, 0), nil)
			r.Add(Step{Kind: StepKey, Key: "1", Method: "info"})
			w.Record(r.Finish("remote_bye", "caller", nil))
		})
	}
	wg.Wait()
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		var j Journey
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			t.Fatalf("line %d %q: %v", n, sc.Text(), err)
		}
		if j.Caller != "bob" || len(j.Steps) != 2 || j.Steps[0].Method != "info" {
			t.Errorf("line %d = %+v", n, j)
		}
		n++
	}
	if n != 20 {
		t.Errorf("lines = %d, want 20", n)
	}
	if w.Err() != nil {
		t.Errorf("Err() = %v", w.Err())
	}
}

func TestHashedMask(t *testing.T) {
	m := Hashed("k1")
	a, b := m("+4930123456"), m("+4930123456")
	if a != b || !strings.HasPrefix(a, "h:") || strings.Contains(a, "30123456") {
		t.Errorf("Hashed(k1)(+4930123456) = %q, %q: want equal, h:-prefixed, number not visible", a, b)
	}
	if Hashed("k2")("+4930123456") == a {
		t.Errorf("different keys gave the same hash")
	}
	if m("") != "" {
		t.Errorf("Hashed(empty) = %q, want empty", m(""))
	}
}
