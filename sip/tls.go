package sip

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

// SIP over TLS (RFC 3261 §26.2, RFC 5630) and the SDES-SRTP policy that
// goes with it. TLS is off unless Config.TLSListen or Config.TLSListener is
// set. SDES keys travel inside the SDP, so they are exchanged only on
// dialogs whose signalling is TLS: over UDP or TCP anyone on the path could
// read them, and a call there is plain RTP (or refused when SRTP is
// required).

// ErrSRTPNeedsTLS: SRTP is required but the leg's signalling is not TLS.
var ErrSRTPNeedsTLS = errors.New("sip: srtp required but signalling is not tls")

const transportTLS = "TLS"

// tlsHandshakeTimeout bounds a TLS handshake: a client that connects and
// says nothing would otherwise hold its connection and goroutine for ever.
const tlsHandshakeTimeout = 10 * time.Second

// bindTLS opens the TLS listener when TLS is configured: Config.TLSListener
// (a plain TCP listener, for tests) or TLSListen, with the certificate of
// TLSConfig.
func (s *Server) bindTLS() error {
	if s.cfg.TLSListener == nil && s.cfg.TLSListen == "" {
		return nil
	}
	if s.cfg.TLSConfig == nil || (len(s.cfg.TLSConfig.Certificates) == 0 && s.cfg.TLSConfig.GetCertificate == nil) {
		return errors.New("sip: tls configured without a certificate")
	}
	conf := s.cfg.TLSConfig.Clone()
	if conf.MinVersion < tls.VersionTLS12 {
		conf.MinVersion = tls.VersionTLS12 // RFC 7525 §3.1.1; SIP phones all do 1.2
	}
	l := s.cfg.TLSListener
	if l == nil {
		network := "tcp"
		if ip, err := netip.ParseAddr(hostOf(s.cfg.TLSListen)); err == nil && ip.Is4() {
			network = "tcp4" // sipgo matches sockets by exact address (FACTS.md)
		}
		var err error
		if l, err = net.Listen(network, s.cfg.TLSListen); err != nil {
			return fmt.Errorf("sip: bind tls %s: %w", s.cfg.TLSListen, err)
		}
	}
	s.tlsL = &tlsListener{Listener: l, conf: conf, wait: tlsHandshakeTimeout}
	return nil
}

// tlsListener is tls.NewListener with a bounded handshake.
type tlsListener struct {
	net.Listener
	conf *tls.Config
	wait time.Duration // tests shorten it before Run
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: tls.Server(c, l.conf), wait: l.wait}, nil
}

// handshakeConn runs the server handshake under a deadline on the first
// Read (sipgo's reader, the only one), then clears the deadline: sipgo
// sets none of its own on TCP and TLS connections.
type handshakeConn struct {
	*tls.Conn
	wait time.Duration
	done bool // owned by the reading goroutine
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	if !c.done {
		c.done = true
		if err := c.SetDeadline(time.Now().Add(c.wait)); err != nil {
			return 0, err
		}
		if err := c.Handshake(); err != nil {
			c.Close()
			return 0, fmt.Errorf("sip: tls handshake with %s: %w", c.RemoteAddr(), err)
		}
		if err := c.SetDeadline(time.Time{}); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(b)
}

func hostOf(hostport string) string {
	h, _, _ := net.SplitHostPort(hostport)
	return h
}

// TLSAddr returns the bound TLS address; invalid when TLS is off.
func (s *Server) TLSAddr() netip.AddrPort {
	if s.tlsL == nil {
		return netip.AddrPort{}
	}
	return addrPortOf(s.tlsL.Addr())
}

// serveTLS serves the TLS listener, if any, reporting on errc.
func (s *Server) serveTLS(errc chan<- error) {
	if s.tlsL == nil {
		return
	}
	go func() { errc <- s.srv.ServeTLS(s.tlsL) }()
	s.log.Info("sip listening", "tls", s.TLSAddr().String(), "srtp", s.cfg.SRTP.String())
}

func (s *Server) closeTLS() {
	if s.tlsL != nil {
		s.tlsL.Close()
	}
}

// tlsContact is our Contact over TLS. A dialog set up with a sips: URI
// keeps sips in our Contact (RFC 3261 §8.1.1.8, §12.1.1); one set up
// with sip: over TLS says transport=tls (RFC 5630 §3.1.1).
func (s *Server) tlsContact(sips bool) string {
	hp := netip.AddrPortFrom(s.cfg.PublicIP, s.TLSAddr().Port()).String()
	if sips {
		return "<sips:" + hp + ">"
	}
	return "<sip:" + hp + ";transport=tls>"
}

// contactFor is our Contact in a response to req: sips when req's
// Request-URI is a SIPS URI, else by the transport it arrived on.
func (s *Server) contactFor(req *sip.Request) string {
	if strings.EqualFold(req.Transport(), transportTLS) {
		return s.tlsContact(strings.EqualFold(req.Recipient.Scheme, "sips"))
	}
	return s.contact(req.Transport())
}

// TLS reports whether the call's signalling arrived over TLS.
func (c *Call) TLS() bool { return strings.EqualFold(c.Transport(), transportTLS) }

// srtpLocal applies the SRTP policy to our side of a leg: with TLS
// signalling the policy holds and we bring a fresh key; without it SRTP is
// off, or the leg cannot be had at all when SRTP is required.
func (s *Server) srtpLocal(local sdp.Local, overTLS bool) (sdp.Local, error) {
	mode := s.cfg.SRTP
	if !overTLS {
		if mode == sdp.SRTPRequired {
			return local, ErrSRTPNeedsTLS
		}
		mode = sdp.SRTPOff
	}
	local.SRTP, local.Key = mode, nil
	if mode != sdp.SRTPOff {
		local.Key = sdp.NewKey() // RFC 4568 §6.1: fresh per session, never reused
	}
	return local, nil
}

// keysChanged reports whether a re-offer moved the peer to another SRTP
// key or in or out of SRTP: a stream keeps the keys it was answered with,
// so such a re-INVITE is refused (488) and the call keeps its media (RFC
// 4568 §7.1.4 lets the answerer keep its key; changing the offerer's in
// mid-call is what we do not follow).
func (c *Call) srtpChanged(next sdp.Media) bool {
	c.mu.Lock()
	old := c.media
	c.mu.Unlock()
	return keysChanged(old, next)
}

func keysChanged(old, next sdp.Media) bool {
	if (old.SRTP == nil) != (next.SRTP == nil) {
		return true
	}
	return old.SRTP != nil && (old.SRTP.Suite != next.SRTP.Suite || !bytes.Equal(old.SRTP.RemoteKey, next.SRTP.RemoteKey))
}
