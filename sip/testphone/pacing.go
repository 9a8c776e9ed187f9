package testphone

import (
	"math"
	"slices"
	"time"
)

// Pacing is what one call measured of the far end's RTP timing.
type Pacing struct {
	Lateness []time.Duration // one per audio packet, against the RTP clock
	Gaps     []time.Duration // inter-arrival, one per audio packet after the first of a segment
	Received int
	Expected int // from the sequence numbers: Expected-Received were lost
}

// resyncJump is how far the RTP clock may disagree with the arrival clock
// before we treat the stream as restarted (new timestamp base) rather than
// late: a real 1 s stall would also show up as loss and as the max gap.
const resyncJump = time.Second

// AnalyzePacing measures one call's received audio packets of payload type pt.
//
// Lateness follows the 20 ms schedule implied by the RTP timestamps
// (RFC 3550 §5.1): offset = arrival − ts/8000, and lateness = offset −
// (smallest offset of the segment). That is arrival − (first_arrival +
// (ts−ts0)/8000) when the first packet was on time, and stays correct when
// it was not. A new SSRC or a timestamp jump starts a new segment.
func AnalyzePacing(pkts []PacketInfo, pt uint8) Pacing {
	var st Pacing
	var seg []PacketInfo
	flush := func() {
		if len(seg) == 0 {
			return
		}
		st.add(seg)
		seg = seg[:0]
	}
	for _, p := range pkts {
		if p.PT != pt {
			continue
		}
		if n := len(seg); n > 0 {
			prev := seg[n-1]
			rtpDelta := time.Duration(int32(p.Timestamp-prev.Timestamp)) * time.Second / SampleRate
			wall := p.Arrival.Sub(prev.Arrival)
			if p.SSRC != prev.SSRC || (rtpDelta-wall).Abs() > resyncJump {
				flush()
			}
		}
		seg = append(seg, p)
	}
	flush()
	return st
}

// add measures one continuous segment.
func (st *Pacing) add(seg []PacketInfo) {
	var ts int64  // extended timestamp relative to the first packet
	var seq int64 // extended sequence number relative to the first packet
	minSeq, maxSeq := int64(0), int64(0)
	offsets := make([]time.Duration, len(seg))
	for i, p := range seg {
		if i > 0 {
			prev := seg[i-1]
			ts += int64(int32(p.Timestamp - prev.Timestamp))
			seq += int64(int16(p.Seq - prev.Seq))
			st.Gaps = append(st.Gaps, p.Arrival.Sub(prev.Arrival))
		}
		minSeq, maxSeq = min(minSeq, seq), max(maxSeq, seq)
		offsets[i] = p.Arrival.Sub(seg[0].Arrival) - time.Duration(ts)*time.Second/SampleRate
	}
	base := slices.Min(offsets)
	for _, o := range offsets {
		st.Lateness = append(st.Lateness, o-base)
	}
	st.Received += len(seg)
	st.Expected += int(maxSeq-minSeq) + 1
}

// Percentile returns the p-th percentile (0..100) of sorted v, nearest rank.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}
