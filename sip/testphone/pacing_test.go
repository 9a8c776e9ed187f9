package testphone

import (
	"testing"
	"time"
)

func TestAnalyzePacing(t *testing.T) {
	t0 := time.Now()
	pkt := func(i int, seq uint16, ssrc uint32, late time.Duration) PacketInfo {
		return PacketInfo{
			Arrival: t0.Add(time.Duration(i)*20*time.Millisecond + late), Seq: seq,
			Timestamp: 4294967000 + uint32(i)*160, SSRC: ssrc, PT: 0, // wraps the timestamp
		}
	}
	tests := []struct {
		name          string
		pkts          []PacketInfo
		wantLate      []time.Duration
		wantRecv, exp int
	}{
		{
			name:     "on time, wrapping seq and ts",
			pkts:     []PacketInfo{pkt(0, 65534, 1, 0), pkt(1, 65535, 1, 0), pkt(2, 0, 1, 0)},
			wantLate: []time.Duration{0, 0, 0}, wantRecv: 3, exp: 3,
		},
		{
			name:     "late first packet and a loss",
			pkts:     []PacketInfo{pkt(0, 10, 1, 5*time.Millisecond), pkt(1, 11, 1, 0), pkt(3, 13, 1, 2*time.Millisecond)},
			wantLate: []time.Duration{5 * time.Millisecond, 0, 2 * time.Millisecond}, wantRecv: 3, exp: 4,
		},
		{
			name:     "new ssrc starts a new schedule",
			pkts:     []PacketInfo{pkt(0, 10, 1, 0), pkt(1, 11, 1, 0), pkt(2, 500, 2, 7*time.Millisecond), pkt(3, 501, 2, 7*time.Millisecond)},
			wantLate: []time.Duration{0, 0, 0, 0}, wantRecv: 4, exp: 4,
		},
		{
			name:     "other payload types ignored",
			pkts:     []PacketInfo{pkt(0, 1, 1, 0), {PT: 101, Arrival: t0}, pkt(1, 2, 1, 3*time.Millisecond)},
			wantLate: []time.Duration{0, 3 * time.Millisecond}, wantRecv: 2, exp: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := AnalyzePacing(tt.pkts, 0)
			if !equalDurations(st.Lateness, tt.wantLate) || st.Received != tt.wantRecv || st.Expected != tt.exp {
				t.Errorf("AnalyzePacing() = lateness %v received %d expected %d, want %v %d %d",
					st.Lateness, st.Received, st.Expected, tt.wantLate, tt.wantRecv, tt.exp)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] - b[i]).Abs() > time.Microsecond {
			return false
		}
	}
	return true
}
