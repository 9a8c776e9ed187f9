package gateway

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip"
)

// A callback is offered only with a trunk and a store, to a caller whose
// From is a plain number (never a URI or a name someone typed), once the
// wait so far or the estimate reaches OfferAfter.
func TestOffersCallback(t *testing.T) {
	store := &routing.Store{}
	trunk := netip.MustParseAddrPort("127.0.0.1:5080")
	on := NewFallback(FallbackConfig{Callback: CallbackConfig{Store: store, Trunk: trunk, OfferAfter: time.Minute}})
	noTrunk := NewFallback(FallbackConfig{Callback: CallbackConfig{Store: store}})
	leg := func(user string) *Leg { return &Leg{Caller: sip.Party{User: user}} }
	tests := []struct {
		name             string
		f                *Fallback
		user             string
		waited, estimate time.Duration
		want             bool
	}{
		{"waited long", on, "+15550100", time.Minute, 0, true},
		{"estimate long", on, "5550100", 5 * time.Second, 2 * time.Minute, true},
		{"short wait", on, "5550100", 30 * time.Second, 30 * time.Second, false},
		{"anonymous", on, "anonymous", time.Hour, 0, false},
		{"uri-ish user", on, "5550100@evil", time.Hour, 0, false},
		{"no trunk", noTrunk, "5550100", time.Hour, 0, false},
	}
	for _, tt := range tests {
		if got := tt.f.offersCallback(leg(tt.user), tt.waited, tt.estimate); got != tt.want {
			t.Errorf("%s: offersCallback = %v, want %v", tt.name, got, tt.want)
		}
	}
}
