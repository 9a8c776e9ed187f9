package main

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// RTP as the legs send it: PCMU (static payload type 0, RFC 3551 §6),
// 20 ms of 8 kHz audio per packet.
const (
	rtpHeaderLen = 12
	payloadLen   = 160
	packetLen    = rtpHeaderLen + payloadLen
	frameDur     = 20 * time.Millisecond
	// slots splits each 20 ms frame so that a pacer sends a twentieth of
	// its sessions every millisecond instead of all of them in one burst
	// (FACTS.md: spread slots keep p99 lateness near 2 ms).
	slots   = 20
	slotDur = frameDur / slots
	// perPacer is how many sessions one pacing goroutine sends for.
	perPacer = 256
	// maxRecv bounds a receiver's loop: far more than -duration's
	// packets at 50 a second.
	maxRecv = 1 << 24
)

// leg is one end of a relayed call: a loopback socket whose port went into
// the SDP, sending to the relay port rtpengine gave it.
type leg struct {
	conn  *net.UDPConn
	local netip.AddrPort
	relay netip.AddrPort // where this leg sends, and whence its media comes

	ssrc   uint32
	seq    uint16 // next sequence number; the pacer's alone
	tsBase uint32
	last   int64 // last frame sent, -1 before the first; the pacer's alone

	sent atomic.Uint64
	recv recvStats
}

func newLeg(ip netip.Addr) (*leg, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return nil, err
	}
	return &leg{
		conn:   conn,
		local:  conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		ssrc:   rand.Uint32(),
		seq:    uint16(rand.Uint32()),
		tsBase: rand.Uint32(),
		last:   -1,
	}, nil
}

// recvStats counts what a leg got from the relay. Only its receiver
// goroutine writes it; the counters others read while it runs are atomic.
type recvStats struct {
	packets atomic.Uint64
	// foreign: datagrams from any other address. On a shared box a
	// leg's ephemeral port may lately have been someone else's, whose
	// peer still sends to it; that says nothing about the relay.
	foreign atomic.Uint64
	bad     atomic.Uint64 // from the relay port, but not the peer's PCMU
	// Sequence tracking, after RFC 3550 Appendix A.1: ext is the extended
	// highest sequence number seen, base the first.
	started  bool
	base     int64
	ext      int64
	reorder  uint64
	wantSSRC uint32
}

// expected is how many packets the seq numbers say were sent between the
// first and the highest seen (RFC 3550 §6.4.1).
func (r *recvStats) expected() uint64 {
	if !r.started {
		return 0
	}
	return uint64(r.ext - r.base + 1)
}

// receive counts the relay's packets until the socket is closed or the
// deadline passes.
func (l *leg) receive(deadline time.Time) {
	buf := make([]byte, 2048)
	_ = l.conn.SetReadDeadline(deadline)
	r := &l.recv
	for range maxRecv {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if from.Addr().Unmap() != l.relay.Addr() || from.Port() != l.relay.Port() {
			r.foreign.Add(1)
			continue
		}
		if n != packetLen || buf[0]>>6 != 2 || buf[1]&0x7f != 0 ||
			binary.BigEndian.Uint32(buf[8:12]) != r.wantSSRC {
			r.bad.Add(1)
			continue
		}
		seq := binary.BigEndian.Uint16(buf[2:4])
		if !r.started {
			r.started, r.base, r.ext = true, int64(seq), int64(seq)
		} else if d := int64(int16(seq - uint16(r.ext))); d > 0 {
			r.ext += d
		} else {
			r.reorder++ // late or duplicate: counted, not in ext
		}
		r.packets.Add(1)
	}
}

// send writes frame's packet for l into buf.
func (l *leg) send(buf []byte, frame int64) error {
	buf[0] = 0x80 // V=2
	buf[1] = 0    // PT 0 PCMU
	if l.last < 0 {
		buf[1] |= 0x80 // marker: the start of a talkspurt (RFC 3551 §4.1)
	}
	binary.BigEndian.PutUint16(buf[2:4], l.seq)
	binary.BigEndian.PutUint32(buf[4:8], l.tsBase+uint32(frame)*payloadLen)
	binary.BigEndian.PutUint32(buf[8:12], l.ssrc)
	_, err := l.conn.WriteToUDPAddrPort(buf[:packetLen], l.relay)
	l.last = frame
	if err != nil {
		return err
	}
	l.seq++
	l.sent.Add(1)
	return nil
}

// pacer sends for up to perPacer sessions: it wakes every slotDur at an
// absolute deadline and sends one packet each way for the sessions in
// that slot. A pacer that wakes more than a frame late skips the missed
// frames (seq stays continuous, the timestamp jumps, as a real sender's
// would) rather than bursting them out.
type pacer struct {
	add     chan *session
	bySlot  [slots][]*session
	missed  atomic.Uint64 // frames skipped because the pacer was late
	sendErr atomic.Uint64
}

func newPacer() *pacer { return &pacer{add: make(chan *session, perPacer)} }

// run paces from start until stop or ctx ends.
func (p *pacer) run(ctx context.Context, start, stop time.Time) {
	buf := make([]byte, packetLen)
	for i := rtpHeaderLen; i < packetLen; i++ {
		buf[i] = 0xff // PCMU silence
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := int64(0)
	maxTicks := int64(stop.Sub(start)/slotDur) + 2
	for next < maxTicks {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if !time.Now().Before(stop) {
			return
		}
		p.drainAdds()
		cur := int64(time.Since(start) / slotDur)
		for ; next <= cur; next++ {
			slot, frame := next%slots, next/slots
			late := cur-next >= slots
			for _, s := range p.bySlot[slot] {
				if s.a.last >= frame {
					continue // joined after this frame's tick passed
				}
				if late {
					p.missed.Add(1)
					s.a.last, s.b.last = frame, frame
					continue
				}
				if s.a.send(buf, frame) != nil {
					p.sendErr.Add(1)
				}
				if s.b.send(buf, frame) != nil {
					p.sendErr.Add(1)
				}
			}
		}
		timer.Reset(time.Until(start.Add(time.Duration(next) * slotDur)))
	}
}

func (p *pacer) drainAdds() {
	for range perPacer {
		select {
		case s := <-p.add:
			p.bySlot[s.id%slots] = append(p.bySlot[s.id%slots], s)
		default:
			return
		}
	}
}
