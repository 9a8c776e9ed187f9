// Package media moves a call's audio: RTP streams (RFC 3550) with G.711
// payloads, paced sending, symmetric RTP latching (one source per stream;
// packets from any other are dropped, docs/media-security.md), playback of prompt
// clips, DTMF detection on received packets (RFC 4733 events and in-band
// tones), key presses sent as RFC 4733 events, a UDP port pool, and a
// packet relay between two streams for a bridged call, and SDES-SRTP
// (RFC 3711) per leg when the SDP negotiated it (srtp.go).
//
// It knows nothing of SIP: the gateway hands it addresses and payload types
// negotiated elsewhere. It may import pion/rtp, pion/srtp, media/g711 and media/dtmf,
// and must not import sipgo, sip, sip/sdp or ivr.
//
// Threading (docs/design.md, "Media threading"): each Stream has one reader
// goroutine (Run) blocked in the kernel; sending is done by a Pacer with a
// fixed number of goroutines, never by a goroutine per stream. The
// per-packet paths (receive, send, relay) allocate nothing.
package media
