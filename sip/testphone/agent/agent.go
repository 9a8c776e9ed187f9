package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Mode says what the agent does with an incoming INVITE.
type Mode struct {
	kind modeKind
	code int
}

type modeKind int

const (
	autoAnswer modeKind = iota
	reject
	noAnswer
)

var (
	// AutoAnswer rings for Config.AnswerAfter (180 first when it is not
	// zero), then answers 200 with SDP. It is the zero Mode.
	AutoAnswer = Mode{kind: autoAnswer}
	// NoAnswer sends 180 Ringing and never answers; the gateway's CANCEL
	// gets 200 and the INVITE 487 (RFC 3261 §9.2).
	NoAnswer = Mode{kind: noAnswer}
)

// Reject answers with code (486 Busy Here, 603 Decline, ...) after
// Config.AnswerAfter (with 180 first when that is not zero).
func Reject(code int) Mode { return Mode{kind: reject, code: code} }

func (m Mode) String() string {
	switch m.kind {
	case reject:
		return "reject(" + strconv.Itoa(m.code) + ")"
	case noAnswer:
		return "no-answer"
	}
	return "auto-answer"
}

// Config describes one fake agent.
type Config struct {
	Gateway     string        // the gateway's SIP address, "127.0.0.1:5060"
	Ext         string        // extension = digest username = AOR user
	Password    string        // digest password
	Transport   string        // "udp" (the only one supported)
	Mode        Mode          // what to do with incoming INVITEs; zero = AutoAnswer
	AnswerAfter time.Duration // ring this long before the final answer
	Tone        float64       // Hz of the sine sent as the agent's voice once answered; 0 = silence
	Expires     time.Duration // registration interval asked for; default 300 s
	// Algorithm forces "MD5" or "SHA-256"; empty takes the first digest
	// challenge the agent can answer, in the order the registrar sent them
	// (RFC 8760 §2.4: the preferred one first).
	Algorithm string
	LocalIP   string       // default 127.0.0.1
	Logger    *slog.Logger // default: discard
	// Trunk makes it a peer that takes calls without registering (the
	// gateway's outbound trunk on loopback); Ext and Password are then only
	// names, and Gateway is where its own requests would go.
	Trunk bool
	// NoEvents answers without telephone-event, as a phone set to send
	// DTMF by SIP INFO only does: keys then reach it as INFO.
	NoEvents bool
	// DiscardMedia keeps no record of received packets or audio, only
	// their count (ReceivedPackets): a load tool runs many agents.
	DiscardMedia bool
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	if cfg.Transport != "udp" {
		return cfg, fmt.Errorf("config: transport %q: only udp is supported", cfg.Transport)
	}
	if cfg.Ext == "" {
		return cfg, errors.New("config: Ext is empty")
	}
	if _, _, err := net.SplitHostPort(cfg.Gateway); err != nil {
		return cfg, fmt.Errorf("config: gateway: %w", err)
	}
	if cfg.Expires <= 0 {
		cfg.Expires = 300 * time.Second
	}
	if cfg.LocalIP == "" {
		cfg.LocalIP = "127.0.0.1"
	}
	if _, err := netip.ParseAddr(cfg.LocalIP); err != nil {
		return cfg, fmt.Errorf("config: local ip: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// Agent is one registered fake softphone. Its methods are safe for
// concurrent use.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	cli     *sipgo.Client
	dua     *sipgo.DialogUA
	pc      net.PacketConn
	addr    netip.AddrPort // our SIP socket
	gateway sip.Uri        // REGISTER Request-URI and host of our AOR
	contact sip.ContactHeader

	reg registration

	mu      sync.Mutex
	mode    Mode
	tone    float64
	calls   []*AgentCall
	byID    map[string]*AgentCall
	waited  int           // calls already handed out by WaitCall
	newCall chan struct{} // closed and replaced when a call arrives
	closed  bool

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start binds the agent's SIP socket, registers it with the gateway and
// keeps the registration fresh until Close. It returns once the first
// REGISTER got its 200; a Trunk does not register.
func Start(ctx context.Context, cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	host, portStr, _ := net.SplitHostPort(cfg.Gateway)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("start agent: gateway port %q: %w", portStr, err)
	}
	a := &Agent{
		cfg:     cfg,
		log:     cfg.Logger.With("agent", cfg.Ext),
		gateway: sip.Uri{Scheme: "sip", Host: host, Port: port},
		mode:    cfg.Mode,
		tone:    cfg.Tone,
		byID:    map[string]*AgentCall{},
		newCall: make(chan struct{}),
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if err := a.listen(); err != nil {
		a.shutdown()
		return nil, fmt.Errorf("start agent %s: %w", cfg.Ext, err)
	}
	if cfg.Trunk {
		return a, nil
	}
	if err := a.register(ctx, cfg.Expires); err != nil {
		a.shutdown()
		return nil, fmt.Errorf("start agent %s: %w", cfg.Ext, err)
	}
	a.wg.Add(1)
	go func() { defer a.wg.Done(); a.refreshLoop() }()
	return a, nil
}

// listen starts sipgo on a UDP socket of our own; every request we send
// leaves from it, so the gateway sees the address we registered from.
func (a *Agent) listen() error {
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("fake-agent-"+a.cfg.Ext),
		sipgo.WithUserAgentHostname(a.cfg.LocalIP),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(a.cfg.Logger)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(a.cfg.Logger),
			sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
				a.log.Debug("unmatched sip response", "status", r.StatusCode)
			}),
		),
	)
	if err != nil {
		return fmt.Errorf("new user agent: %w", err)
	}
	a.ua = ua
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(a.cfg.Logger))
	if err != nil {
		return fmt.Errorf("new server: %w", err)
	}
	a.srv = srv
	// udp4, not udp: sipgo matches the listening socket by its exact
	// local address string (FACTS.md).
	pc, err := net.ListenPacket("udp4", net.JoinHostPort(a.cfg.LocalIP, "0"))
	if err != nil {
		return fmt.Errorf("listen sip udp: %w", err)
	}
	a.pc = pc
	a.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	go func() { _ = srv.ServeUDP(pc) }()
	if err := waitServing(ua, pc.LocalAddr().String()); err != nil {
		return err
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(a.cfg.Logger),
		sipgo.WithClientHostname(a.cfg.LocalIP), sipgo.WithClientConnectionAddr(pc.LocalAddr().String()))
	if err != nil {
		return fmt.Errorf("new client: %w", err)
	}
	a.cli = cli
	a.contact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: a.cfg.Ext, Host: a.cfg.LocalIP, Port: int(a.addr.Port())}}
	a.dua = &sipgo.DialogUA{Client: cli, ContactHDR: a.contact}

	srv.OnInvite(a.guard(a.onInvite))
	srv.OnAck(a.guard(a.onAck))
	srv.OnBye(a.guard(a.onBye))
	srv.OnOptions(a.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}))
	srv.OnInfo(a.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		c := a.lookup(req.CallID().Value())
		if c == nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
			return
		}
		c.addInfo(req)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}))
	return nil
}

// waitServing waits (bounded) until ServeUDP has put the socket in sipgo's
// pool: a request sent before would bind a second socket on the port.
func waitServing(ua *sipgo.UserAgent, addr string) error {
	for range 1000 {
		if c, err := ua.TransportLayer().GetConnection("udp", addr); err == nil && c != nil {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("sip listener %s not serving after 1s", addr)
}

// guard turns a panic in a handler into a log line: sipgo's handlers do not
// recover (FACTS.md), and a test peer must not kill the test binary.
func (a *Agent) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				a.log.Error("panic in sip handler", "method", string(req.Method), "panic", fmt.Sprint(r))
			}
		}()
		h(req, tx)
	}
}

// Ext is the agent's extension.
func (a *Agent) Ext() string { return a.cfg.Ext }

// Addr is the agent's SIP socket: where it registered from.
func (a *Agent) Addr() netip.AddrPort { return a.addr }

// Contact is the Contact URI the agent registers.
func (a *Agent) Contact() string { return a.contact.Address.String() }

// SetMode changes what the agent does with the next INVITEs.
func (a *Agent) SetMode(m Mode) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mode = m
}

// SetTone changes the tone sent by calls answered from now on (0 = silence).
func (a *Agent) SetTone(hz float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tone = hz
}

// Calls returns every call the agent saw or placed, oldest first.
func (a *Agent) Calls() []*AgentCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*AgentCall(nil), a.calls...)
}

// WaitCall returns the next incoming call not yet returned by WaitCall, as
// soon as its INVITE has arrived (whatever the Mode will do with it).
func (a *Agent) WaitCall(ctx context.Context) (*AgentCall, error) {
	for {
		a.mu.Lock()
		var next *AgentCall
		for i := a.waited; i < len(a.calls); i++ {
			if a.calls[i].incoming {
				next = a.calls[i]
				a.waited = i + 1
				break
			}
		}
		if next == nil {
			a.waited = len(a.calls)
		}
		ch := a.newCall
		a.mu.Unlock()
		if next != nil {
			return next, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("agent %s: wait call: %w", a.cfg.Ext, context.Cause(ctx))
		}
	}
}

// add records a new call and wakes WaitCall.
func (a *Agent) add(c *AgentCall) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.calls = append(a.calls, c)
	a.byID[c.callID] = c
	close(a.newCall)
	a.newCall = make(chan struct{})
	return true
}

func (a *Agent) lookup(callID string) *AgentCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byID[callID]
}

// Close hangs up the agent's live calls, unregisters (REGISTER with
// Expires: 0, RFC 3261 §10.2.2) and releases its sockets. Calling it again
// does nothing.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	calls := append([]*AgentCall(nil), a.calls...)
	a.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, c := range calls {
		_ = c.Hangup(ctx)
	}
	a.cancel() // stops the refresh loop and every call's handler
	a.wg.Wait()
	var err error
	if !a.cfg.Trunk {
		err = a.register(ctx, 0)
	}
	a.shutdown()
	for _, c := range calls {
		c.closeMedia()
	}
	if err != nil {
		return fmt.Errorf("close agent %s: %w", a.cfg.Ext, err)
	}
	return nil
}

func (a *Agent) shutdown() {
	a.cancel()
	if a.ua != nil {
		a.ua.Close()
	}
	if a.pc != nil {
		a.pc.Close()
	}
}
