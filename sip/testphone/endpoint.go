package testphone

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// sipLog keeps the SIP messages a call exchanged, for failure messages.
type sipLog struct {
	mu      sync.Mutex
	entries []logEntry
}

type logEntry struct {
	at   time.Time
	text string
}

func (l *sipLog) add(dir, peer, msg string) { l.addAt(time.Now(), dir, peer, msg) }

// addAt logs with the time the message was handed to sipgo: a request is
// only complete (Via, CSeq) after sending, by which time its response may
// already be logged.
func (l *sipLog) addAt(at time.Time, dir, peer, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, logEntry{at, fmt.Sprintf("%s %s %s\n%s", at.Format("15:04:05.000"), dir, peer, msg)})
}

func (l *sipLog) list() []string {
	l.mu.Lock()
	e := slices.Clone(l.entries)
	l.mu.Unlock()
	slices.SortStableFunc(e, func(a, b logEntry) int { return a.at.Compare(b.at) })
	out := make([]string, len(e))
	for i := range e {
		out[i] = e[i].text
	}
	return out
}

// endpoint is the phone's SIP side: a sipgo user agent with its own
// listening socket, so in-dialog requests from the gateway (BYE, re-INVITE)
// reach us at our Contact, and, over UDP, requests leave from that same
// socket.
type endpoint struct {
	ua        *sipgo.UserAgent
	cli       *sipgo.Client
	srv       *sipgo.Server
	listener  io.Closer
	transport string
	laddr     sip.Addr // UDP only: the listening socket requests must leave from
	contact   sip.ContactHeader
	log       *sipLog
}

// newEndpoint starts listening on cfg.LocalIP:0 and registers handlers that
// hand in-dialog requests to c.
func newEndpoint(cfg Config, c *Call) (*endpoint, error) {
	ep := &endpoint{transport: cfg.Transport, log: c.sipLog}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(cfg.From),
		sipgo.WithUserAgentHostname(cfg.LocalIP),
		sipgo.WithUserAgenTLSConfig(cfg.TLS),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(cfg.Logger),
			// Every datagram or stream chunk received, before parsing:
			// the log then shows even what sipgo would drop.
			sip.WithTransportLayerReadFilter(func(p sip.TransportReadProps, data []byte) ([]byte, error) {
				ep.log.add("<-", p.RemoteAddr.String(), string(data))
				return data, nil
			}),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(cfg.Logger),
			// Late provisionals and retransmitted finals of ended
			// transactions: expected on a fast loopback, not news. The
			// default handler would log them on slog's global logger.
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				cfg.Logger.Debug("unmatched sip response", "status", r.StatusCode)
			}),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("new user agent: %w", err)
	}
	ep.ua = ua
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(cfg.Logger))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("new server: %w", err)
	}
	ep.srv = srv

	var port int
	opts := []sipgo.ClientOption{sipgo.WithClientLogger(cfg.Logger), sipgo.WithClientHostname(cfg.LocalIP)}
	switch cfg.Transport {
	case "udp":
		// udp4, not udp: sipgo matches the listening socket by its exact
		// local address string (FACTS.md).
		pc, err := net.ListenPacket("udp4", net.JoinHostPort(cfg.LocalIP, "0"))
		if err != nil {
			ua.Close()
			return nil, fmt.Errorf("listen sip udp: %w", err)
		}
		ep.listener = pc
		port = pc.LocalAddr().(*net.UDPAddr).Port
		ep.laddr = sip.Addr{IP: net.ParseIP(cfg.LocalIP), Port: port}
		opts = append(opts, sipgo.WithClientConnectionAddr(pc.LocalAddr().String()))
		go srv.ServeUDP(pc)
		// ServeUDP registers the socket in sipgo's pool from its own
		// goroutine; an INVITE sent before that would bind a second socket
		// on the same port and fail. Wait (bounded) for the registration.
		if err := waitRegistered(ua, pc.LocalAddr().String()); err != nil {
			ua.Close()
			pc.Close()
			return nil, err
		}
	case "tcp":
		// Over TCP the gateway answers and sends in-dialog requests on the
		// connection we opened; the listener is there for a gateway that
		// connects to our Contact instead (RFC 3261 §18.2.2).
		l, err := net.Listen("tcp4", net.JoinHostPort(cfg.LocalIP, "0"))
		if err != nil {
			ua.Close()
			return nil, fmt.Errorf("listen sip tcp: %w", err)
		}
		ep.listener = l
		port = l.Addr().(*net.TCPAddr).Port
		go srv.ServeTCP(l)
	case "tls":
		// The gateway answers and sends in-dialog requests on the
		// connection we opened (srtp.go): no listener, and the Contact
		// names the default TLS port only to be well formed.
		port = 5061
	}
	cli, err := sipgo.NewClient(ua, opts...)
	if err != nil {
		ep.close()
		return nil, fmt.Errorf("new client: %w", err)
	}
	ep.cli = cli
	ep.contact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: cfg.From, Host: cfg.LocalIP, Port: port}}
	if cfg.Transport == "tcp" || cfg.Transport == "tls" {
		ep.contact.Address.UriParams = sip.NewParams()
		ep.contact.Address.UriParams.Add("transport", cfg.Transport)
	}

	srv.OnBye(ep.guard(c.onBye))
	srv.OnInvite(ep.guard(c.onInvite))
	srv.OnAck(ep.guard(c.onAck))
	srv.OnInfo(ep.guard(c.onInfo))
	srv.OnOptions(ep.guard(c.onOK))
	return ep, nil
}

func waitRegistered(ua *sipgo.UserAgent, addr string) error {
	for range 1000 {
		if c, err := ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("sip listener %s not registered after 1s", addr)
}

// guard logs a panic in a handler instead of killing the test binary:
// sipgo's handlers do not recover (FACTS.md).
func (ep *endpoint) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				ep.log.add("!!", "", fmt.Sprintf("panic in %s handler: %v", req.Method, r))
			}
		}()
		h(req, tx)
	}
}

// prepare pins an outgoing request to our listening socket (UDP) and logs
// it once it is built.
func (ep *endpoint) prepare(req *sip.Request) {
	if ep.laddr.IP != nil {
		req.Laddr = ep.laddr
	}
}

func (ep *endpoint) sent(at time.Time, req *sip.Request) {
	ep.log.addAt(at, "->", req.Destination(), req.String())
}

func (ep *endpoint) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		ep.log.add("!!", "", fmt.Sprintf("respond %d: %v", res.StatusCode, err))
		return
	}
	ep.log.add("->", res.Destination(), res.String())
}

func (ep *endpoint) close() {
	if ep.ua != nil {
		ep.ua.Close()
	}
	if ep.listener != nil {
		ep.listener.Close()
	}
}

// headerValue returns a request's header value, or "".
func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return strings.TrimSpace(h.Value())
	}
	return ""
}
