package media

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

const (
	// muxBatch is how many datagrams one recvmmsg or sendmmsg moves: at
	// 1,000 calls a shared socket gets about 50 packets a millisecond, so
	// one system call per millisecond drains it.
	muxBatch = 64
	// muxQueue is how many packets wait for a flush before the sender
	// flushes itself; a 1 ms slot of 1,000 streams on two sockets is 25.
	muxQueue = 128
	// muxBuffer is the kernel socket buffer asked for each way: a shared
	// socket carries many calls, and 4 MiB holds 80 ms of 1,000 calls.
	muxBuffer = 4 << 20
)

// A Mux is one UDP socket shared by many streams (the -rtp-shared mode of
// the gateway): packets are told apart by their source address, the one
// the SDP signalled or the one the stream latched to, and failing that by
// the SSRC of a stream's latched peer (a NAT rebinding, which the stream's
// own latch rules then judge). Nothing else reaches a stream; a packet no
// stream claims is counted and dropped.
//
// A Mux does no I/O of its own: the Pacer worker it is attached to drains
// it without blocking every millisecond (one recvmmsg for up to 64
// datagrams) and every worker flushes its queued sends in one sendmmsg at
// the end of each round. No goroutine wakes per packet, and a pacer slot's
// sends cost one system call, not one each (issue 9; docs/performance.md).
//
// The price is that a peer must send from the address its SDP gives: a
// phone behind a NAT whose SDP names its private address is never matched.
// The gateway gives such callers a port of their own.
type Mux struct {
	conn  *net.UDPConn
	local netip.AddrPort
	io    muxIO   // the system calls: mux_linux.go
	owner *worker // set by Pacer.AttachMux; drains the receive side

	mu     sync.Mutex
	byAddr map[netip.AddrPort]*Stream
	bySSRC map[uint32]*Stream
	n      atomic.Int32 // streams attached

	// owned by the draining worker
	rxStream [muxBatch]*Stream
	rxSrc    [muxBatch]netip.AddrPort

	txMu sync.Mutex // guards the send queue in io

	stats muxCounters
}

type muxCounters struct {
	received, unknown, conflicts  atomic.Uint64
	sent, sendErrors, dropped     atomic.Uint64
	recvCalls, sendCalls, flushes atomic.Uint64
}

// MuxStats are a shared socket's counters.
type MuxStats struct {
	Streams    int    // attached now
	Received   uint64 // datagrams read
	Unknown    uint64 // datagrams no stream claimed, dropped
	Conflicts  uint64 // streams whose signalled address another stream had taken
	Sent       uint64 // datagrams the kernel took
	SendErrors uint64 // datagrams the kernel refused
	Dropped    uint64 // datagrams not sent: no address of the socket's family
	RecvCalls  uint64 // recvmmsg system calls
	SendCalls  uint64 // sendmmsg system calls
}

// muxKeys is what a stream is known by in its Mux; guarded by Mux.mu.
type muxKeys struct {
	signalled, latched netip.AddrPort
	ssrc               uint32
	hasSSRC            bool
}

// NewMux binds a shared socket on addr (udp4 for an IPv4 address, udp6
// otherwise). Close it after the pacer it was attached to has stopped.
func NewMux(addr netip.AddrPort) (*Mux, error) {
	network := "udp6"
	if addr.Addr().Unmap().Is4() {
		network, addr = "udp4", netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("bind shared rtp socket %s: %w", addr, err)
	}
	// Best effort: the kernel caps these at net.core.[rw]mem_max.
	_ = conn.SetReadBuffer(muxBuffer)
	_ = conn.SetWriteBuffer(muxBuffer)
	m := &Mux{
		conn:   conn,
		local:  conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		byAddr: make(map[netip.AddrPort]*Stream),
		bySSRC: make(map[uint32]*Stream),
	}
	if err := m.io.init(conn, network == "udp4"); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("shared rtp socket %s: %w", addr, err)
	}
	return m, nil
}

// LocalAddr is the address the shared socket receives on.
func (m *Mux) LocalAddr() netip.AddrPort { return m.local }

// Port is the shared socket's port, for SDP.
func (m *Mux) Port() int { return int(m.local.Port()) }

// Len is the number of streams attached.
func (m *Mux) Len() int { return int(m.n.Load()) }

// Close closes the socket.
func (m *Mux) Close() error { return m.conn.Close() }

// Stats returns a snapshot of the counters.
func (m *Mux) Stats() MuxStats {
	c := &m.stats
	return MuxStats{
		Streams: m.Len(), Received: c.received.Load(), Unknown: c.unknown.Load(), Conflicts: c.conflicts.Load(),
		Sent: c.sent.Load(), SendErrors: c.sendErrors.Load(), Dropped: c.dropped.Load(),
		RecvCalls: c.recvCalls.Load(), SendCalls: c.sendCalls.Load(),
	}
}

// attach makes s reachable at its signalled address. An address another
// stream already has stays that stream's: a later INVITE naming someone
// else's media address must not take their audio.
func (m *Mux) attach(s *Stream) {
	sig := s.signalledRemote()
	m.mu.Lock()
	m.n.Add(1)
	m.claimLocked(s, sig, &s.mx.signalled)
	m.mu.Unlock()
	if w := m.owner; w != nil {
		w.p.polled.Add(1)
		select { // an idle worker sleeps until kicked: start draining now
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// detach forgets s; its packets are unknown from now on.
func (m *Mux) detach(s *Stream) {
	m.mu.Lock()
	m.n.Add(-1)
	m.dropKeysLocked(s)
	m.mu.Unlock()
	if w := m.owner; w != nil {
		w.p.polled.Add(-1)
	}
}

// claimLocked keys s by addr into *key if addr is usable and free. mu held.
func (m *Mux) claimLocked(s *Stream, addr netip.AddrPort, key *netip.AddrPort) {
	if !addr.IsValid() || addr.Port() == 0 || addr.Addr().IsUnspecified() {
		return
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	switch owner := m.byAddr[addr]; owner {
	case nil:
		m.byAddr[addr] = s
	case s:
	default:
		m.stats.conflicts.Add(1)
		return
	}
	*key = addr
}

func (m *Mux) dropKeysLocked(s *Stream) {
	for _, a := range [2]netip.AddrPort{s.mx.signalled, s.mx.latched} {
		if a.IsValid() && m.byAddr[a] == s {
			delete(m.byAddr, a)
		}
	}
	if s.mx.hasSSRC && m.bySSRC[s.mx.ssrc] == s {
		delete(m.bySSRC, s.mx.ssrc)
	}
	s.mx = muxKeys{}
}

// resignal follows SetRemote: s is known by its new signalled address
// only, until its next packet latches it again.
func (m *Mux) resignal(s *Stream, sig netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropKeysLocked(s)
	m.claimLocked(s, sig, &s.mx.signalled)
}

// latched follows Stream.moveLatch: s is known by src as well as by its
// signalled address, and no longer by the source it latched before.
func (m *Mux) latched(s *Stream, src netip.AddrPort) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := s.mx.latched; old.IsValid() && old != s.mx.signalled && m.byAddr[old] == s {
		delete(m.byAddr, old)
	}
	s.mx.latched = netip.AddrPort{}
	m.claimLocked(s, src, &s.mx.latched)
}

// source follows a new SSRC from the latched peer: a packet of it from an
// unknown address is offered to s, whose latch decides (a NAT rebinding).
func (m *Mux) source(s *Stream, ssrc uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.mx.hasSSRC && m.bySSRC[s.mx.ssrc] == s {
		delete(m.bySSRC, s.mx.ssrc)
	}
	s.mx.hasSSRC = false
	if _, taken := m.bySSRC[ssrc]; !taken {
		m.bySSRC[ssrc] = s
		s.mx.ssrc, s.mx.hasSSRC = ssrc, true
	}
}

// drain reads what is waiting, without blocking, and hands each datagram
// to its stream; called by the owning worker only. It stops when a read
// returns less than a full batch, or after a bounded number of batches so
// one flooded socket cannot hold its worker's sends back.
func (m *Mux) drain() {
	for range 8 {
		n := m.io.recv()
		m.stats.recvCalls.Add(1)
		if n <= 0 {
			return
		}
		m.stats.received.Add(uint64(n))
		m.mu.Lock()
		for i := range n {
			b := m.io.rxData(i)
			src := m.io.rxSource(i)
			s := m.byAddr[src]
			if s == nil && len(b) >= rtpHeaderLen {
				s = m.bySSRC[binary.BigEndian.Uint32(b[8:12])]
			}
			m.rxStream[i], m.rxSrc[i] = s, src
		}
		m.mu.Unlock()
		for i := range n {
			s := m.rxStream[i]
			m.rxStream[i] = nil
			if s == nil {
				m.stats.unknown.Add(1)
				continue
			}
			s.handlePacket(m.io.rxData(i), m.rxSrc[i])
		}
		if n < muxBatch {
			return
		}
	}
}

// enqueue queues one datagram for the next flush, copying b; a full queue
// is flushed at once by the sender.
func (m *Mux) enqueue(b []byte, to netip.AddrPort) bool {
	m.txMu.Lock()
	defer m.txMu.Unlock()
	if m.io.txLen() == muxQueue {
		m.flushLocked()
	}
	if !m.io.txAdd(b, to) {
		m.stats.dropped.Add(1)
		return false
	}
	return true
}

// flush sends what is queued, in as few sendmmsg calls as it takes.
func (m *Mux) flush() {
	m.txMu.Lock()
	defer m.txMu.Unlock()
	m.flushLocked()
}

func (m *Mux) flushLocked() {
	if m.io.txLen() == 0 {
		return
	}
	sent, failed, calls := m.io.send()
	m.stats.sent.Add(uint64(sent))
	m.stats.sendErrors.Add(uint64(failed))
	m.stats.sendCalls.Add(uint64(calls))
	m.stats.flushes.Add(1)
}
