package media

import "testing"

func TestLossState(t *testing.T) {
	tests := []struct {
		name string
		seqs []uint16
		ssrc []int // index at which a new source starts (restart)
		want uint64
	}{
		{"in order", []uint16{10, 11, 12, 13}, nil, 0},
		{"two gaps", []uint16{10, 12, 13, 16}, nil, 3},
		{"reordered", []uint16{10, 12, 11, 13}, nil, 0},
		{"duplicate does not go negative", []uint16{10, 11, 11, 12}, nil, 0},
		{"wrap", []uint16{65534, 65535, 1, 2}, nil, 1},
		{"far jump is not loss", []uint16{10, 11, 20000, 12}, nil, 0},
		{"new source keeps old loss", []uint16{10, 13, 500, 502}, []int{2}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l lossState
			var got uint64
			for i, seq := range tt.seqs {
				for _, at := range tt.ssrc {
					if at == i {
						l.restart(seq)
					}
				}
				got = l.add(seq)
			}
			if got != tt.want {
				t.Errorf("lost after %v = %d, want %d", tt.seqs, got, tt.want)
			}
		})
	}
}
