package ivr

import (
	"reflect"
	"testing"
	"testing/synctest"
	"time"
)

// TestSessionObserve: the observer hears the funnel of each menu (entered,
// option, invalid, no input) and the escalation, in order; digits typed
// into a collection are not reported as options.
func TestSessionObserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := mustParse(t, machineMenu)
		ch := newFakeChannel()
		keys := make(chan Press)
		var got []MenuEvent
		s := NewSession(cfg, ch, nil)
		s.Observe(func(ev MenuEvent) { got = append(got, ev) })
		go press(ch.t0, keys, map[time.Duration]byte{
			1 * time.Second: '7', // invalid in main
			2 * time.Second: '2', // tech
			// tech times out twice (max_tries 2): no input, then to a person
		})
		s.Run(t.Context(), keys)
		want := []MenuEvent{
			{Kind: MenuEntered, Menu: "main"},
			{Kind: MenuKey, Key: '7', Via: "rfc4733"},
			{Kind: MenuInvalid, Menu: "main", Key: '7'},
			{Kind: MenuKey, Key: '2', Via: "rfc4733"},
			{Kind: MenuOption, Menu: "main", Key: '2'},
			{Kind: MenuEntered, Menu: "tech"},
			{Kind: MenuNoInput, Menu: "tech"},
			{Kind: MenuNoInput, Menu: "tech"},
			{Kind: MenuEscalate, Menu: "tech", Reason: ReasonMaxTries},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("observer saw\n%+v\nwant\n%+v", got, want)
		}
	})
}

func TestSessionObserveCollect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := mustParse(t, machineMenu)
		ch := newFakeChannel()
		keys := make(chan Press)
		var got []MenuEvent
		s := NewSession(cfg, ch, nil)
		s.Observe(func(ev MenuEvent) { got = append(got, ev) })
		at := map[time.Duration]byte{1 * time.Second: '1', 2 * time.Second: '2'}
		for i, d := range "12345#" {
			at[time.Duration(5+i)*time.Second] = byte(d)
		}
		go press(ch.t0, keys, at)
		s.Run(t.Context(), keys)
		want := []MenuEvent{
			{Kind: MenuEntered, Menu: "main"},
			{Kind: MenuKey, Key: '1', Via: "rfc4733"},
			{Kind: MenuOption, Menu: "main", Key: '1'},
			{Kind: MenuEntered, Menu: "billing"},
			{Kind: MenuKey, Key: '2', Via: "rfc4733"},
			{Kind: MenuOption, Menu: "billing", Key: '2'},
			// The account number is data: each digit leaves as x.
			{Kind: MenuKey, Key: 'x', Via: "rfc4733"},
			{Kind: MenuKey, Key: 'x', Via: "rfc4733"},
			{Kind: MenuKey, Key: 'x', Via: "rfc4733"},
			{Kind: MenuKey, Key: 'x', Via: "rfc4733"},
			{Kind: MenuKey, Key: 'x', Via: "rfc4733"},
			{Kind: MenuKey, Key: '#', Via: "rfc4733"},
			{Kind: MenuEscalate, Menu: "billing", Reason: ReasonMenuOption},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("observer saw\n%+v\nwant\n%+v", got, want)
		}
	})
}
