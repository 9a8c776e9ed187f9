package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// TestMenuByEachDTMFMethod dials the real gateway over UDP and TCP, hears the
// greeting, moves through the menu with keys sent as RFC 4733 events, SIP
// INFO and in-band tones, and checks from the audio and the call log that
// the menu followed. The test phone negotiates telephone-events yet sends
// tones too, which the gateway listens for with -inband-dtmf always.
func TestMenuByEachDTMFMethod(t *testing.T) {
	g := startGateway(t, "-inband-dtmf", "always")
	set := promptSet(t)
	tests := []struct {
		name      string
		transport string
		codecs    []uint8
		eventPT   uint8
	}{
		{"udp-pcmu", "udp", []uint8{0, 8}, 101},
		{"tcp-pcma-pt96", "tcp", []uint8{8, 0}, 96},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, Transport: tt.transport,
				From: "alice-" + tt.name, DisplayName: "Alice", To: "support", Codecs: tt.codecs, EventPT: tt.eventPT})
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			m := c.Media()
			if m.Codec != tt.codecs[0] || m.EventPT != tt.eventPT {
				t.Fatalf("answer = codec %d event PT %d, want codec %d (caller's first) and event PT %d (mirrored)", m.Codec, m.EventPT, tt.codecs[0], tt.eventPT)
			}
			pt := m.Codec
			sig := func(name string) signature { return promptSignature(t, set, "en", name, pt) }
			start := time.Now()

			// The greeting is real speech, then the main menu.
			if err := c.WaitForSpeech(ctx, 500*time.Millisecond); err != nil {
				t.Fatalf("greeting: %v", err)
			}
			if err := waitPrompt(ctx, c, start, sig("welcome")); err != nil {
				t.Fatal(err)
			}
			if err := waitPrompt(ctx, c, start, sig("main_menu")); err != nil {
				t.Fatal(err)
			}

			// In-band first: once a call has shown RFC 4733 events the gateway
			// ignores in-band detections (they would double-count presses of
			// phones that send both).
			// 3 as in-band tones during the main menu (barge-in): order status.
			t1 := time.Now()
			if err := c.SendDigitInband('3', 120*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if err := waitPrompt(ctx, c, t1, sig("order_status")); err != nil {
				t.Fatal(err)
			}

			// 1 by SIP INFO: billing.
			t2 := time.Now()
			if err := c.SendDigitINFO(ctx, '1'); err != nil {
				t.Fatal(err)
			}
			if err := waitPrompt(ctx, c, t2, sig("billing_menu")); err != nil {
				t.Fatal(err)
			}

			// * by RFC 4733: back to the main menu.
			t3 := time.Now()
			if err := c.SendDigit4733('*', 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if err := waitPrompt(ctx, c, t3, sig("main_menu")); err != nil {
				t.Fatal(err)
			}

			if err := c.Hangup(ctx); err != nil {
				t.Fatalf("Hangup: %v", err)
			}
			line, err := g.waitLog(ctx, "call summary", c.CallID())
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"keys=31*", "path=main>billing>main", "rfc4733=1", "info=1", "inband=1", "ended=remote_bye"} {
				if !strings.Contains(line, want) {
					t.Errorf("call summary = %q, want it to contain %q", line, want)
				}
			}
		})
	}
}

// TestInbandAuto: with the default -inband-dtmf auto, a phone that offered
// no telephone-event is heard by its tones, and one that negotiated events
// is not (its tones are voice to the gateway): only its RFC 4733 key counts.
func TestInbandAuto(t *testing.T) {
	g := startGateway(t)
	set := promptSet(t)
	for _, tt := range []struct {
		name     string
		noEvents bool
	}{{"tones-only phone", true}, {"events phone", false}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "inband", To: "support", NoEvents: tt.noEvents})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sig := func(name string) signature { return promptSignature(t, set, "en", name, c.Media().Codec) }
			start := time.Now()
			if err := waitPrompt(ctx, c, start, sig("main_menu")); err != nil {
				t.Fatal(err)
			}
			t1 := time.Now()
			if err := c.SendDigitInband('1', 120*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if !tt.noEvents {
				// The tone was not a key: the menu goes on; an event is.
				if err := c.SendDigit4733('2', 100*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			want, keys := "billing_menu", "keys=1 "
			if !tt.noEvents {
				want, keys = "tech_menu", "keys=2 "
			}
			if err := waitPrompt(ctx, c, t1, sig(want)); err != nil {
				t.Fatal(err)
			}
			if err := c.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			line, err := g.waitLog(ctx, "call summary", c.CallID())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(line, keys) {
				t.Errorf("call summary = %q, want %q", line, keys)
			}
		})
	}
}
