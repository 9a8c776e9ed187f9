package routing

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// simulateWait runs a first-come-first-served queue many times: onDuty
// agents, all busy at the start with what is left of their calls
// (residual), and callers at positions 1..maxPos. It returns, per
// position, the mean wait until an agent takes that caller.
func simulateWait(onDuty, maxPos, trials int, handle, residual func() time.Duration) []time.Duration {
	sum := make([]time.Duration, maxPos+1)
	free := make([]time.Duration, onDuty) // when each agent is next free
	for range trials {
		for i := range free {
			free[i] = residual()
		}
		for pos := 1; pos <= maxPos; pos++ {
			i := slices.Index(free, slices.Min(free))
			sum[pos] += free[i]
			free[i] += handle() // the agent takes this caller
		}
	}
	for pos := range sum {
		sum[pos] /= time.Duration(trials)
	}
	return sum
}

// TestEstimateAgainstSimulatedQueue: the wait announced to a caller is
// within 5% of the simulated mean wait when handle times are exponential
// (a common model of call lengths; memoryless, so what is left of a call
// in progress has the same law), and never short when every call is about
// as long (90-110% of the mean; a call in progress is then a uniform part
// of the way through, so half a call is left on average and the estimate
// errs long: twice the wait for the next caller with one agent, 13% over
// with eight; the ratios are logged).
func TestEstimateAgainstSimulatedQueue(t *testing.T) {
	const mean = 120 * time.Second
	rng := rand.New(rand.NewPCG(1, 2))
	exp := func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(mean)) }
	steady := func() time.Duration { return time.Duration((0.9 + 0.2*rng.Float64()) * float64(mean)) }
	for _, onDuty := range []int{1, 3, 8} {
		sim := simulateWait(onDuty, 10, 20000, exp, exp)
		for pos := 1; pos <= 10; pos++ {
			est := estimateWait(mean, pos, onDuty)
			if r := float64(est) / float64(sim[pos]); r < 0.95 || r > 1.05 {
				t.Errorf("exponential, %d agents, position %d: estimate %v, simulated %v (ratio %.3f), want within 5%%",
					onDuty, pos, est.Round(time.Second), sim[pos].Round(time.Second), r)
			}
		}
		sim = simulateWait(onDuty, 10, 20000, steady, func() time.Duration { return time.Duration(rng.Float64() * float64(steady())) })
		for pos := 1; pos <= 10; pos++ {
			est := estimateWait(mean, pos, onDuty)
			r := float64(est) / float64(sim[pos])
			t.Logf("steady, %d agents, position %d: estimate %v, simulated %v (ratio %.2f)", onDuty, pos, est.Round(time.Second), sim[pos].Round(time.Second), r)
			if r < 0.97 {
				t.Errorf("steady, %d agents, position %d: estimate %v, simulated %v (ratio %.3f), want never short",
					onDuty, pos, est.Round(time.Second), sim[pos].Round(time.Second), r)
			}
		}
	}
}
