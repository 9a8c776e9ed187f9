// Package agent is a scripted fake agent softphone for end-to-end tests of
// the human fallback (issue 3): it REGISTERs to the gateway with digest
// authentication (RFC 3261 §22.4, RFC 8760), keeps the registration fresh,
// answers, rejects or lets ring the gateway's INVITEs as told, sends a tone
// (or silence) as its voice, records what it hears, and dials feature codes
// (*1, *2) from its registered socket.
//
// Like the test phone it sits in, it is an independent implementation: it
// must not import the gateway's own packages (sip, sip/sdp, sip/registrar,
// media, media/dtmf, routing, gateway, ivr), so that a bug shared by both
// sides cannot hide itself. It uses sipgo, pion/sdp, pion/rtp, icholy/digest,
// media/g711 and the exported helpers of sip/testphone.
package agent
