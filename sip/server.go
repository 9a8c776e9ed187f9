// Package sip is the gateway's SIP user agent server: it accepts calls
// (INVITE/ACK/BYE/CANCEL), answers OPTIONS and INFO, handles re-INVITEs and
// hands each call to a CallHandler that owns it from INVITE to BYE. It also
// places the B2BUA's second leg to an agent (DialAgent, outbound.go), and
// passes key presses to either leg as INFO (SendDigit, digit.go).
//
// It is the only package that imports github.com/emiago/sipgo. It may import
// sip/sdp and media/dtmf; it must not import media (RTP), ivr, routing or
// go-redis.
package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

// Config configures a Server.
type Config struct {
	Listen      string     // host:port, served over both UDP and TCP
	PublicIP    netip.Addr // written in Contact and SDP
	UserAgent   string     // Server / User-Agent header value
	Logger      *slog.Logger
	UDPConn     net.PacketConn // optional pre-bound socket (tests); if nil, Listen is bound
	TCPListener net.Listener   // optional pre-bound listener; if nil, Listen is bound
	// SIP over TLS (tls.go): off unless TLSListen or TLSListener is set.
	TLSListen   string         // host:port for TLS, e.g. "0.0.0.0:5061"
	TLSConfig   *tls.Config    // certificate for TLSListen
	TLSListener net.Listener   // optional pre-bound TCP listener for TLS (tests); TLSConfig gives the certificate
	SRTP        sdp.SRTPMode   // SDES-SRTP policy for calls over TLS
	Limits      Limits         // per-source rate limits and caps (ratelimit.go); zero fields take defaults
	Allow       []netip.Prefix // sources that may place calls (INVITE); empty: any
}

// CallHandler runs in its own goroutine for the whole call; ctx is cancelled
// when the call ends (remote BYE, CANCEL, ACK timeout, shutdown).
type CallHandler func(ctx context.Context, c *Call)

// Server is the SIP UAS.
type Server struct {
	cfg    Config
	log    *slog.Logger
	h      CallHandler
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	udp    net.PacketConn
	tcp    net.Listener
	tlsL   net.Listener // nil when TLS is off (tls.go)
	parser *sip.Parser  // for the malformed-datagram check only
	guard  *guard       // rate limits, pending-call cap, allow-list (guard.go)
	frames tcpFrames    // TCP streams that went bad after good requests (tcpframe.go)

	mu       sync.Mutex
	dialogs  map[string]*Call // by dialogKey(callID, our tag, their tag)
	invites  map[string]*Call // by inviteKey: absorbs late INVITE retransmissions
	extra    map[string]bool  // methods registered with Handle
	running  bool
	shutdown bool
	draining atomic.Bool // Drain: new calls refused, live ones go on

	ackWait   time.Duration // tests shorten the 64*T1 wait for an ACK
	drainWait time.Duration // tests shorten drainTimeout

	out outboundTable // calls we place to agents (outbound.go)

	active  atomic.Int64
	calls   sync.WaitGroup
	badLog  limiter // malformed-message log, rate-limited
	badSent atomic.Int64
}

// Methods we implement; Allow lists these plus any added with Handle
// (RFC 3261 §20.5).
var baseMethods = []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "INFO"}

// standardMethods are those defined by RFC 3261 and its extensions; an
// unimplemented one gets 405, anything else 501 (RFC 3261 §8.2.1, §21.5.2).
var standardMethods = []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER",
	"PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"}

// NewServer binds the sockets (unless given) and registers the handlers.
func NewServer(cfg Config, h CallHandler) (*Server, error) {
	if h == nil {
		return nil, errors.New("sip: nil CallHandler")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "ivrgw"
	}
	if strings.ContainsAny(cfg.UserAgent, "\r\n") {
		return nil, errors.New("sip: user agent contains CR or LF")
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		h:       h,
		parser:  newParser(),
		guard:   newGuard(cfg.Limits, cfg.Allow),
		dialogs: make(map[string]*Call),
		invites: make(map[string]*Call),
		extra:   make(map[string]bool),
		udp:     cfg.UDPConn,
		tcp:     cfg.TCPListener,
	}
	s.badLog.every = time.Second
	s.frames.s, s.frames.max = s, maxTCPFrames
	if err := s.bind(); err != nil {
		return nil, err
	}
	if err := s.bindTLS(); err != nil {
		s.closeSockets()
		return nil, err
	}
	if !cfg.PublicIP.IsValid() {
		s.cfg.PublicIP = s.Addr().Addr()
	}
	// sipgo logs every unparsable packet with its content at error level;
	// route its logs through a handler that rate-limits that one.
	sipgoLog := slog.New(&quietHandler{next: s.log.Handler(), lim: &s.badLog})
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentHostname(s.cfg.PublicIP.String()),
		sipgo.WithUserAgentParser(newParser()),
		sipgo.WithUserAgentDNSResolver(s.noDNS()),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(sipgoLog),
			sip.WithTransportLayerReadFilter(s.readFilter),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipgoLog),
			sip.WithTransactionLayerUnhandledResponseHandler(s.strayResponse),
		),
	)
	if err != nil {
		s.closeSockets()
		return nil, fmt.Errorf("sip: new user agent: %w", err)
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sipgoLog)); err != nil {
		s.closeSockets()
		return nil, fmt.Errorf("sip: new server: %w", err)
	}
	if s.client, err = sipgo.NewClient(ua, sipgo.WithClientLogger(sipgoLog),
		sipgo.WithClientHostname(s.cfg.PublicIP.String())); err != nil {
		s.closeSockets()
		return nil, fmt.Errorf("sip: new client: %w", err)
	}
	s.srv.OnInvite(s.wrap(s.onInvite))
	s.srv.OnAck(s.wrap(s.onAck))
	s.srv.OnBye(s.wrap(s.onBye))
	s.srv.OnCancel(s.wrap(s.onCancel))
	s.srv.OnOptions(s.wrap(s.onOptions))
	s.srv.OnInfo(s.wrap(s.onInfo))
	s.srv.OnNoRoute(s.wrap(s.onNoRoute))
	return s, nil
}

// bind opens the UDP socket and a TCP listener on the same port.
func (s *Server) bind() error {
	if s.udp != nil && s.tcp != nil {
		return nil
	}
	host, port, err := net.SplitHostPort(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("sip: listen address %q: %w", s.cfg.Listen, err)
	}
	// sipgo finds the socket for requests we send by its exact local
	// address string, so an IPv4 host must be bound as udp4 (FACTS.md).
	udpNet, tcpNet := "udp", "tcp"
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.Is4()) {
		udpNet, tcpNet = "udp4", "tcp4"
	}
	for attempt := 0; attempt < 5; attempt++ {
		if s.udp == nil {
			if s.udp, err = net.ListenPacket(udpNet, s.cfg.Listen); err != nil {
				return fmt.Errorf("sip: bind udp %s: %w", s.cfg.Listen, err)
			}
		}
		if s.tcp != nil {
			return nil
		}
		addr := s.cfg.Listen
		if port == "0" {
			addr = s.udp.LocalAddr().String() // same port as UDP
		}
		if s.tcp, err = net.Listen(tcpNet, addr); err == nil {
			return nil
		}
		if port != "0" || s.cfg.UDPConn != nil {
			s.closeSockets()
			return fmt.Errorf("sip: bind tcp %s: %w", addr, err)
		}
		// The ephemeral UDP port is taken for TCP: try another pair.
		s.udp.Close()
		s.udp = nil
	}
	return fmt.Errorf("sip: no free udp+tcp port pair for %s: %w", s.cfg.Listen, err)
}

func (s *Server) closeSockets() {
	if s.udp != nil {
		s.udp.Close()
	}
	if s.tcp != nil {
		s.tcp.Close()
	}
	s.closeTLS()
}

// Addr returns the bound UDP address.
func (s *Server) Addr() netip.AddrPort {
	return addrPortOf(s.udp.LocalAddr())
}

// TCPAddr returns the bound TCP address.
func (s *Server) TCPAddr() netip.AddrPort {
	return addrPortOf(s.tcp.Addr())
}

func addrPortOf(a net.Addr) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Handle registers a handler for another method (REGISTER for the
// registrar) before Run. It is wrapped like ours: validation, panic
// recovery; the method is added to Allow.
func (s *Server) Handle(method string, fn sipgo.RequestHandler) {
	method = strings.ToUpper(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		panic("sip: Handle called after Run")
	}
	s.extra[method] = true
	s.srv.OnRequest(sip.RequestMethod(method), s.wrap(fn))
}

// ActiveCalls is the number of calls whose handler is running.
func (s *Server) ActiveCalls() int { return int(s.active.Load()) }

// allow is the Allow header value.
func (s *Server) allow() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := slices.Clone(baseMethods)
	for _, k := range standardMethods {
		if s.extra[k] {
			m = append(m, k)
		}
	}
	for k := range s.extra {
		if !slices.Contains(m, k) {
			m = append(m, k)
		}
	}
	return strings.Join(m, ", ")
}

// Run serves UDP and TCP until ctx ends, then hangs up every call still up
// (reason "shutdown"), waits for the handlers up to drainTimeout and closes
// the sockets. A graceful stop calls Drain first and cancels ctx once Idle
// or out of patience.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("sip: Run called twice")
	}
	s.running = true
	s.mu.Unlock()

	errc := make(chan error, 3)
	go func() { errc <- s.srv.ServeUDP(s.udp) }()
	go func() { errc <- s.srv.ServeTCP(s.tcp) }()
	s.log.Info("sip listening", "udp", s.Addr().String(), "tcp", s.TCPAddr().String())
	s.serveTLS(errc)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if err != nil {
			err = fmt.Errorf("sip: serve: %w", err)
		}
	}
	s.drain()
	s.closeSockets()
	s.ua.Close()
	return err
}

const drainTimeout = 5 * time.Second

// drain ends every call with a BYE and waits for their handlers.
func (s *Server) drain() {
	s.mu.Lock()
	s.shutdown = true
	calls := make([]*Call, 0, len(s.invites))
	for _, c := range s.invites {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	wait := drainTimeout
	if s.drainWait > 0 {
		wait = s.drainWait
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { c.terminate(ctx, reasonShutdown) })
	}
	wg.Wait()
	s.drainOutbound(ctx)
	done := make(chan struct{})
	go func() { s.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("sip drain timed out", "active_calls", s.ActiveCalls())
	}
}

// strayResponse receives responses that match no client transaction
// (RFC 3261 §17.1.1.2 allows dropping them): late retransmissions, or the
// stray responses of the torture tests. Never answered, never forwarded.
func (s *Server) strayResponse(r *sip.Response) {
	if s.outboundStray(r) {
		return // a late 2xx retransmission to our INVITE: ACKed again
	}
	s.log.Debug("sip stray response dropped", "status", r.StatusCode)
}
