package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// fakeChannel plays each prompt for promptLen of (virtual) time and
// writes what happened, stamped with the virtual time since the call
// began, to a log the test compares.
type fakeChannel struct {
	t0        time.Time
	promptLen time.Duration
	cur       *time.Timer
	log       []string
	transfer  []error       // what successive Transfer calls return
	inQueue   time.Duration // how long a failing Transfer holds the caller
}

func newFakeChannel() *fakeChannel {
	return &fakeChannel{t0: time.Now(), promptLen: 2 * time.Second}
}

func (f *fakeChannel) note(format string, args ...any) {
	f.log = append(f.log, fmt.Sprintf("%v ", time.Since(f.t0))+fmt.Sprintf(format, args...))
}

// Only Session.Run's goroutine calls these, except the AfterFunc, which
// touches nothing but the channel it closes.
func (f *fakeChannel) Play(_ context.Context, lang string, prompts []string) <-chan struct{} {
	f.note("play %s %s", lang, strings.Join(prompts, ","))
	done := make(chan struct{})
	f.cur = time.AfterFunc(time.Duration(len(prompts))*f.promptLen, func() { close(done) })
	return done
}

func (f *fakeChannel) StopPlayback() {
	f.note("stop")
	if f.cur != nil {
		f.cur.Stop()
	}
}

func (f *fakeChannel) Transfer(_ context.Context, t Transfer) error {
	f.note("transfer %s %s %v", t.Queue, t.Reason, t.Digits)
	if len(f.transfer) == 0 {
		return nil
	}
	err := f.transfer[0]
	f.transfer = f.transfer[1:]
	time.Sleep(f.inQueue)
	return err
}

func (f *fakeChannel) Hangup(context.Context) { f.note("hangup") }

// press sends keys at the given virtual times since the call began.
func press(t0 time.Time, keys chan<- Press, at map[time.Duration]byte) {
	var times []time.Duration
	for d := range at {
		times = append(times, d)
	}
	slices.Sort(times)
	for _, d := range times {
		time.Sleep(time.Until(t0.Add(d)))
		keys <- Press{Digit: at[d], Via: "rfc4733"}
	}
}

func TestSessionTiming(t *testing.T) {
	tests := []struct {
		name     string
		keys     map[time.Duration]byte
		transfer []error
		cancelAt time.Duration // 0: never
		want     []string
		outcome  string
	}{
		{
			// Prompts last 2 s each. The no-input timer (5 s) runs from the
			// end of each prompt; after 3 silent tries a person takes over.
			name: "silent caller",
			want: []string{
				"0s play en welcome",   // ends 2s
				"2s play en main_menu", // ends 4s
				"9s play en no_input,main_menu_short",
				"18s play en no_input,main_menu",
				"27s play en no_input,too_many_tries", // ends 31s
				"31s transfer support max_tries map[]",
			},
			outcome: "transfer:max_tries",
		},
		{
			name: "barge-in, account number, inter-digit timeout",
			keys: map[time.Duration]byte{
				1 * time.Second: '1', // during the welcome
				4 * time.Second: '2', // after billing_menu ended at 3s
				5 * time.Second: '4', // over the account prompt: kept
				6 * time.Second: '3',
				7 * time.Second: '2',
				8 * time.Second: '1', // then silence: 3s inter-digit timeout
			},
			want: []string{
				"0s play en welcome",
				"1s stop",
				"1s play en billing_menu",
				"4s play en account_prompt",
				"5s stop",
				"11s play en account_thanks", // 8s + 3s
				"13s transfer billing menu_option map[account:4321]",
			},
			outcome: "transfer:menu_option",
		},
		{
			// The router keeps the caller 30 s, says why it failed, and
			// gives the call back: the menu is offered again.
			name:     "transfer fails: the menu again, then the caller leaves",
			keys:     map[time.Duration]byte{3 * time.Second: '0'}, // during the menu, after the welcome
			transfer: []error{errors.New("no agents")},
			cancelAt: 39 * time.Second,
			want: []string{
				"0s play en welcome",
				"2s play en main_menu",
				"3s stop",
				"3s transfer support caller_request map[]",
				"33s play en main_menu_short", // ends 35s; the caller leaves at 39s, before the 40s timeout
			},
			outcome: OutcomeCallerHangup,
		},
		{
			name: "language switch, repeat, caller leaves",
			keys: map[time.Duration]byte{5 * time.Second: '9', 6 * time.Second: '*'},
			want: []string{
				"0s play en welcome",
				"2s play en main_menu",
				"5s play es main_menu",
				"6s stop",
				"6s play es main_menu",
			},
			cancelAt: 10 * time.Second, // the re-prompt would come at 13s
			outcome:  OutcomeCallerHangup,
		},
	}
	cfg := mustParseShipped(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				ch := newFakeChannel()
				ch.transfer = tt.transfer
				ch.inQueue = 30 * time.Second
				keys := make(chan Press)
				go press(ch.t0, keys, tt.keys)
				if tt.cancelAt > 0 {
					time.AfterFunc(tt.cancelAt, cancel)
				}
				sum := NewSession(cfg, ch, slog.New(slog.DiscardHandler)).Run(ctx, keys)
				if !reflect.DeepEqual(ch.log, tt.want) {
					t.Errorf("Run: channel saw\n%s\nwant\n%s", strings.Join(ch.log, "\n"), strings.Join(tt.want, "\n"))
				}
				if sum.Outcome != tt.outcome {
					t.Errorf("Run() outcome = %q, want %q", sum.Outcome, tt.outcome)
				}
				if tt.cancelAt > 0 {
					if got := time.Since(ch.t0); got != tt.cancelAt {
						t.Errorf("Run returned at %v, want %v (when the call ended)", got, tt.cancelAt)
					}
				}
			})
		})
	}
}

func mustParseShipped(t *testing.T) *Config {
	t.Helper()
	cfg, err := Load("../configs/menu.yaml", nil)
	if err != nil {
		t.Fatalf("Load(configs/menu.yaml) = %v", err)
	}
	return cfg
}

func TestSessionHangupOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := mustParse(t, machineMenu)
		ch := newFakeChannel()
		keys := make(chan Press, 1)
		keys <- Press{Digit: '4'}
		close(keys) // a closed key channel does not end the call
		sum := NewSession(cfg, ch, nil).Run(t.Context(), keys)
		want := []string{"0s play en welcome", "0s stop", "0s play en goodbye", "2s hangup"}
		if !reflect.DeepEqual(ch.log, want) {
			t.Errorf("Run: channel saw %q, want %q", ch.log, want)
		}
		if sum.Outcome != "hangup:menu_option" || sum.Keys != "4" {
			t.Errorf("Run() = %+v, want outcome hangup:menu_option keys 4", sum)
		}
	})
}

// nilPlay is a channel whose prompts are over at once (Play returns nil).
type nilPlay struct{ fakeChannel }

func (n *nilPlay) Play(_ context.Context, lang string, prompts []string) <-chan struct{} {
	n.note("play %s %s", lang, strings.Join(prompts, ","))
	return nil
}

func TestSessionNilDoneMeansPlayed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ch := &nilPlay{*newFakeChannel()}
		sum := NewSession(mustParseShipped(t), ch, nil).Run(t.Context(), nil)
		want := []string{
			"0s play en welcome", "0s play en main_menu",
			"5s play en no_input,main_menu_short",
			"10s play en no_input,main_menu",
			"15s play en no_input,too_many_tries",
			"15s transfer support max_tries map[]",
		}
		if !reflect.DeepEqual(ch.log, want) {
			t.Errorf("Run: channel saw %q, want %q", ch.log, want)
		}
		if sum.Tries != 3 {
			t.Errorf("Run().Tries = %d, want 3", sum.Tries)
		}
	})
}
