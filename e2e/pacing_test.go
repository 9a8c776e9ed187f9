package e2e

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// TestPacing listens to one call for 10 s and checks the gateway's RTP
// against the RFC 3550 clock, on what the gateway's code decides rather than
// on what a shared CI host's scheduler allows:
//
//   - sequence numbers without a gap, timestamps +160, one SSRC;
//   - one packet per 20 ms of wall time over the whole run;
//   - no drift: the median lateness of the last 100 packets is that of the
//     first 100 (a pacer that sleeps 20 ms after each send drifts tens of ms
//     in 10 s; absolute deadlines do not);
//   - no bursts: inter-arrival gaps sit at 20 ms (median) and almost none
//     are back to back (a pacer that sends in batches fails both);
//   - median lateness under 5 ms.
//
// The tail (p99, max) depends on the host as much as on the gateway (on a
// busy CI neighbour it reached 16 ms once while the median was 0.7 ms), so
// it is measured, logged beside the same host's own timer lateness, and
// asserted only when IVRGW_PACING_P99 sets a bound (docs/performance.md):
//
//	IVRGW_PACING_P99=5ms go test -run TestPacing -v ./e2e
//
// It runs the production build: the race detector's slowdown is not what
// callers hear.
func TestPacing(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s listening test")
	}
	var p99Bound time.Duration
	if v := os.Getenv("IVRGW_PACING_P99"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("IVRGW_PACING_P99=%q: want a duration such as 5ms", v)
		}
		p99Bound = d
	}
	// A telephony host runs its media process above ordinary work
	// (Asterisk -p, FreeSWITCH -rp); as root, so does this test.
	var prefix []string
	if os.Geteuid() == 0 {
		prefix = []string{"nice", "-n", "-10"}
	}
	g := startCommand(t, prefix, plainBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := testphone.Dial(ctx, testphone.Config{Target: g.SIP, From: "pacing", To: "support"})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	// Skip the first second (call set-up), then listen for 10 s while a
	// reference timer in this process measures the host's own scheduling.
	time.Sleep(time.Second)
	from := len(c.Received())
	host := hostTimerLateness(10 * time.Second)
	pkts := c.Received()[from:]
	_ = c.Hangup(ctx)

	if len(pkts) < 400 {
		t.Fatalf("received %d packets in 10 s, want about 500", len(pkts))
	}
	for i := 1; i < len(pkts); i++ {
		p, prev := pkts[i], pkts[i-1]
		if p.Seq != prev.Seq+1 {
			t.Errorf("packet %d: seq %d after %d, want +1", i, p.Seq, prev.Seq)
		}
		if p.Timestamp-prev.Timestamp != 160 {
			t.Errorf("packet %d: timestamp +%d, want +160", i, p.Timestamp-prev.Timestamp)
		}
		if p.SSRC != prev.SSRC {
			t.Errorf("packet %d: SSRC changed %08x → %08x", i, prev.SSRC, p.SSRC)
		}
	}
	// One packet per 20 ms of the receiver's (kernel) clock over the run.
	span := pkts[len(pkts)-1].Arrival.Sub(pkts[0].Arrival)
	if want := int(span/(20*time.Millisecond)) + 1; len(pkts) < want-3 || len(pkts) > want+3 {
		t.Errorf("%d packets over %v of arrivals, want %d ± 3 (one per 20 ms)", len(pkts), span, want)
	}

	// Lateness against the schedule the RTP timestamps imply, from kernel
	// receive times (see testphone.AnalyzePacing), in arrival order.
	st := testphone.AnalyzePacing(pkts, c.Media().Codec)
	if st.Received != len(pkts) || st.Expected != len(pkts) || len(st.Lateness) != len(pkts) {
		t.Fatalf("AnalyzePacing: received %d of %d expected, %d lateness samples, want all %d in one segment",
			st.Received, st.Expected, len(st.Lateness), len(pkts))
	}
	head, tail := median(st.Lateness[:100]), median(st.Lateness[len(st.Lateness)-100:])
	if drift := tail - head; drift.Abs() > 5*time.Millisecond {
		t.Errorf("median lateness went from %v (first 100) to %v (last 100): %v of drift in 10 s, want under 5 ms", head, tail, drift)
	}
	gap := median(st.Gaps)
	if gap < 19*time.Millisecond || gap > 21*time.Millisecond {
		t.Errorf("median inter-arrival gap %v, want 20 ms ± 1", gap)
	}
	bunched := 0
	for _, g := range st.Gaps {
		if g < 5*time.Millisecond {
			bunched++
		}
	}
	if bunched*10 > len(st.Gaps) {
		t.Errorf("%d of %d packets arrived under 5 ms after the previous one, want under 10%% (bursts)", bunched, len(st.Gaps))
	}

	late := slices.Clone(st.Lateness)
	slices.Sort(late)
	p50, p99, worst := testphone.Percentile(late, 50), testphone.Percentile(late, 99), late[len(late)-1]
	slices.Sort(host)
	hp50, hp99 := testphone.Percentile(host, 50), testphone.Percentile(host, 99)
	t.Logf("gateway RTP over %d packets: lateness p50 %v, p99 %v, max %v; drift %v; median gap %v; %d bunched",
		len(late), p50, p99, worst, tail-head, gap, bunched)
	t.Logf("this host's own 20 ms timer over the same 10 s: lateness p50 %v, p99 %v, max %v",
		hp50, hp99, host[len(host)-1])
	if p50 > 5*time.Millisecond {
		t.Errorf("median lateness %v, want under 5 ms", p50)
	}
	if p99Bound > 0 && p99 > p99Bound {
		t.Errorf("lateness p99 %v, want under IVRGW_PACING_P99=%v", p99, p99Bound)
	}
}

// hostTimerLateness sleeps to absolute 20 ms deadlines for d and returns how
// late each wake-up was: the scheduling this host gave a plain Go timer
// during the measurement, so the gateway's tail can be read against it.
func hostTimerLateness(d time.Duration) []time.Duration {
	var out []time.Duration
	start := time.Now()
	for next := start.Add(20 * time.Millisecond); next.Sub(start) <= d; next = next.Add(20 * time.Millisecond) {
		time.Sleep(time.Until(next))
		out = append(out, time.Since(next))
	}
	return out
}

func median(v []time.Duration) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return testphone.Percentile(s, 50)
}
