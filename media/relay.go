package media

import (
	"encoding/binary"

	"github.com/pion/rtp"

	"github.com/ivrgw/ivrgw/media/g711"
)

// Bridge joins two streams for a bridged call (the B2BUA case): from now on
// every packet received on one is forwarded at once out of the other,
// without pacing. Audio is transcoded when the legs use different laws;
// telephone events go out with the other leg's event payload type, or are
// dropped if it has none. Both streams stop their playback, and the pacer
// sends nothing for them while bridged. Digits are still detected and
// delivered on each stream's Events().
func Bridge(a, b *Stream) {
	a.StopPlayback()
	b.StopPlayback()
	for _, s := range [2]*Stream{a, b} {
		s.mu.Lock()
		s.tx.relayInit = false
		s.mu.Unlock()
	}
	a.peer.Store(b)
	b.peer.Store(a)
}

// Unbridge separates two bridged streams; the pacer takes over their
// sending again with a marked packet.
func Unbridge(a, b *Stream) {
	a.peer.CompareAndSwap(b, nil)
	b.peer.CompareAndSwap(a, nil)
	for _, s := range [2]*Stream{a, b} {
		s.mu.Lock()
		s.tx.marker = true
		s.mu.Unlock()
	}
}

// relay sends packet p, received on from, out of s. It runs on from's
// reader goroutine and must not allocate.
//
// The outgoing packet is in s's own RTP space (RFC 3550 §7.2, what a
// translator that is not a mixer does when it cannot keep the SSRC): s's
// SSRC, s's next sequence number, and the incoming timestamp moved by an
// offset fixed at the first packet of each incoming SSRC, so the sender's
// timing (silence gaps, event start times) survives.
func (s *Stream) relay(from *Stream, p *rtp.Packet, isEvent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.canSend() {
		return
	}
	tx := &s.tx
	var pt uint8
	payload := p.Payload
	switch {
	case isEvent:
		if !s.hasEvents || tx.ownEvent {
			return // none negotiated, or SendEvent's own event is on the wire
		}
		pt = s.eventPT
	case p.PayloadType == from.pt:
		pt = s.pt
		if from.law != s.law {
			if len(payload) > len(tx.xbuf) {
				return
			}
			payload = g711.Transcode(tx.xbuf[:], payload, from.law, s.law)
		}
	default:
		return // comfort noise: the other leg did not negotiate it
	}
	newSource := !tx.relayInit || p.SSRC != tx.relaySSRC
	if newSource {
		tx.relayInit, tx.relaySSRC = true, p.SSRC
		tx.tsOffset = tx.ts - p.Timestamp
	}
	ts := p.Timestamp + tx.tsOffset
	s.write(pt, ts, p.Marker || newSource, payload)
	if !isEvent {
		// Keep the paced clock just ahead of what was relayed, so that
		// after Unbridge the timestamps carry on forward.
		tx.ts = ts + uint32(len(payload))
	} else if len(payload) >= 4 {
		// A press relayed while no audio flows leaves tx.ts where it was;
		// SendEvent's next event must still start after this one, or the
		// two would share a timestamp, which is what tells events apart
		// (RFC 4733 §2.2.1).
		end := ts + uint32(binary.BigEndian.Uint16(payload[2:4])) + uint32(samples(eventPause))
		if int32(end-tx.nextEvent) > 0 {
			tx.nextEvent = end
		}
	}
	s.stats.relayed.Add(1)
}
