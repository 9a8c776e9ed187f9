package ivr

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// frustrationMenu has every detector on, at the defaults but for the
// priority.
const frustrationMenu = `
settings:
  languages: [en]
  welcome: [welcome]
  max_tries: 3
  max_menu_time: 2m
  person: {queue: support, priority: 1}
  frustration: {priority: 40}
menus:
  main:
    prompt: [main_menu]
    short: [main_menu_short]
    options:
      1: {menu: billing}
      3: {play: [order_status]}
      "*": repeat
  billing:
    prompt: [billing_menu]
    options:
      1: transfer
      2:
        collect: {name: account, prompt: [account_prompt], min_digits: 4, max_digits: 8, then: transfer}
      "*": back
`

// clock is a settable clock for the machine.
type clock struct{ t time.Time }

func (c *clock) now() time.Time              { return c.t }
func (c *clock) advance(d time.Duration) Key { c.t = c.t.Add(d); return Key{} }

func TestFrustration(t *testing.T) {
	cfg := mustParse(t, frustrationMenu)
	toPerson := func(reason string, prio int, path ...string) Transfer {
		return Transfer{Queue: "support", Priority: prio, Reason: reason, Digits: map[string]string{}, Path: path, Lang: "en"}
	}
	// A step is an event after waiting gap on the clock.
	type tstep struct {
		gap  time.Duration
		ev   Event
		want []Action
	}
	tests := []struct {
		name  string
		steps []tstep
		sum   Summary
	}{
		{
			name: "one failure budget across menus: 7,7 in main, 1, then 7 in billing is the third",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{0, done, acts(play("main_menu"))},
				{0, done, acts(timer(1, 5))},
				{time.Second, key('7'), acts(cancel(1), play("invalid", "main_menu_short"))},
				{time.Second, key('8'), acts(stop, play("invalid", "main_menu"))},
				{time.Second, key('1'), acts(stop, play("billing_menu"))},
				{time.Second, key('7'), acts(stop, final("invalid", "too_many_tries"))},
				{0, done, acts(toPerson(ReasonMaxTries, 40, "main", "billing"))},
			},
			sum: Summary{Path: []string{"main", "billing"}, Keys: "7817", Outcome: "transfer:max_tries", Tries: 3},
		},
		{
			name: "the same invalid key twice in one menu",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('1'), acts(stop, play("billing_menu"))},
				{time.Second, key('9'), acts(stop, play("invalid", "billing_menu"))},
				{time.Second, key('9'), acts(stop, final("invalid", "too_many_tries"))},
				{0, done, acts(toPerson(ReasonSameInvalid, 40, "main", "billing"))},
			},
			sum: Summary{Path: []string{"main", "billing"}, Keys: "199", Outcome: "transfer:same_invalid_key", Tries: 2},
		},
		{
			name: "different invalid keys are not the same mistake",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('7'), acts(stop, play("invalid", "main_menu_short"))},
				{time.Second, key('8'), acts(stop, play("invalid", "main_menu"))},
			},
			sum: Summary{Path: []string{"main"}, Keys: "78", Tries: 2},
		},
		{
			name: "repeat again and again",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('*'), acts(stop, play("main_menu"))},
				{5 * time.Second, key('*'), acts(stop, play("main_menu"))},
				{5 * time.Second, key('*'), acts(stop, final("too_many_tries"))},
				{0, done, acts(toPerson(ReasonRepeats, 40, "main"))},
			},
			sum: Summary{Path: []string{"main"}, Keys: "***", Outcome: "transfer:repeat_loop"},
		},
		{
			name: "key mashing: six keys within 3 s",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('3'), acts(stop, play("order_status"))},
				{400 * time.Millisecond, key('3'), acts(stop, play("order_status"))},
				{400 * time.Millisecond, key('3'), acts(stop, play("order_status"))},
				{400 * time.Millisecond, key('3'), acts(stop, play("order_status"))},
				{400 * time.Millisecond, key('3'), acts(stop, play("order_status"))},
				{400 * time.Millisecond, key('3'), acts(stop, final("too_many_tries"))},
				{0, done, acts(toPerson(ReasonMashing, 40, "main"))},
			},
			sum: Summary{Path: []string{"main"}, Keys: "333333", Outcome: "transfer:key_mashing"},
		},
		{
			name: "six keys over more than 3 s are a brisk caller, not a masher",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('3'), acts(stop, play("order_status"))},
				{700 * time.Millisecond, key('3'), acts(stop, play("order_status"))},
				{700 * time.Millisecond, key('3'), acts(stop, play("order_status"))},
				{700 * time.Millisecond, key('3'), acts(stop, play("order_status"))},
				{700 * time.Millisecond, key('3'), acts(stop, play("order_status"))},
				{700 * time.Millisecond, key('3'), acts(stop, play("order_status"))},
			},
			sum: Summary{Path: []string{"main"}, Keys: "333333"},
		},
		{
			name: "an account number typed fast is data, not mashing",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('1'), acts(stop, play("billing_menu"))},
				{time.Second, key('2'), acts(stop, play("account_prompt"))},
				{100 * time.Millisecond, key('1'), acts(stop, timer(1, 3))},
				{100 * time.Millisecond, key('2'), acts(cancel(1), timer(2, 3))},
				{100 * time.Millisecond, key('3'), acts(cancel(2), timer(3, 3))},
				{100 * time.Millisecond, key('4'), acts(cancel(3), timer(4, 3))},
				{100 * time.Millisecond, key('5'), acts(cancel(4), timer(5, 3))},
				{100 * time.Millisecond, key('#'), acts(cancel(5), Transfer{Queue: "support", Priority: 1, Reason: ReasonMenuOption,
					Digits: map[string]string{"account": "12345"}, Path: []string{"main", "billing"}, Lang: "en"})},
			},
			sum: Summary{Path: []string{"main", "billing"}, Keys: "12xxxxx#", Outcome: "transfer:menu_option"},
		},
		{
			name: "the person key during the welcome",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('0'), acts(stop, toPerson(ReasonGreeting, 40, "main"))},
			},
			sum: Summary{Path: []string{"main"}, Keys: "0", Outcome: "transfer:person_in_greeting"},
		},
		{
			name: "the person key after the welcome is an ordinary request",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{2 * time.Second, done, acts(play("main_menu"))},
				{time.Second, key('0'), acts(stop, toPerson(ReasonCallerRequest, 1, "main"))},
			},
			sum: Summary{Path: []string{"main"}, Keys: "0", Outcome: "transfer:caller_request"},
		},
		{
			name: "in a collection the person key alone asks for a person",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('1'), acts(stop, play("billing_menu"))},
				{time.Second, key('2'), acts(stop, play("account_prompt"))},
				{time.Second, key('0'), acts(stop, timer(1, 3))},
				{time.Second, key('#'), acts(cancel(1), toPerson(ReasonCallerRequest, 1, "main", "billing"))},
			},
			sum: Summary{Path: []string{"main", "billing"}, Keys: "12x#", Outcome: "transfer:caller_request"},
		},
		{
			name: "in a collection 0 then more digits is data",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('1'), acts(stop, play("billing_menu"))},
				{time.Second, key('2'), acts(stop, play("account_prompt"))},
				{time.Second, key('0'), acts(stop, timer(1, 3))},
				{time.Second, key('1'), acts(cancel(1), timer(2, 3))},
				{time.Second, key('2'), acts(cancel(2), timer(3, 3))},
				{time.Second, key('3'), acts(cancel(3), timer(4, 3))},
				{time.Second, key('#'), acts(cancel(4), Transfer{Queue: "support", Priority: 1, Reason: ReasonMenuOption,
					Digits: map[string]string{"account": "0123"}, Path: []string{"main", "billing"}, Lang: "en"})},
			},
			sum: Summary{Path: []string{"main", "billing"}, Keys: "12xxxx#", Outcome: "transfer:menu_option"},
		},
		{
			name: "the menu time cap stops what plays and hands over",
			steps: []tstep{
				{0, nil, acts(play("welcome"))},
				{time.Second, key('3'), acts(stop, play("order_status"))},
				{2 * time.Minute, MenuTimeUp{}, acts(stop, final("too_many_tries"))},
				{0, key('1'), nil},
				{0, done, acts(toPerson(ReasonMenuTime, 40, "main"))},
				{0, MenuTimeUp{}, nil}, // with the router now: nothing more
			},
			sum: Summary{Path: []string{"main"}, Keys: "3", Outcome: "transfer:menu_time"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: utc("2026-12-23T10:00:00Z")}
			m := NewMachine(cfg)
			m.SetClock(c.now)
			for i, s := range tt.steps {
				c.t = c.t.Add(s.gap)
				var got []Action
				if s.ev == nil {
					got = m.Start()
				} else {
					got = m.Handle(s.ev)
				}
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d: Handle(%#v) = %#v, want %#v", i, s.ev, got, s.want)
				}
			}
			if got := m.Summary(); !reflect.DeepEqual(got, tt.sum) {
				t.Errorf("Summary() = %+v, want %+v", got, tt.sum)
			}
		})
	}
}

// TestFrustrationOff: each detector can be turned off, and then the
// older rules alone apply.
func TestFrustrationOff(t *testing.T) {
	src := strings.Replace(frustrationMenu, "frustration: {priority: 40}",
		"frustration: {priority: 40, mashing: false, same_invalid: false, repeats: 0, greeting: false}", 1)
	m := NewMachine(mustParse(t, src))
	m.Start()
	for _, k := range "**" + "99" {
		m.Handle(Key{Digit: byte(k)})
	}
	got := m.Handle(Key{Digit: '0'})
	want := acts(stop, Transfer{Queue: "support", Priority: 1, Reason: ReasonCallerRequest, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after ** 99 with the detectors off, 0 = %#v, want %#v", got, want)
	}
}

// TestSessionMenuTimeCap: the cap counts time in the menu only, and
// fires once. The router holds the caller 50 s and gives them back; the
// cap (2 m) then fires 2 m of menu time after the start, at 170 s.
func TestSessionMenuTimeCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A patient menu (60 s to answer), so that the cap, not the
		// failure budget, ends the caller's stay.
		cfg := mustParse(t, strings.Replace(frustrationMenu, "  max_tries: 3\n", "  max_tries: 3\n  no_input_timeout: 60s\n", 1))
		ch := newFakeChannel()
		ch.inQueue = 50 * time.Second
		ch.transfer = []error{ErrBackToMenu, nil}
		keys := make(chan Press)
		// 0 at 3 s (after the welcome): queued 50 s, then back in the
		// menu at 53 s, and silent.
		go press(ch.t0, keys, map[time.Duration]byte{3 * time.Second: '0'})
		sum := NewSession(cfg, ch, slog.New(slog.DiscardHandler)).Run(t.Context(), keys)
		if sum.Outcome != "transfer:menu_time" {
			t.Fatalf("Run() outcome = %q, want transfer:menu_time; channel saw\n%s", sum.Outcome, strings.Join(ch.log, "\n"))
		}
		last := ch.log[len(ch.log)-1]
		if want := "2m52s transfer support menu_time map[]"; last != want {
			t.Errorf("last channel action = %q, want %q (cap at 170 s, then 2 s of too_many_tries)\n%s", last, want, strings.Join(ch.log, "\n"))
		}
	})
}

func TestMenuMaxTriesOnlyTighter(t *testing.T) {
	src := strings.Replace(frustrationMenu, "    prompt: [billing_menu]\n", "    prompt: [billing_menu]\n    max_tries: 4\n", 1)
	_, err := Parse("m.yaml", []byte(src), nil)
	want := `m.yaml:19:16: menu "billing": max_tries 4 is more than settings.max_tries 3, the call's whole failure budget; a menu may only be tighter`
	if err == nil || err.Error() != want {
		t.Errorf("Parse(menu max_tries 4 > 3) = %v, want %s", err, want)
	}
}
