package routing

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkClaimRelease measures one Claim plus one Release against a real
// Redis over one client, 20 agents registered, and reports p50/p99 of the
// pair. See PERF.md for figures and the command.
func BenchmarkClaimRelease(b *testing.B) {
	s := newStore(b, newReal(b), Options{WrapUp: -1})
	ctx := context.Background()
	for i := range 20 {
		ext := fmt.Sprint(1001 + i)
		if err := s.SetBinding(ctx, ext, binding(ext), time.Hour); err != nil {
			b.Fatalf("SetBinding(%s) = %v", ext, err)
		}
	}
	lat := make([]time.Duration, 0, 4096)
	i := 0
	for b.Loop() {
		start := time.Now()
		c, err := s.Claim(ctx, "", fmt.Sprint("call-", i), "gw1")
		if err != nil {
			b.Fatalf("Claim() = %v", err)
		}
		if err := s.Release(ctx, c, Declined); err != nil {
			b.Fatalf("Release() = %v", err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkRecordCall measures the call-start lookup of the repeat-caller
// fast track (RecordCall) against a real Redis, and a claim that prefers
// an agent plus its release, and reports p50/p99 of each.
func BenchmarkRecordCall(b *testing.B) {
	s := newStore(b, newReal(b), Options{WrapUp: -1})
	ctx := context.Background()
	for i := range 20 {
		ext := fmt.Sprint(1001 + i)
		if err := s.SetBinding(ctx, ext, binding(ext), time.Hour); err != nil {
			b.Fatalf("SetBinding(%s) = %v", ext, err)
		}
	}
	rec := make([]time.Duration, 0, 4096)
	claim := make([]time.Duration, 0, 4096)
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := s.RecordCall(ctx, fmt.Sprint("h:", i%1000), fmt.Sprint("call-", i), 30*time.Minute); err != nil {
			b.Fatalf("RecordCall() = %v", err)
		}
		mid := time.Now()
		c, err := s.claim(ctx, "", "", fmt.Sprint("call-", i), "gw1", fmt.Sprint(1001+i%20))
		if err != nil {
			b.Fatalf("claim(prefer) = %v", err)
		}
		if err := s.Release(ctx, c, Abandoned); err != nil {
			b.Fatalf("Release() = %v", err)
		}
		rec = append(rec, mid.Sub(start))
		claim = append(claim, time.Since(mid))
		i++
	}
	for _, l := range []struct {
		name string
		d    []time.Duration
	}{{"record", rec}, {"claim-prefer", claim}} {
		slices.Sort(l.d)
		b.ReportMetric(float64(l.d[len(l.d)/2].Microseconds()), l.name+"-p50-µs")
		b.ReportMetric(float64(l.d[len(l.d)*99/100].Microseconds()), l.name+"-p99-µs")
	}
}
