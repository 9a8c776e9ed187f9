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
