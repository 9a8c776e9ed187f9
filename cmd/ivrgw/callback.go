package main

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ivrgw/ivrgw/gateway"
	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/routing"
)

// callbackOptions are the callback settings; -trunk empty turns callbacks off.
type callbackOptions struct {
	trunkURI   string
	trunk      netip.AddrPort
	offerAfter time.Duration
	key        string
	retries    int
	retryAfter time.Duration
	ring       time.Duration
	ttl        time.Duration
	from       string
}

func (o *options) callbackFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.whisper, "whisper", "on", "on: before the bridge the agent hears a short summary of the caller (menu, language, repeat caller, trouble, minutes waited), skippable with any key; off: none")
	c := &o.cb
	fs.StringVar(&c.trunkURI, "trunk", "", "outbound trunk for callbacks, sip:IP:PORT (an IP literal; UDP); empty: no callbacks offered")
	fs.DurationVar(&c.offerAfter, "callback-offer-after", time.Minute, "offer a callback in the queue announcements once the wait so far, or the estimated wait, reaches this")
	fs.StringVar(&c.key, "callback-key", "1", "the key that books an offered callback (not -leave key *)")
	fs.IntVar(&c.retries, "callback-retries", 2, "further calls to a caller who did not answer the callback before it is abandoned")
	fs.DurationVar(&c.retryAfter, "callback-retry-after", time.Minute, "wait this long between calls to a caller who did not answer (the callback keeps the head of the queue)")
	fs.DurationVar(&c.ring, "callback-ring-timeout", 30*time.Second, "ring the caller's phone this long")
	fs.DurationVar(&c.ttl, "callback-ttl", 2*time.Hour, "a callback not served by then is dropped (and counted as expired)")
	fs.StringVar(&c.from, "callback-from", "support", "the From user of calls to callers (what their phone shows)")
}

// checkCallback validates the whisper and callback settings.
func (o *options) checkCallback() error {
	if o.whisper != "on" && o.whisper != "off" {
		return fmt.Errorf("-whisper %q: want on or off", o.whisper)
	}
	c := &o.cb
	if c.trunkURI != "" {
		ap, err := parseTrunk(c.trunkURI)
		if err != nil {
			return err
		}
		c.trunk = ap
	}
	switch {
	case len(c.key) != 1 || !dtmf.ValidDigit(c.key[0]):
		return fmt.Errorf("-callback-key %q: want one key of 0-9 * # A-D", c.key)
	case c.key == "*":
		return fmt.Errorf("-callback-key *: that key leaves the queue")
	case c.retries < 0 || c.retries > 10:
		return fmt.Errorf("-callback-retries %d: want 0 to 10", c.retries)
	case c.offerAfter < time.Second:
		return fmt.Errorf("-callback-offer-after %v: want 1s or more", c.offerAfter)
	case c.retryAfter < time.Second:
		return fmt.Errorf("-callback-retry-after %v: want 1s or more", c.retryAfter)
	case c.ring < time.Second || c.ring > 5*time.Minute:
		return fmt.Errorf("-callback-ring-timeout %v: want 1s to 5m", c.ring)
	case c.ttl < time.Minute || c.ttl > 7*24*time.Hour:
		return fmt.Errorf("-callback-ttl %v: want 1m to 168h", c.ttl)
	case !routing.ValidNumber(c.from) && !validUser(c.from):
		return fmt.Errorf("-callback-from %q: want a number or a plain user name", c.from)
	}
	return nil
}

// parseTrunk reads sip:IP:PORT. A host name is refused: the gateway never
// resolves names (docs/sip-security.md).
func parseTrunk(uri string) (netip.AddrPort, error) {
	rest, ok := strings.CutPrefix(uri, "sip:")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("-trunk %q: want sip:IP:PORT", uri)
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("-trunk %q: want sip:IP:PORT with an IP literal (names are not resolved): %w", uri, err)
	}
	if ap.Port() == 0 || ap.Addr().IsUnspecified() || ap.Addr().IsMulticast() {
		return netip.AddrPort{}, fmt.Errorf("-trunk %q: want a unicast address and a port", uri)
	}
	return ap, nil
}

func validUser(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// callbackConfig is the gateway's callback configuration.
func (o *options) callbackConfig(store gateway.CallbackStore) gateway.CallbackConfig {
	c := o.cb
	if !c.trunk.IsValid() {
		return gateway.CallbackConfig{}
	}
	return gateway.CallbackConfig{Store: store, Trunk: c.trunk, OfferAfter: c.offerAfter, Key: c.key[0],
		Retries: c.retries, RetryAfter: c.retryAfter, RingTimeout: c.ring, TTL: c.ttl, From: c.from}
}
