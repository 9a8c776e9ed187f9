// Package gateway runs one call from answer to hang-up: it joins the SIP
// dialog (package sip), the RTP stream (package media), the voice menu
// (package ivr) and, when the caller asks for a person, the human fallback.
//
// "The handler is the call": HandleCall runs in the goroutine that accepted
// the INVITE and owns everything the call opens; every helper it starts lives
// in an errgroup under the call's context and is gone when HandleCall returns.
//
// gateway imports no SIP, RTP or Redis library directly: it speaks to them
// through the project's own packages.
package gateway
