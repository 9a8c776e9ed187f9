package main

import (
	"math"
	"testing"
)

// FuzzParseRateLimit: an accepted limit is off or a finite positive rate
// with a burst of at least 1, and prints back to the same limit.
func FuzzParseRateLimit(f *testing.F) {
	for _, s := range []string{"20/40", "0.5/1", "5", "off", "OFF", " 3 / 4 ", "0/10", "x/1", "NaN/3", "1e6/1e6", "Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseRateLimit(s)
		if err != nil {
			return
		}
		if l.Rate == -1 {
			return // off
		}
		if !(l.Rate > 0) || math.IsInf(l.Rate, 0) || l.Burst < 1 {
			t.Fatalf("parseRateLimit(%q) = %+v: accepted a limit that is not one", s, l)
		}
		back, err := parseRateLimit(rateString(l))
		if err != nil || back != l {
			t.Fatalf("parseRateLimit(rateString(%+v)) = %+v, %v", l, back, err)
		}
	})
}

// FuzzParseAllow: every accepted prefix is valid and masked, so matching
// an address is well defined.
func FuzzParseAllow(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8,192.0.2.7", "::1", "127.0.0.1/32, ::ffff:10.1.2.3", "1.2.3.4/33", "", ",,", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := parseAllow(s)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p != p.Masked() {
				t.Fatalf("parseAllow(%q) gave %v: invalid or not masked", s, p)
			}
		}
	})
}
