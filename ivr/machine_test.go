package ivr

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"
)

const machineMenu = `
settings:
  languages: [en, es]
  welcome: [welcome]
  person: {queue: support}
  # The frustration detectors are off here so that each older behaviour
  # is seen alone; frustrationMenu tests them.
  frustration: {priority: 0, mashing: false, same_invalid: false, repeats: 0, greeting: false}
menus:
  main:
    prompt: [main_menu]
    short: [main_menu_short]
    options:
      1: {menu: billing}
      2: {menu: tech}
      3: {play: [order_status]}
      4: hangup
      5: {transfer: {queue: sales, priority: 2}}
      9: {language: es}
      "*": repeat
  billing:
    prompt: [billing_menu]
    options:
      1: {play: [balance_info]}
      2:
        collect:
          name: account
          prompt: [account_prompt]
          done: [account_thanks]
          min_digits: 4
          max_digits: 6
          then: {transfer: {queue: billing, priority: 1}}
      3:
        collect: {name: pin, prompt: [account_prompt], max_digits: 4, terminator: "", then: repeat}
      "*": back
  tech:
    prompt: [tech_menu]
    max_tries: 2
    no_input_timeout: 8s
    options:
      1: {play: [internet_help]}
      "*": back
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse("test.yaml", []byte(src), nil)
	if err != nil {
		t.Fatalf("Parse(test menu) = %v", err)
	}
	return cfg
}

// Shorthands for expected actions.
func play(p ...string) Play   { return Play{Lang: "en", Prompts: p, Interruptible: true} }
func playES(p ...string) Play { return Play{Lang: "es", Prompts: p, Interruptible: true} }
func final(p ...string) Play  { return Play{Lang: "en", Prompts: p, Interruptible: false} }
func timer(id int, s float64) StartTimer {
	return StartTimer{ID: TimerID(id), After: time.Duration(s * float64(time.Second))}
}
func cancel(id int) CancelTimer { return CancelTimer{ID: TimerID(id)} }
func acts(a ...Action) []Action { return a }

var (
	stop = StopPlayback{}
	done = PromptDone{}
)

func key(d byte) Key { return Key{Digit: d} }

// A step feeds one event (nil means Start) and expects exactly these actions.
type step struct {
	ev   Event
	want []Action
}

// reachBilling starts the call and enters billing by barging in.
var reachBilling = []step{
	{nil, acts(play("welcome"))},
	{key('1'), acts(stop, play("billing_menu"))},
}

func steps(prefix []step, rest ...step) []step {
	return append(append([]step(nil), prefix...), rest...)
}

func TestMachine(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		sum   Summary
	}{
		{
			name: "no-input timer starts when the prompt ends, default 5s",
			steps: []step{
				{nil, acts(play("welcome"))},
				{done, acts(play("main_menu"))},
				{done, acts(timer(1, 5))},
			},
			sum: Summary{Path: []string{"main"}},
		},
		{
			name: "silence: short re-prompt, full one on the last try, then a person",
			steps: []step{
				{nil, acts(play("welcome"))},
				{done, acts(play("main_menu"))},
				{done, acts(timer(1, 5))},
				{Timeout{1}, acts(play("no_input", "main_menu_short"))},
				{done, acts(timer(2, 5))},
				{Timeout{2}, acts(play("no_input", "main_menu"))},
				{done, acts(timer(3, 5))},
				{Timeout{3}, acts(final("no_input", "too_many_tries"))},
				{key('1'), nil}, // the hand-over prompt cannot be skipped
				{done, acts(Transfer{Queue: "support", Reason: ReasonMaxTries, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})},
				{key('1'), nil},
			},
			sum: Summary{Path: []string{"main"}, Outcome: "transfer:max_tries", Tries: 3},
		},
		{
			name: "invalid keys, with barge-in, end with a person",
			steps: []step{
				{nil, acts(play("welcome"))},
				{done, acts(play("main_menu"))},
				{done, acts(timer(1, 5))},
				{key('7'), acts(cancel(1), play("invalid", "main_menu_short"))},
				{key('8'), acts(stop, play("invalid", "main_menu"))},
				{key('A'), acts(stop, final("invalid", "too_many_tries"))},
				{done, acts(Transfer{Queue: "support", Reason: ReasonMaxTries, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})},
			},
			sum: Summary{Path: []string{"main"}, Keys: "78A", Outcome: "transfer:max_tries", Tries: 3},
		},
		{
			name: "a valid choice does not refill the call's failure budget",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('7'), acts(stop, play("invalid", "main_menu_short"))},
				{key('7'), acts(stop, play("invalid", "main_menu"))},
				{key('3'), acts(stop, play("order_status"))},
				{done, acts(play("main_menu"))}, // one try left: the full prompt
				{key('7'), acts(stop, final("invalid", "too_many_tries"))},
				{done, acts(Transfer{Queue: "support", Reason: ReasonMaxTries, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})},
			},
			sum: Summary{Path: []string{"main"}, Keys: "7737", Outcome: "transfer:max_tries", Tries: 3},
		},
		{
			name: "person key during the welcome",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('0'), acts(stop, Transfer{Queue: "support", Reason: ReasonCallerRequest, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})},
				{key('1'), nil}, // the call is routing's now
				{done, nil},
			},
			sum: Summary{Path: []string{"main"}, Keys: "0", Outcome: "transfer:caller_request"},
		},
		{
			name: "person key in a submenu",
			steps: steps(reachBilling,
				step{done, acts(timer(1, 5))},
				step{key('0'), acts(cancel(1), Transfer{Queue: "support", Reason: ReasonCallerRequest, Digits: map[string]string{}, Path: []string{"main", "billing"}, Lang: "en"})},
			),
			sum: Summary{Path: []string{"main", "billing"}, Keys: "10", Outcome: "transfer:caller_request"},
		},
		{
			name: "back returns to the previous menu with its full prompt",
			steps: steps(reachBilling,
				step{done, acts(timer(1, 5))},
				step{key('*'), acts(cancel(1), play("main_menu"))},
				step{key('2'), acts(stop, play("tech_menu"))},
			),
			sum: Summary{Path: []string{"main", "billing", "main", "tech"}, Keys: "1*2"},
		},
		{
			name: "repeat plays the full prompt",
			steps: []step{
				{nil, acts(play("welcome"))},
				{done, acts(play("main_menu"))},
				{done, acts(timer(1, 5))},
				{key('*'), acts(cancel(1), play("main_menu"))},
				{done, acts(timer(2, 5))},
				{Timeout{1}, nil}, // stale
			},
			sum: Summary{Path: []string{"main"}, Keys: "*"},
		},
		{
			name: "play a message, then the menu again (short)",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('3'), acts(stop, play("order_status"))},
				{done, acts(play("main_menu_short"))},
				{done, acts(timer(1, 5))},
			},
			sum: Summary{Path: []string{"main"}, Keys: "3"},
		},
		{
			name: "a key during a message is a choice in the menu",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('3'), acts(stop, play("order_status"))},
				{key('2'), acts(stop, play("tech_menu"))},
			},
			sum: Summary{Path: []string{"main", "tech"}, Keys: "32"},
		},
		{
			name: "hangup option plays goodbye then hangs up",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('4'), acts(stop, final("goodbye"))},
				{done, acts(Hangup{Reason: ReasonMenuOption})},
				{done, nil},
			},
			sum: Summary{Path: []string{"main"}, Keys: "4", Outcome: "hangup:menu_option"},
		},
		{
			name: "transfer option to a named queue",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('5'), acts(stop, Transfer{Queue: "sales", Priority: 2, Reason: ReasonMenuOption, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})},
			},
			sum: Summary{Path: []string{"main"}, Keys: "5", Outcome: "transfer:menu_option"},
		},
		{
			name: "language switch replays the menu in the new language",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('9'), acts(stop, SetLanguage{Lang: "es"}, playES("main_menu"))},
				{done, acts(timer(1, 5))},
				{key('7'), acts(cancel(1), playES("invalid", "main_menu_short"))},
				{key('0'), acts(stop, Transfer{Queue: "support", Reason: ReasonCallerRequest, Digits: map[string]string{}, Path: []string{"main"}, Lang: "es"})},
			},
			sum: Summary{Path: []string{"main"}, Keys: "970", Outcome: "transfer:caller_request", Tries: 1},
		},
		{
			name: "collect ended by #, digits go with the transfer",
			steps: steps(reachBilling,
				step{key('2'), acts(stop, play("account_prompt"))},
				step{done, acts(timer(1, 5))},
				step{key('1'), acts(cancel(1), timer(2, 3))},
				step{key('0'), acts(cancel(2), timer(3, 3))}, // 0 is a digit here, not the person key
				step{key('3'), acts(cancel(3), timer(4, 3))},
				step{key('4'), acts(cancel(4), timer(5, 3))},
				step{key('#'), acts(cancel(5), final("account_thanks"))},
				step{done, acts(Transfer{Queue: "billing", Priority: 1, Reason: ReasonMenuOption,
					Digits: map[string]string{"account": "1034"}, Path: []string{"main", "billing"}, Lang: "en"})},
			),
			sum: Summary{Path: []string{"main", "billing"}, Keys: "12xxxx#", Outcome: "transfer:menu_option"},
		},
		{
			name: "collect ends by itself at max_digits",
			steps: steps(reachBilling,
				step{key('2'), acts(stop, play("account_prompt"))},
				step{done, acts(timer(1, 5))},
				step{key('1'), acts(cancel(1), timer(2, 3))},
				step{key('2'), acts(cancel(2), timer(3, 3))},
				step{key('3'), acts(cancel(3), timer(4, 3))},
				step{key('4'), acts(cancel(4), timer(5, 3))},
				step{key('5'), acts(cancel(5), timer(6, 3))},
				step{key('6'), acts(cancel(6), final("account_thanks"))},
				step{done, acts(Transfer{Queue: "billing", Priority: 1, Reason: ReasonMenuOption,
					Digits: map[string]string{"account": "123456"}, Path: []string{"main", "billing"}, Lang: "en"})},
			),
			sum: Summary{Path: []string{"main", "billing"}, Keys: "12xxxxxx", Outcome: "transfer:menu_option"},
		},
		{
			name: "collect ended by the inter-digit timeout; digits typed over the prompt are kept",
			steps: steps(reachBilling,
				step{key('2'), acts(stop, play("account_prompt"))},
				step{key('9'), acts(stop, timer(1, 3))},
				step{done, nil}, // the stopped prompt's end means nothing
				step{key('8'), acts(cancel(1), timer(2, 3))},
				step{key('7'), acts(cancel(2), timer(3, 3))},
				step{key('6'), acts(cancel(3), timer(4, 3))},
				step{Timeout{3}, nil},
				step{Timeout{4}, acts(final("account_thanks"))},
				step{done, acts(Transfer{Queue: "billing", Priority: 1, Reason: ReasonMenuOption,
					Digits: map[string]string{"account": "9876"}, Path: []string{"main", "billing"}, Lang: "en"})},
			),
			sum: Summary{Path: []string{"main", "billing"}, Keys: "12xxxx", Outcome: "transfer:menu_option"},
		},
		{
			name: "collect too short, then silent, then a person",
			steps: steps(reachBilling,
				step{key('2'), acts(stop, play("account_prompt"))},
				step{done, acts(timer(1, 5))},
				step{key('1'), acts(cancel(1), timer(2, 3))},
				step{key('#'), acts(cancel(2), play("invalid", "account_prompt"))},
				step{done, acts(timer(3, 5))},
				step{Timeout{3}, acts(play("no_input", "account_prompt"))},
				step{done, acts(timer(4, 5))},
				step{key('*'), acts(cancel(4), play("billing_menu"))},
				step{key('3'), acts(stop, play("account_prompt"))},
				step{key('4'), acts(stop, timer(5, 3))},
				// The third failure of the call, though the second entry
				// started afresh: the budget is the call's.
				step{key('#'), acts(cancel(5), final("invalid", "too_many_tries"))},
				step{done, acts(Transfer{Queue: "support", Reason: ReasonMaxTries, Digits: map[string]string{}, Path: []string{"main", "billing"}, Lang: "en"})},
			),
			sum: Summary{Path: []string{"main", "billing"}, Keys: "12x#*3x#", Outcome: "transfer:max_tries", Tries: 3},
		},
		{
			name: "collect without a terminator: then runs in the menu",
			steps: steps(reachBilling,
				step{key('3'), acts(stop, play("account_prompt"))},
				step{key('1'), acts(stop, timer(1, 3))},
				step{Timeout{1}, acts(play("billing_menu"))},
			),
			sum: Summary{Path: []string{"main", "billing"}, Keys: "13x"},
		},
		{
			name: "collect max tries goes to a person with what was stored",
			steps: steps(reachBilling,
				step{key('3'), acts(stop, play("account_prompt"))},
				step{key('7'), acts(stop, timer(1, 3))},
				step{Timeout{1}, acts(play("billing_menu"))},
				step{key('2'), acts(stop, play("account_prompt"))},
				step{key('#'), acts(stop, play("invalid", "account_prompt"))},
				step{key('#'), acts(stop, play("invalid", "account_prompt"))},
				step{key('#'), acts(stop, final("invalid", "too_many_tries"))},
				step{done, acts(Transfer{Queue: "support", Reason: ReasonMaxTries,
					Digits: map[string]string{"pin": "7"}, Path: []string{"main", "billing"}, Lang: "en"})},
			),
			sum: Summary{Path: []string{"main", "billing"}, Keys: "13x2###", Outcome: "transfer:max_tries", Tries: 3},
		},
		{
			name: "per-menu timeout and tries; no short prompt means the full one",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('2'), acts(stop, play("tech_menu"))},
				{done, acts(timer(1, 8))},
				{Timeout{1}, acts(play("no_input", "tech_menu"))},
				{done, acts(timer(2, 8))},
				{Timeout{2}, acts(final("no_input", "too_many_tries"))},
				{done, acts(Transfer{Queue: "support", Reason: ReasonMaxTries, Digits: map[string]string{}, Path: []string{"main", "tech"}, Lang: "en"})},
			},
			sum: Summary{Path: []string{"main", "tech"}, Keys: "2", Outcome: "transfer:max_tries", Tries: 2},
		},
		{
			name: "stale and unknown timeouts are ignored",
			steps: []step{
				{nil, acts(play("welcome"))},
				{Timeout{0}, nil},
				{done, acts(play("main_menu"))},
				{done, acts(timer(1, 5))},
				{Timeout{7}, nil},
				{key('1'), acts(cancel(1), play("billing_menu"))},
				{Timeout{1}, nil},
				{done, acts(timer(2, 5))},
				{done, nil}, // no prompt is playing
			},
			sum: Summary{Path: []string{"main", "billing"}, Keys: "1"},
		},
		{
			name: "first transfer failure: the menu again; second: goodbye",
			steps: []step{
				{nil, acts(play("welcome"))},
				{TransferFailed{errors.New("x")}, nil}, // not transferring
				{key('5'), acts(stop, Transfer{Queue: "sales", Priority: 2, Reason: ReasonMenuOption, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})},
				{TransferFailed{errors.New("no agents")}, acts(play("main_menu_short"))},
				{key('0'), acts(stop, Transfer{Queue: "support", Reason: ReasonCallerRequest, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})},
				{TransferFailed{errors.New("no agents")}, acts(final("goodbye"))},
				{key('0'), nil},
				{done, acts(Hangup{Reason: ReasonTransferFailed})},
			},
			sum: Summary{Path: []string{"main"}, Keys: "50", Outcome: "hangup:transfer_failed"},
		},
		{
			name: "transfer failure after max tries does not loop back",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('7'), acts(stop, play("invalid", "main_menu_short"))},
				{key('7'), acts(stop, play("invalid", "main_menu"))},
				{key('7'), acts(stop, final("invalid", "too_many_tries"))},
				{done, acts(Transfer{Queue: "support", Reason: ReasonMaxTries, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})},
				{TransferFailed{errors.New("down")}, acts(final("goodbye"))},
				{done, acts(Hangup{Reason: ReasonTransferFailed})},
			},
			sum: Summary{Path: []string{"main"}, Keys: "777", Outcome: "hangup:transfer_failed", Tries: 3},
		},
		{
			name: "caller leaves the queue for the menu, as often as they like",
			steps: steps(reachBilling,
				step{key('0'), acts(stop, Transfer{Queue: "support", Reason: ReasonCallerRequest, Digits: map[string]string{}, Path: []string{"main", "billing"}, Lang: "en"})},
				step{TransferFailed{fmt.Errorf("left queue: %w", ErrBackToMenu)}, acts(play("billing_menu"))},
				step{key('0'), acts(stop, Transfer{Queue: "support", Reason: ReasonCallerRequest, Digits: map[string]string{}, Path: []string{"main", "billing"}, Lang: "en"})},
				step{TransferFailed{ErrBackToMenu}, acts(play("billing_menu"))},
				step{key('0'), acts(stop, Transfer{Queue: "support", Reason: ReasonCallerRequest, Digits: map[string]string{}, Path: []string{"main", "billing"}, Lang: "en"})},
				step{TransferFailed{ErrBackToMenu}, acts(play("billing_menu"))},
			),
			sum: Summary{Path: []string{"main", "billing"}, Keys: "1000"},
		},
		{
			name: "the channel already said goodbye",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('0'), acts(stop, Transfer{Queue: "support", Reason: ReasonCallerRequest, Digits: map[string]string{}, Path: []string{"main"}, Lang: "en"})},
				{TransferFailed{fmt.Errorf("queue wait: %w", ErrEndCall)}, acts(Hangup{Reason: ReasonTransferFailed})},
				{key('1'), nil},
			},
			sum: Summary{Path: []string{"main"}, Keys: "0", Outcome: "hangup:transfer_failed"},
		},
		{
			name: "caller hangs up while waiting",
			steps: []step{
				{nil, acts(play("welcome"))},
				{done, acts(play("main_menu"))},
				{done, acts(timer(1, 5))},
				{HungUp{}, acts(cancel(1))},
				{Timeout{1}, nil},
				{key('1'), nil},
			},
			sum: Summary{Path: []string{"main"}, Outcome: OutcomeCallerHangup},
		},
		{
			name: "caller hangs up during the goodbye: the menu's outcome stands",
			steps: []step{
				{nil, acts(play("welcome"))},
				{key('4'), acts(stop, final("goodbye"))},
				{HungUp{}, nil},
				{done, nil},
			},
			sum: Summary{Path: []string{"main"}, Keys: "4", Outcome: "hangup:menu_option"},
		},
		{
			name: "caller hangs up before the hand-over: no transfer happened",
			steps: steps(reachBilling,
				step{key('2'), acts(stop, play("account_prompt"))},
				step{key('1'), acts(stop, timer(1, 3))},
				step{key('2'), acts(cancel(1), timer(2, 3))},
				step{key('3'), acts(cancel(2), timer(3, 3))},
				step{key('4'), acts(cancel(3), timer(4, 3))},
				step{key('#'), acts(cancel(4), final("account_thanks"))},
				step{HungUp{}, nil},
				step{done, nil},
			),
			sum: Summary{Path: []string{"main", "billing"}, Keys: "12xxxx#", Outcome: OutcomeCallerHangup},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(mustParse(t, machineMenu))
			for i, s := range tt.steps {
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

func TestMachineDefaults(t *testing.T) {
	cfg := mustParse(t, "settings: {languages: [en]}\nmenus: {main: {prompt: [main_menu], options: {1: repeat, 2: transfer}}}\n")
	tests := []struct {
		name      string
		got, want any
	}{
		{"NoInputTimeout", cfg.Menus["main"].NoInputTimeout, 5 * time.Second},
		{"MaxTries", cfg.Menus["main"].MaxTries, 3},
		{"InterDigitTimeout", cfg.InterDigitTimeout, 3 * time.Second},
		{"Person.Key", cfg.Person.Key, byte('0')},
		{"DefaultLanguage", cfg.DefaultLanguage, "en"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("Parse(minimal).%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// TestMachineNeverTraps drives a silent caller through every menu of the
// shipped file: whatever the menu, silence ends in a transfer to a person
// within MaxTries timeouts, never in a hangup or an endless loop.
func TestMachineNeverTraps(t *testing.T) {
	cfg, err := Load("../configs/menu.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, menu := range cfg.Menus {
		for k, o := range menu.Options {
			if o.Kind != KindMenu && o.Kind != KindCollect {
				continue
			}
			t.Run(id+"/"+string(k), func(t *testing.T) {
				m := NewMachine(cfg)
				m.menu = menu // stand in the menu directly
				pending := m.Handle(Key{Digit: k})
				for n := 0; n < 100; n++ {
					var next []Action
					for _, a := range pending {
						switch a := a.(type) {
						case Play:
							next = append(next, m.Handle(PromptDone{})...)
						case StartTimer:
							next = append(next, m.Handle(Timeout{ID: a.ID})...)
						case Transfer:
							if a.Reason != ReasonMaxTries || a.Queue != cfg.Person.Queue {
								t.Fatalf("silent caller ended in %+v, want a transfer to %s for max_tries", a, cfg.Person.Queue)
							}
							return
						case Hangup:
							t.Fatalf("silent caller was hung up on: %+v", a)
						}
					}
					pending = next
				}
				t.Fatalf("silent caller still in the menu after 100 rounds")
			})
		}
	}
}

func TestMachineBounds(t *testing.T) {
	m := NewMachine(mustParse(t, machineMenu))
	m.Start()
	for range 200 {
		m.Handle(Key{Digit: '1'}) // to billing
		m.Handle(Key{Digit: '*'}) // back
		m.Handle(Key{Digit: '2'}) // to tech
		m.Handle(Key{Digit: '1'}) // a message, a key in the menu
	}
	s := m.Summary()
	if len(s.Path) != maxPath || len(s.Keys) != maxKeys || len(m.history) > maxHistory {
		t.Errorf("after 800 keys: len(Path) = %d, len(Keys) = %d, len(history) = %d; want %d, %d, <= %d",
			len(s.Path), len(s.Keys), len(m.history), maxPath, maxKeys, maxHistory)
	}
}

func TestMachineLeavesConfigAlone(t *testing.T) {
	cfg := mustParse(t, machineMenu)
	m := NewMachine(cfg)
	p := m.Start()[0].(Play)
	p.Prompts[0] = "changed"
	if got := cfg.Welcome[0]; got != "welcome" {
		t.Errorf("writing to a Play's prompts changed the config: Welcome[0] = %q, want welcome", got)
	}
	m.Handle(Key{Digit: '*'})
	p = m.Handle(Key{Digit: '*'})[1].(Play)
	p.Prompts[0] = "changed"
	if got := cfg.Menus["main"].Prompt[0]; got != "main_menu" {
		t.Errorf("writing to a Play's prompts changed the config: Prompt[0] = %q, want main_menu", got)
	}
}

func BenchmarkParseShipped(b *testing.B) {
	data, err := os.ReadFile("../configs/menu.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse("menu.yaml", data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMachineCall runs one scripted call: billing, account number,
// transfer.
func BenchmarkMachineCall(b *testing.B) {
	cfg, err := Load("../configs/menu.yaml", nil)
	if err != nil {
		b.Fatal(err)
	}
	evs := []Event{Key{'1'}, Key{'2'}, Key{'1'}, Key{'2'}, Key{'3'}, Key{'4'}, Key{'#'}, PromptDone{}}
	b.ReportAllocs()
	for b.Loop() {
		m := NewMachine(cfg)
		m.Start()
		for _, ev := range evs {
			m.Handle(ev)
		}
	}
}
