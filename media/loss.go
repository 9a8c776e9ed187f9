package media

// lossState counts packets lost from one source the way RFC 3550 A.1 and
// A.3 do: the extended highest sequence number received, minus the first,
// plus one, is what was expected; what was received is counted. Packets
// lost by earlier SSRCs of the same stream are carried in prior.
type lossState struct {
	started  bool
	base     uint32 // extended sequence number of the first packet
	max      uint16 // highest sequence number seen
	cycles   uint32 // sequence number wrap-arounds, times 65536
	received uint32
	prior    uint64 // lost by earlier sources
}

// maxDropout is RFC 3550 A.1's bound on a forward jump still taken as
// loss; a larger one, or a step back, is a late, duplicate or restarted
// packet and does not move the highest sequence number.
const maxDropout = 3000

// restart begins a new source at seq, keeping what earlier ones lost.
func (l *lossState) restart(seq uint16) {
	if l.started {
		l.prior += l.current()
	}
	*l = lossState{started: true, base: uint32(seq), max: seq, prior: l.prior}
}

// add counts a received packet and returns the total lost so far.
func (l *lossState) add(seq uint16) uint64 {
	if !l.started {
		l.restart(seq)
	}
	if d := seq - l.max; d != 0 && d < maxDropout {
		if seq < l.max {
			l.cycles += 1 << 16
		}
		l.max = seq
	}
	l.received++
	return l.prior + l.current()
}

func (l *lossState) current() uint64 {
	expected := int64(l.cycles) + int64(l.max) - int64(l.base) + 1
	if lost := expected - int64(l.received); lost > 0 {
		return uint64(lost)
	}
	return 0
}
