package media

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/ivrgw/ivrgw/media/dtmf"
	"github.com/ivrgw/ivrgw/media/g711"
)

const (
	rtpHeaderLen = 12
	// maxPacket is the largest datagram read; RTP over UDP on Ethernet fits
	// in 1500 bytes, anything longer is not ours.
	maxPacket = 1500
	// maxPCM bounds the audio decoded for in-band detection per packet
	// (60 ms of 8 kHz; longer payloads are checked in their first 60 ms).
	maxPCM = 480
	// relatchSilence and relatchSeqWindow bound how the latch follows a
	// NAT rebinding (see latch): the new source must carry the latched
	// SSRC with sequence numbers that continue the latched ones by 1 to
	// relatchSeqWindow, and it takes over only once the latched source has
	// been silent for relatchSilence. An off-path attacker knows neither
	// the SSRC nor the sequence number; an on-path one can only take over
	// a source that has already stopped.
	relatchSilence   = time.Second
	relatchSeqWindow = 16
	// DefaultUnlatchedSend is how long a stream sends to the signalled
	// address before any packet has come back from the peer (see
	// StreamConfig.UnlatchedSend).
	DefaultUnlatchedSend = 2 * time.Second
	// eventQueue is the buffer of Events(); a caller cannot type faster.
	eventQueue = 16
	// payloadCN is comfort noise (RFC 3389): valid RTP, no audio to analyse.
	payloadCN = 13
	// dynamicPT is the first dynamic payload type (RFC 3551 §3: 96-127).
	dynamicPT = 96
)

// StreamConfig describes one call leg's media as negotiated by SDP.
type StreamConfig struct {
	Conn *net.UDPConn // bound by PortPool.Listen; the stream never closes it
	// Mux, instead of Conn, is a socket shared with other streams (see
	// Mux): Run then only attaches the stream to it until ctx ends, and
	// the Pacer worker the Mux belongs to reads and sends for it.
	Mux    *Mux
	Remote netip.AddrPort // where SDP says to send; replaced by the latched source
	// PayloadType is the audio's RTP payload type on the wire: 0 (PCMU),
	// 8 (PCMA), or a dynamic number the SDP mapped to one of them (RFC
	// 3551 §3), whose law Codec then says.
	PayloadType uint8
	Codec       uint8 // 0 PCMU or 8 PCMA when PayloadType is dynamic; static ones say their own law
	EventPT     uint8 // telephone-event payload type, if HasEvents
	HasEvents   bool
	Inband      bool // run the in-band DTMF detector on received audio
	// UnlatchedSend bounds what is sent to Remote before the first valid
	// packet has come from the peer: about this long of packets (counted,
	// 50 a second), then nothing until the peer speaks. Zero means
	// DefaultUnlatchedSend; negative sends nothing before the peer does.
	// Without the bound an INVITE whose SDP names a victim turns the
	// gateway into an amplifier for as long as the no-RTP timeout.
	UnlatchedSend time.Duration
	Logger        *slog.Logger
	SRTP          *SRTP // SDES-SRTP keys of this leg (srtp.go); nil for plain RTP
}

// Stats are a stream's counters, for the end-of-call log line and metrics.
type Stats struct {
	PacketsIn, BytesIn   uint64 // valid RTP; bytes are whole datagrams
	Garbage              uint64 // datagrams that were not RTP of this stream
	PacketsOut, BytesOut uint64
	SendErrors           uint64
	LateTicks            uint64 // packets the pacer sent late to catch up
	Resyncs              uint64 // times the pacer gave up catching up (> 200 ms behind)
	Events               uint64 // digits delivered on Events()
	EventsDropped        uint64 // digits lost because Events() was full
	Relayed              uint64 // packets forwarded out of this stream from its bridge peer
	Relatches            uint64 // times the send address followed a new source
	EventsSent           uint64 // key presses sent by SendEvent
	// ForeignDropped counts valid RTP from a source other than the latched
	// one, dropped unseen: no audio, no digits, no relay, no liveness.
	ForeignDropped uint64
	// UnlatchedSuppressed counts packets not sent because the peer had
	// never sent one and the UnlatchedSend budget was spent.
	UnlatchedSuppressed uint64
	// Lost is the cumulative number of packets lost from the peer (RFC 3550
	// §6.4.1 and A.3: expected from the sequence numbers minus received),
	// summed over its SSRCs; duplicates can make a source's figure low,
	// never negative.
	Lost uint64
}

type counters struct {
	packetsIn, bytesIn, garbage                  atomic.Uint64
	packetsOut, bytesOut, sendErrors             atomic.Uint64
	lateTicks, resyncs, events, dropped, relayed atomic.Uint64
	relatches, eventsSent, foreign, suppressed   atomic.Uint64
	lost                                         atomic.Uint64
}

// Stream is the RTP of one call leg: Run reads, the Pacer (or a bridge
// peer's relay) sends.
type Stream struct {
	conn      *net.UDPConn // nil when mux is set
	mux       *Mux
	mx        muxKeys // guarded by mux.mu
	pt        uint8   // audio payload type on the wire
	law       uint8   // its G.711 law: g711.PayloadPCMU or g711.PayloadPCMA
	eventPT   uint8
	hasEvents bool
	log       *slog.Logger
	events    chan dtmf.Event
	silence   []byte
	srtp      *SRTP // nil: plain RTP, and the per-packet path is untouched

	lastRecv   atomic.Int64 // unix nanoseconds of the last valid packet
	inbandOff  atomic.Bool  // SetInband(false): the in-band detector is paused
	peer       atomic.Pointer[Stream]
	resetLatch atomic.Bool // SetRemote was called: Run re-reads tx.signalled and latches afresh
	stats      counters
	// unlatchedBudget is the number of packets UnlatchedSend allows.
	unlatchedBudget int

	rx rxState // owned by the goroutine in Run

	mu sync.Mutex // guards tx
	tx txState

	// eventSlot lets one SendEvent run at a time. It is held for a whole
	// event, which takes d + 100 ms, so it cannot be mu, which the pacer
	// and the relay take for every packet; a one-slot channel rather than a
	// sync.Mutex so that a caller waiting its turn can give up with its ctx.
	eventSlot chan struct{}

	pace paceState // owned by the Pacer
}

type rxState struct {
	buf       *[maxPacket]byte // Run's read buffer; a Mux reads into its own
	pkt       rtp.Packet
	latched   netip.AddrPort // the one source whose packets count; invalid until the first
	signalled netip.AddrPort // the SDP address, as of the last SetRemote
	lastAt    int64          // unix nanoseconds of the latched source's last packet
	ssrc      uint32         // SSRC of the latched source's last packet
	seq       uint16         // highest sequence number seen of ssrc from the latched source
	haveSSRC  bool
	cand      netip.AddrPort // a source continuing ssrc's sequence: a NAT rebinding, perhaps
	candSeq   uint16         // highest sequence number seen from cand
	loss      lossState
	det       dtmf.Detector4733
	inband    *dtmf.InbandDetector // nil when in-band detection is off
	inbandWas bool                 // the detector ran on the previous audio packet
	pcm       [maxPCM]int16
}

type txState struct {
	remote    netip.AddrPort
	signalled netip.AddrPort // what SetRemote (or the config) last said
	// latched: a valid packet has come from the peer, so remote is an
	// address that is talking to us. Until then at most unlatchedLeft
	// more packets go out.
	latched       bool
	unlatchedLeft int
	sending       bool
	marker        bool // the next packet starts a talkspurt (RFC 3550 §5.1, RFC 3551 §4.1)
	ssrc          uint32
	seq           uint16
	ts            uint32 // timestamp of the next paced packet
	play          *Playback
	pkt           rtp.Packet
	buf           [maxPacket]byte
	// Relay: incoming timestamps are moved into our space by a fixed
	// offset, fixed at the first packet of each incoming SSRC.
	relaySSRC uint32
	relayInit bool
	tsOffset  uint32
	xbuf      [maxPacket]byte
	evbuf     [4]byte // the telephone-event payload SendEvent is sending
	nextEvent uint32  // the earliest timestamp of SendEvent's next event
	ownEvent  bool    // SendEvent is sending an event: relayed events wait out
}

var (
	silenceULaw = silenceFrame(g711.SilenceULaw)
	silenceALaw = silenceFrame(g711.SilenceALaw)
)

func silenceFrame(b byte) []byte {
	f := make([]byte, FrameSamples)
	for i := range f {
		f[i] = b
	}
	return f
}

// NewStream prepares a stream; nothing is read until Run and nothing is sent
// until it is added to a Pacer. The law is PCMA for payload type 8, or a
// dynamic payload type with Codec 8, and PCMU otherwise.
func NewStream(cfg StreamConfig) *Stream {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Stream{
		conn:      cfg.Conn,
		mux:       cfg.Mux,
		pt:        cfg.PayloadType,
		law:       g711.PayloadPCMU,
		eventPT:   cfg.EventPT,
		hasEvents: cfg.HasEvents,
		log:       log,
		events:    make(chan dtmf.Event, eventQueue),
		eventSlot: make(chan struct{}, 1),
		silence:   silenceULaw,
		srtp:      cfg.SRTP,
	}
	law := cfg.PayloadType
	if law >= dynamicPT {
		law = cfg.Codec
	}
	if law == g711.PayloadPCMA {
		s.law, s.silence = g711.PayloadPCMA, silenceALaw
	}
	if s.pt != g711.PayloadPCMA && s.pt < dynamicPT {
		s.pt = g711.PayloadPCMU // anything else static is not ours to send
	}
	if cfg.Mux == nil {
		s.rx.buf = new([maxPacket]byte)
	}
	if cfg.Inband {
		s.rx.inband = dtmf.NewInband()
	}
	switch d := cfg.UnlatchedSend; {
	case d == 0:
		s.unlatchedBudget = int(DefaultUnlatchedSend / FrameDuration)
	case d > 0:
		s.unlatchedBudget = max(1, int(d/FrameDuration))
	}
	s.rx.signalled = cfg.Remote
	// RFC 3550 §5.1: SSRC, sequence number and timestamp start random.
	s.tx = txState{
		remote:        cfg.Remote,
		signalled:     cfg.Remote,
		unlatchedLeft: s.unlatchedBudget,
		sending:       true,
		marker:        true,
		ssrc:          rand.Uint32(),
		seq:           uint16(rand.Uint32()),
		ts:            rand.Uint32(),
	}
	s.tx.nextEvent = s.tx.ts
	s.tx.pkt.Header = rtp.Header{Version: 2, PayloadType: s.pt, SSRC: s.tx.ssrc}
	return s
}

// PayloadType is the stream's audio payload type on the wire: 0, 8, or
// the dynamic number the SDP gave its law.
func (s *Stream) PayloadType() uint8 { return s.pt }

// Codec is the stream's G.711 law: g711.PayloadPCMU (0) or
// g711.PayloadPCMA (8), whatever number it has on the wire.
func (s *Stream) Codec() uint8 { return s.law }

// HasEvents reports whether the far end negotiated telephone-event (RFC
// 4733), so key presses can be sent to it in RTP.
func (s *Stream) HasEvents() bool { return s.hasEvents }

// LocalAddr is the address the stream receives on.
func (s *Stream) LocalAddr() netip.AddrPort {
	if s.mux != nil {
		return s.mux.LocalAddr()
	}
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// signalledRemote is the address signalling last gave.
func (s *Stream) signalledRemote() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx.signalled
}

// Events delivers the digits found in received RTP (RFC 4733 and in-band).
// The channel is never closed; select on the call's context as well.
func (s *Stream) Events() <-chan dtmf.Event { return s.events }

// LastReceived is when the last valid RTP packet arrived, zero if none has;
// the gateway hangs up a call whose peer went silent (no-RTP timeout).
func (s *Stream) LastReceived() time.Time {
	n := s.lastRecv.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Remote is where the stream currently sends.
func (s *Stream) Remote() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx.remote
}

// SetRemote points the stream at a new address (a re-INVITE moved the
// media) and forgets the latched source, so the next valid packet latches
// again, as at the start of the call: this is how signalling moves the
// latch (see latch for the only other ways). Until a packet comes back, the
// new address gets at most the UnlatchedSend budget of packets.
func (s *Stream) SetRemote(ap netip.AddrPort) {
	s.mu.Lock()
	s.tx.remote, s.tx.signalled = ap, ap
	s.tx.latched, s.tx.unlatchedLeft = false, s.unlatchedBudget
	s.mu.Unlock()
	s.resetLatch.Store(true)
	if s.mux != nil {
		s.mux.resignal(s, ap)
	}
}

// SetSending turns sending on or off. Off is hold: the peer's offer was
// sendonly or inactive, or its address 0.0.0.0 (RFC 3264 §8.4), and we must
// send nothing. Time keeps running while off: on resume the timestamp has
// moved on, the sequence number has not, and the marker bit is set.
func (s *Stream) SetSending(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on && !s.tx.sending {
		s.tx.marker = true
	}
	s.tx.sending = on
}

// Stats returns a snapshot of the counters.
func (s *Stream) Stats() Stats {
	c := &s.stats
	return Stats{
		PacketsIn: c.packetsIn.Load(), BytesIn: c.bytesIn.Load(), Garbage: c.garbage.Load(),
		PacketsOut: c.packetsOut.Load(), BytesOut: c.bytesOut.Load(), SendErrors: c.sendErrors.Load(),
		LateTicks: c.lateTicks.Load(), Resyncs: c.resyncs.Load(),
		Events: c.events.Load(), EventsDropped: c.dropped.Load(),
		Relayed: c.relayed.Load(), Relatches: c.relatches.Load(),
		EventsSent: c.eventsSent.Load(), ForeignDropped: c.foreign.Load(),
		UnlatchedSuppressed: c.suppressed.Load(), Lost: c.lost.Load(),
	}
}

// aLongTimeAgo is a read deadline in the past: it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// Run reads and handles the stream's packets until ctx ends, then returns
// nil; it returns an error only if reading fails otherwise. Run does not
// close the socket.
func (s *Stream) Run(ctx context.Context) error {
	if s.mux != nil {
		s.mux.attach(s)
		defer s.mux.detach(s)
		<-ctx.Done()
		return nil
	}
	if err := s.conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear rtp read deadline: %w", err)
	}
	// A read deadline in the past is the only way to wake a blocked
	// ReadFrom without closing a socket the stream does not own.
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetReadDeadline(aLongTimeAgo) })
	defer stop()
	for {
		n, src, err := s.conn.ReadFromUDPAddrPort(s.rx.buf[:])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read rtp on %s: %w", s.conn.LocalAddr(), err)
		}
		s.handlePacket(s.rx.buf[:n], src)
	}
}

// handlePacket is the per-packet receive path; it must not allocate.
func (s *Stream) handlePacket(b []byte, src netip.AddrPort) {
	rx := &s.rx
	// RFC 3550 §5.1: version 2 and a 12-byte fixed header, checked before
	// Unmarshal so garbage costs no error value.
	if len(b) < rtpHeaderLen || b[0]>>6 != 2 || rx.pkt.Unmarshal(b) != nil {
		s.stats.garbage.Add(1)
		return
	}
	if s.srtp != nil {
		// RFC 3711 §3.3: authenticate and decrypt before anything else
		// looks at the packet; what fails is not from our peer.
		if b = s.srtp.unprotectRx(b); b == nil || rx.pkt.Unmarshal(b) != nil {
			s.stats.garbage.Add(1)
			return
		}
	}
	p := &rx.pkt
	isAudio := p.PayloadType == s.pt
	isEvent := s.hasEvents && p.PayloadType == s.eventPT
	if !isAudio && !isEvent && p.PayloadType != payloadCN {
		s.stats.garbage.Add(1) // a payload type we did not negotiate (RFC 3550 §5.1)
		return
	}
	now := time.Now().UnixNano()
	if !s.latch(src, p, now) {
		// Not the peer's: no audio, no digits (RFC 4733 or in-band), no
		// relay to a bridge, and it does not keep the call alive.
		s.stats.foreign.Add(1)
		return
	}
	s.stats.packetsIn.Add(1)
	s.stats.bytesIn.Add(uint64(len(b)))
	s.lastRecv.Store(now)

	if !rx.haveSSRC || p.SSRC != rx.ssrc {
		// A new source: its timestamps and tones have nothing to do with
		// the old one's (RFC 3550 §8.2).
		rx.ssrc, rx.haveSSRC = p.SSRC, true
		if s.mux != nil {
			s.mux.source(s, p.SSRC)
		}
		rx.loss.restart(p.SequenceNumber)
		rx.det.Reset()
		if rx.inband != nil {
			rx.inband.Reset()
		}
	}
	s.stats.lost.Store(rx.loss.add(p.SequenceNumber))
	switch {
	case isEvent:
		if ev, ok := rx.det.Feed(p.Timestamp, p.Marker, p.Payload); ok {
			s.deliver(ev)
		}
	case isAudio && rx.inband != nil && !s.inbandOff.Load():
		if !rx.inbandWas {
			rx.inband.Reset() // a tone from before the pause is not this one
			rx.inbandWas = true
		}
		pcm := g711.Decode(rx.pcm[:], p.Payload[:min(len(p.Payload), maxPCM)], s.law)
		for len(pcm) > 0 {
			n := min(len(pcm), FrameSamples)
			if d, ok := rx.inband.Process(pcm[:n]); ok {
				s.deliver(dtmf.Event{Digit: d, Source: dtmf.Inband})
			}
			pcm = pcm[n:]
		}
	}
	if isAudio && s.inbandOff.Load() {
		rx.inbandWas = false
	}
	if peer := s.peer.Load(); peer != nil {
		peer.relay(s, p, isEvent)
	}
}

// SetInband pauses (false) or resumes (true) the in-band DTMF detector of
// a stream made with StreamConfig.Inband; it does nothing for one made
// without. A paused detector costs nothing per packet: while a caller is
// bridged its tones travel in the audio, and a leg that negotiated RFC 4733
// needs none (see the gateway's -inband-dtmf).
func (s *Stream) SetInband(on bool) { s.inbandOff.Store(!on) }

// latch decides whether a valid packet from src is the peer's, and keeps
// the send address on the peer (symmetric RTP, RFC 4961): we send to where
// the peer's RTP really comes from, which behind a NAT is not what its SDP
// says. It reports whether the packet is to be used.
//
// The first valid source latches, and only these move the latch later:
//   - SetRemote (a re-INVITE): the next valid source latches afresh;
//   - a packet from the signalled address itself, when the latch is on some
//     other source: the SDP address is what signalling vouched for, so a
//     stranger who got in first (a spray of the port range at call setup)
//     loses the stream as soon as the real peer speaks from it;
//   - a NAT rebinding: a new source that carries the latched SSRC with
//     sequence numbers continuing the latched ones (by 1 to
//     relatchSeqWindow), once the latched source has been silent for
//     relatchSilence. Its packets are dropped until then.
//
// Everything else is foreign (docs/media-security.md). Before this rule
// three packets in a row from any address moved the latch, and whoever
// sent them got the caller's audio and could press its keys.
func (s *Stream) latch(src netip.AddrPort, p *rtp.Packet, now int64) bool {
	rx := &s.rx
	if s.resetLatch.Load() && s.resetLatch.Swap(false) {
		s.mu.Lock()
		rx.signalled = s.tx.signalled
		s.mu.Unlock()
		rx.latched, rx.cand = netip.AddrPort{}, netip.AddrPort{}
	}
	switch {
	case src == rx.latched:
	case !rx.latched.IsValid(),
		src == rx.signalled && rx.signalled.Port() != 0 && !rx.signalled.Addr().IsUnspecified():
		s.moveLatch(src)
	case rx.haveSSRC && p.SSRC == rx.ssrc && s.rebinding(src, p.SequenceNumber, now):
		s.moveLatch(src)
	default:
		return false
	}
	if !rx.haveSSRC || p.SSRC != rx.ssrc || int16(p.SequenceNumber-rx.seq) > 0 {
		rx.seq = p.SequenceNumber
	}
	rx.lastAt = now
	return true
}

// rebinding reports whether a packet of the latched SSRC from src, a
// source other than the latched one, completes a NAT rebinding (see
// latch); a packet that continues the sequence but comes too soon makes
// src the candidate, so the sequence can go on from there.
func (s *Stream) rebinding(src netip.AddrPort, seq uint16, now int64) bool {
	rx := &s.rx
	ref := rx.seq
	if src == rx.cand {
		ref = rx.candSeq
	}
	if d := seq - ref; d == 0 || d > relatchSeqWindow {
		return false
	}
	rx.cand, rx.candSeq = src, seq
	return time.Duration(now-rx.lastAt) >= relatchSilence
}

// moveLatch makes src the latched source and the send address.
func (s *Stream) moveLatch(src netip.AddrPort) {
	rx := &s.rx
	rx.latched, rx.cand = src, netip.AddrPort{}
	s.mu.Lock()
	changed := s.tx.remote != src
	s.tx.remote, s.tx.latched = src, true
	s.mu.Unlock()
	if s.mux != nil {
		s.mux.latched(s, src)
	}
	if changed {
		s.stats.relatches.Add(1)
		s.log.Debug("rtp source latched", "remote", src)
	}
}

// deliver hands a digit to Events() without ever blocking the reader.
func (s *Stream) deliver(ev dtmf.Event) {
	select {
	case s.events <- ev:
		s.stats.events.Add(1)
	default:
		s.stats.dropped.Add(1)
	}
}

// canSend reports whether there is anywhere to send, and whether we may
// send there yet: not past the UnlatchedSend budget to an address that has
// never sent us a packet. Called with mu held.
func (s *Stream) canSend() bool {
	r := s.tx.remote
	if !s.tx.sending || !r.IsValid() || r.Port() == 0 || r.Addr().IsUnspecified() {
		return false
	}
	if !s.tx.latched && s.tx.unlatchedLeft <= 0 {
		s.stats.suppressed.Add(1)
		return false
	}
	return true
}

// tick sends the stream's next 20 ms packet: the next frame of the current
// playback or silence, which keeps NAT bindings and the far jitter buffer
// alive. Called by the Pacer; a bridged stream sends nothing here, its
// peer's relay does.
func (s *Stream) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peer.Load() != nil {
		return
	}
	frame := s.nextFrame()
	if s.canSend() {
		s.write(s.pt, s.tx.ts, false, frame)
	}
	// The timestamp is the sampling clock (RFC 3550 §5.1): it advances
	// whether or not the packet went out; the sequence number does not.
	s.tx.ts += FrameSamples
}

// skip accounts for frames the pacer chose not to send (resynchronising
// after a long stall): the clock moves on, the next packet is marked.
func (s *Stream) skip(frames int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tx.ts += uint32(frames) * FrameSamples
	s.tx.marker = true
}

// write sends one packet of the stream's media (audio or relayed packets):
// a pending talkspurt marker (tx.marker) goes on it. mu held.
func (s *Stream) write(pt uint8, ts uint32, marker bool, payload []byte) {
	if s.writePacket(pt, ts, marker || s.tx.marker, payload) {
		s.tx.marker = false
	}
}

// writePacket marshals one packet into the reused buffer and sends it with
// exactly the marker bit given. It reports whether the packet took a
// sequence number (it did unless it failed to marshal). mu held.
//
// SendEvent calls it directly: the marker of a telephone-event packet means
// "new event" (RFC 4733 §2.2.2), so an update must not pick up a pending
// talkspurt marker, and an event must not use up the one that the next
// audio packet needs.
func (s *Stream) writePacket(pt uint8, ts uint32, marker bool, payload []byte) bool {
	tx := &s.tx
	h := &tx.pkt.Header
	h.PayloadType = pt
	h.SequenceNumber = tx.seq
	h.Timestamp = ts
	h.Marker = marker
	tx.pkt.Payload = payload
	n, err := tx.pkt.MarshalTo(tx.buf[:])
	tx.pkt.Payload = nil // do not keep a peer's read buffer alive
	if err != nil {
		s.stats.sendErrors.Add(1)
		return false
	}
	tx.seq++
	if !tx.latched {
		tx.unlatchedLeft--
	}
	out := tx.buf[:n]
	if s.srtp != nil {
		if out = s.srtp.protectTx(out); out == nil {
			s.stats.sendErrors.Add(1)
			return true
		}
		n = len(out)
	}
	if s.mux != nil {
		// Queued for the pacer's next sendmmsg, within a millisecond;
		// what the kernel refuses is counted on the Mux.
		if !s.mux.enqueue(out, tx.remote) {
			s.stats.sendErrors.Add(1)
			return true
		}
	} else if _, err := s.conn.WriteToUDPAddrPort(out, tx.remote); err != nil {
		// Counted, not logged: a peer that went away (ICMP unreachable)
		// would otherwise log fifty lines a second.
		s.stats.sendErrors.Add(1)
		return true
	}
	s.stats.packetsOut.Add(1)
	s.stats.bytesOut.Add(uint64(n))
	return true
}
