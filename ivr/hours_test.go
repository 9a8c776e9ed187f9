package ivr

import (
	"os"
	"reflect"
	"testing"
	"time"
)

// hoursMenu: support is open 08:00-18:00 on weekdays and Sundays in
// Berlin, with Christmas closed and Christmas Eve a short day; outside
// its hours the person key says so and transfers to the night queue,
// which is open evenings only. The billing menu keeps office hours and
// sends callers to an after-hours menu when closed.
const hoursMenu = `
settings:
  languages: [en]
  timezone: Europe/Berlin
  person: {queue: support}
hours:
  office:
    open:
      mon-fri: 08:00-18:00
      sun: "08:00-18:00"
      sat: [09:00-12:00, 13:00-17:00]
    holidays:
      - 2026-12-25
      - {date: 2026-12-24, open: 08:00-12:00}
  evenings:
    timezone: America/New_York
    open: {daily: 18:00-23:00}
queues:
  support:
    hours: office
    closed: {say: [closed_now], then: {transfer: {queue: night}}}
  night:
    hours: evenings
    closed: {say: [closed_hours]}
menus:
  main:
    prompt: [main_menu]
    options:
      1: {menu: billing}
      2: {transfer: {queue: night}}
  billing:
    prompt: [billing_menu]
    hours: office
    closed: {say: [closed_now], then: {menu: after}}
    options:
      1: transfer
      "*": back
  after:
    prompt: [balance_info]
    options:
      "*": back
      9: hangup
`

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestScheduleDST checks office hours at the instants clocks change in
// Berlin (2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25 03:00 CEST ->
// 02:00 CET). A schedule read at a fixed offset (UTC+1 or UTC+2) gets at
// least one of each pair wrong.
func TestScheduleDST(t *testing.T) {
	cfg := mustParse(t, hoursMenu)
	office := cfg.Schedules["office"]
	tests := []struct {
		at   string
		open bool
		why  string
	}{
		// Sunday 29 March: summer time from 02:00 local.
		{"2026-03-29T05:59:59Z", false, "07:59:59 CEST, before opening"},
		{"2026-03-29T06:00:00Z", true, "08:00 CEST, opening (07:00 if read as CET)"},
		{"2026-03-29T15:59:59Z", true, "17:59:59 CEST"},
		{"2026-03-29T16:00:00Z", false, "18:00 CEST, closing (17:00 if read as CET)"},
		// The Saturday before: two spans, and the local day boundary.
		{"2026-03-28T11:30:00Z", false, "Saturday 12:30 CET, the lunch gap"},
		{"2026-03-28T12:00:00Z", true, "Saturday 13:00 CET"},
		{"2026-03-28T22:30:00Z", false, "Saturday 23:30 CET"},
		{"2026-03-28T23:30:00Z", false, "Sunday 00:30 CET: in UTC still Saturday, but Sunday's hours are 08-18"},
		// Sunday 25 October: winter time from 03:00 CEST (02:00 CET).
		{"2026-10-25T06:59:59Z", false, "07:59:59 CET (08:59 if read as CEST)"},
		{"2026-10-25T07:00:00Z", true, "08:00 CET, opening"},
		{"2026-10-25T16:59:59Z", true, "17:59:59 CET"},
		{"2026-10-25T17:00:00Z", false, "18:00 CET, closing (19:00 if read as CEST)"},
		// Weekday, weekday boundary in the zone, holidays.
		{"2026-12-23T07:00:00Z", true, "Wednesday 08:00 CET"},
		{"2026-12-24T10:59:00Z", true, "Christmas Eve 11:59 CET: short day"},
		{"2026-12-24T11:00:00Z", false, "Christmas Eve 12:00 CET: closed"},
		{"2026-12-25T10:00:00Z", false, "Christmas Day, a Friday: closed all day"},
		{"2026-12-26T08:00:00Z", true, "Saturday 26 December 09:00 CET: the holiday is over"},
	}
	for _, tt := range tests {
		if got := office.Open(utc(tt.at)); got != tt.open {
			t.Errorf("office.Open(%s) = %v, want %v (%s)", tt.at, got, tt.open, tt.why)
		}
	}
	evenings := cfg.Schedules["evenings"]
	// New York's own changes: 2026-03-08 and 2026-11-01.
	for _, tt := range []struct {
		at   string
		open bool
	}{
		{"2026-03-07T22:59:00Z", false}, // 17:59 EST
		{"2026-03-07T23:00:00Z", true},  // 18:00 EST
		{"2026-03-08T22:00:00Z", true},  // 18:00 EDT
		{"2026-03-08T21:59:00Z", false}, // 17:59 EDT
		{"2026-11-01T22:59:00Z", false}, // 17:59 EST
		{"2026-11-01T23:00:00Z", true},  // 18:00 EST
	} {
		if got := evenings.Open(utc(tt.at)); got != tt.open {
			t.Errorf("evenings.Open(%s) = %v, want %v", tt.at, got, tt.open)
		}
	}
}

func TestDays(t *testing.T) {
	tests := []struct {
		key  string
		want []time.Weekday
		ok   bool
	}{
		{"mon", []time.Weekday{time.Monday}, true},
		{"mon-fri", []time.Weekday{1, 2, 3, 4, 5}, true},
		{"fri-mon", []time.Weekday{5, 6, 0, 1}, true},
		{"daily", []time.Weekday{0, 1, 2, 3, 4, 5, 6}, true},
		{"mon-mon", nil, false},
		{"monday", nil, false},
		{"mon-", nil, false},
	}
	for _, tt := range tests {
		got, ok := days(tt.key)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("days(%q) = %v, %v; want %v, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

// TestMachineHours drives the menu at chosen instants.
func TestMachineHours(t *testing.T) {
	cfg := mustParse(t, hoursMenu)
	open := utc("2026-12-23T09:00:00Z")   // Wednesday 10:00 Berlin: office open, evenings closed
	closed := utc("2026-12-25T23:30:00Z") // Christmas night, 18:30 in New York: office closed, evenings open
	both := utc("2026-12-25T12:00:00Z")   // Christmas Day 13:00 Berlin, 07:00 New York: everything closed
	noDigits := map[string]string{}
	tests := []struct {
		name  string
		at    time.Time
		steps []step
		notes []MenuEvent
		sum   Summary
	}{
		{
			name: "open: the person key transfers to support",
			at:   open,
			steps: []step{
				{nil, acts(play("main_menu"))},
				{key('0'), acts(stop, Transfer{Queue: "support", Reason: ReasonCallerRequest, Digits: noDigits, Path: []string{"main"}, Lang: "en"})},
			},
			sum: Summary{Path: []string{"main"}, Keys: "0", Outcome: "transfer:caller_request"},
		},
		{
			name: "support closed: say so, then overflow to the night queue",
			at:   closed,
			steps: []step{
				{nil, acts(play("main_menu"))},
				{key('0'), acts(stop, final("closed_now"))},
				{done, acts(Transfer{Queue: "night", Reason: ReasonCallerRequest, Digits: noDigits, Path: []string{"main"}, Lang: "en"})},
			},
			notes: []MenuEvent{{Kind: MenuClosed, Menu: "main", Queue: "support", Reason: "office"}},
			sum:   Summary{Path: []string{"main"}, Keys: "0", Outcome: "transfer:caller_request"},
		},
		{
			name: "both closed: both messages, then the menu again; no failure counted",
			at:   both,
			steps: []step{
				{nil, acts(play("main_menu"))},
				{key('0'), acts(stop, play("closed_now", "closed_hours", "main_menu"))},
				{done, acts(timer(1, 5))},
				{key('2'), acts(cancel(1), play("closed_hours", "main_menu"))},
			},
			notes: []MenuEvent{
				{Kind: MenuClosed, Menu: "main", Queue: "support", Reason: "office"},
				{Kind: MenuClosed, Menu: "main", Queue: "night", Reason: "evenings"},
				{Kind: MenuClosed, Menu: "main", Queue: "night", Reason: "evenings"},
			},
			sum: Summary{Path: []string{"main"}, Keys: "02"},
		},
		{
			name: "both closed after max_tries: the message, then goodbye, never the menu again",
			at:   both,
			steps: []step{
				{nil, acts(play("main_menu"))},
				{key('7'), acts(stop, play("invalid", "main_menu"))},
				{key('8'), acts(stop, play("invalid", "main_menu"))},
				// Both messages, no "let me connect you", then goodbye.
				{key('9'), acts(stop, final("invalid", "closed_now", "closed_hours", "goodbye"))},
				{done, acts(Hangup{Reason: ReasonClosed})},
			},
			notes: []MenuEvent{
				{Kind: MenuClosed, Menu: "main", Queue: "support", Reason: "office"},
				{Kind: MenuClosed, Menu: "main", Queue: "night", Reason: "evenings"},
			},
			sum: Summary{Path: []string{"main"}, Keys: "789", Outcome: "hangup:closed", Tries: 3},
		},
		{
			name: "support closed after max_tries: the overflow queue still takes the caller",
			at:   closed,
			steps: []step{
				{nil, acts(play("main_menu"))},
				{key('7'), acts(stop, play("invalid", "main_menu"))},
				{key('8'), acts(stop, play("invalid", "main_menu"))},
				{key('9'), acts(stop, final("invalid", "too_many_tries", "closed_now"))},
				{done, acts(Transfer{Queue: "night", Priority: 10, Reason: ReasonMaxTries, Digits: noDigits, Path: []string{"main"}, Lang: "en"})},
			},
			notes: []MenuEvent{{Kind: MenuClosed, Menu: "main", Queue: "support", Reason: "office"}},
			sum:   Summary{Path: []string{"main"}, Keys: "789", Outcome: "transfer:max_tries", Tries: 3},
		},
		{
			name: "closed menu: its message, then the after-hours menu; back returns to main",
			at:   closed,
			steps: []step{
				{nil, acts(play("main_menu"))},
				{key('1'), acts(stop, play("closed_now", "balance_info"))},
				{key('*'), acts(stop, play("main_menu"))},
			},
			notes: []MenuEvent{{Kind: MenuClosed, Menu: "billing", Reason: "office"}},
			sum:   Summary{Path: []string{"main", "after", "main"}, Keys: "1*"},
		},
		{
			name: "open menu: billing as usual",
			at:   open,
			steps: []step{
				{nil, acts(play("main_menu"))},
				{key('1'), acts(stop, play("billing_menu"))},
			},
			sum: Summary{Path: []string{"main", "billing"}, Keys: "1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(cfg)
			m.SetClock(func() time.Time { return tt.at })
			var notes []MenuEvent
			for i, s := range tt.steps {
				var got []Action
				if s.ev == nil {
					got = m.Start()
				} else {
					got = m.Handle(s.ev)
				}
				notes = append(notes, m.takeNotes()...)
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d: Handle(%#v) = %#v, want %#v", i, s.ev, got, s.want)
				}
			}
			if !reflect.DeepEqual(notes, tt.notes) {
				t.Errorf("closed notes = %+v, want %+v", notes, tt.notes)
			}
			if got := m.Summary(); !reflect.DeepEqual(got, tt.sum) {
				t.Errorf("Summary() = %+v, want %+v", got, tt.sum)
			}
		})
	}
}

// TestClosedStartMenu: a line closed as a whole says so and hangs up, or
// hands the caller to a queue; if that fails there is no menu to go back
// to, so goodbye.
func TestClosedStartMenu(t *testing.T) {
	src := `
settings: {languages: [en], timezone: UTC}
hours:
  never_on_sunday: {open: {mon-sat: 08:00-18:00}}
menus:
  main:
    prompt: [main_menu]
    hours: never_on_sunday
    closed: {say: [closed_now], then: transfer}
    options: {1: transfer}
`
	cfg := mustParse(t, src)
	m := NewMachine(cfg)
	m.SetClock(func() time.Time { return utc("2026-12-06T10:00:00Z") }) // a Sunday
	want := acts(final("closed_now"))
	if got := m.Start(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Start() = %#v, want %#v", got, want)
	}
	got := m.Handle(done)
	want = acts(Transfer{Queue: "default", Reason: ReasonClosed, Digits: map[string]string{}, Lang: "en"})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after the message: %#v, want %#v", got, want)
	}
	got = m.Handle(TransferFailed{Err: ErrBackToMenu})
	if want := acts(final("goodbye")); !reflect.DeepEqual(got, want) {
		t.Fatalf("transfer failed with no menu: %#v, want %#v", got, want)
	}
	if got := m.Handle(done); !reflect.DeepEqual(got, acts(Hangup{Reason: ReasonTransferFailed})) {
		t.Errorf("then %#v, want a hangup", got)
	}
}

// TestClosedLineHangsUp: the shipped example of a line closed as a whole
// (docs/menu.md) says why once, then goodbye.
func TestClosedLineHangsUp(t *testing.T) {
	data, err := os.ReadFile("testdata/docs/closed_line.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMachine(mustParse(t, string(data)))
	m.SetClock(func() time.Time { return utc("2026-12-06T15:00:00Z") }) // a Sunday in New York
	if got, want := m.Start(), acts(final("closed_now", "closed_hours", "goodbye")); !reflect.DeepEqual(got, want) {
		t.Fatalf("Start() = %#v, want %#v", got, want)
	}
	if got := m.Handle(done); !reflect.DeepEqual(got, acts(Hangup{Reason: ReasonClosed})) {
		t.Errorf("after the message: %#v, want a hangup", got)
	}
}
