// Package testphone is the project's scripted test phone: a SIP user agent
// client (on sipgo) with its own RTP endpoint, used by end-to-end tests
// against the real gateway binary and by cmd/ivrload.
//
// A Call places one INVITE, acknowledges the answer, then sends RTP every
// 20 ms from its own socket (silence, or whatever audio, tones or RFC 4733
// events were queued) and records every RTP packet it receives together
// with the decoded audio, so a test can ask "did the greeting play", "was a
// 1000 Hz tone heard", "how late was each packet".
//
// The phone is deliberately an independent implementation: it must not
// import the gateway's own SIP, SDP, media or menu packages (sip, sip/sdp,
// media, media/dtmf, ivr, gateway), so that a bug shared by both sides
// cannot hide itself. It uses only sipgo, pion/sdp, pion/rtp and media/g711.
package testphone
