package testphone

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/ivrgw/ivrgw/media/g711"
	isdp "github.com/ivrgw/ivrgw/sip/sdp"
)

// Config describes one call.
type Config struct {
	Target      string  // gateway SIP address, "127.0.0.1:5060"
	Transport   string  // "udp" (default), "tcp" or "tls" (srtp.go)
	From        string  // caller user part, e.g. "alice"
	DisplayName string  // caller display name
	To          string  // dialled number, e.g. "support"
	Codecs      []uint8 // offer order; default PCMU, PCMA
	EventPT     uint8   // telephone-event payload type; default 101
	NoEvents    bool    // offer no telephone-event at all
	NoSDP       bool    // delayed offer: INVITE without SDP, answer in the ACK (RFC 3261 §13.2.1)
	LocalIP     string  // default 127.0.0.1
	// DiscardAudio keeps packet records and speech/silence detection but
	// not the decoded audio itself (the load tool holds many calls).
	DiscardAudio bool
	// OnAudio, when set, sees the payload of every G.711 packet as it
	// arrives (not events), on the phone's reader goroutine: it must be
	// quick and must not keep payload, which is reused.
	OnAudio func(arrival time.Time, pt uint8, payload []byte)
	Logger  *slog.Logger
	TLS     *tls.Config // for "tls": the roots that trust the gateway's certificate
	SRTP    bool        // offer RTP/SAVP with SDES and protect the media (srtp.go)
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	if cfg.Transport != "udp" && cfg.Transport != "tcp" && cfg.Transport != "tls" {
		return cfg, fmt.Errorf("transport %q: want udp, tcp or tls", cfg.Transport)
	}
	if cfg.SRTP && cfg.NoSDP {
		return cfg, errors.New("config: SRTP with a delayed offer is not supported")
	}
	if cfg.From == "" {
		cfg.From = "testphone"
	}
	if cfg.To == "" {
		return cfg, errors.New("config: To is empty")
	}
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = []uint8{g711.PayloadPCMU, g711.PayloadPCMA}
	}
	if cfg.EventPT == 0 {
		cfg.EventPT = 101
	}
	if cfg.LocalIP == "" {
		cfg.LocalIP = "127.0.0.1"
	}
	if _, err := netip.ParseAddr(cfg.LocalIP); err != nil {
		return cfg, fmt.Errorf("config: local ip: %w", err)
	}
	if _, _, err := net.SplitHostPort(cfg.Target); err != nil {
		return cfg, fmt.Errorf("config: target: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// StatusError is a final non-2xx SIP response to one of the phone's requests.
type StatusError struct {
	Code   int
	Reason string
}

func (e *StatusError) Error() string { return fmt.Sprintf("sip status %d %s", e.Code, e.Reason) }

// Errors the phone returns.
var (
	ErrCallEnded = errors.New("call ended")
	ErrBadDigit  = errors.New("not a DTMF digit")
	ErrNoEvents  = errors.New("remote did not negotiate telephone-event")
)

// statusOf turns a sipgo dialog error into a *StatusError when it carries a
// response.
func statusOf(err error) error {
	var p *sipgo.ErrDialogResponse
	if errors.As(err, &p) && p.Res != nil {
		return &StatusError{Code: p.Res.StatusCode, Reason: p.Res.Reason}
	}
	var v sipgo.ErrDialogResponse
	if errors.As(err, &v) && v.Res != nil {
		return &StatusError{Code: v.Res.StatusCode, Reason: v.Res.Reason}
	}
	return err
}

// Call is one call placed by the phone. Its methods are safe for concurrent
// use; its records stay readable after the call ended.
type Call struct {
	cfg    Config
	log    *slog.Logger
	callID string
	sipLog *sipLog
	ep     *endpoint
	sess   *sipgo.DialogClientSession
	target sip.Uri // remote target: the Contact of the 200 (RFC 3261 §12.1.2)

	mu      sync.Mutex
	media   Media
	local   localSDP
	rtpConn *net.UDPConn
	offered bool // we put an offer in a 200 and wait for the answer in the ACK
	infos   []Info

	tx  *sender
	rec *recorder

	stopMedia context.CancelFunc
	wg        sync.WaitGroup
	bye       chan struct{}
	byeOnce   sync.Once
	closeOnce sync.Once
}

// Pending is a call whose INVITE is out and not yet answered.
type Pending struct {
	c       *Call
	cancel  context.CancelCauseFunc
	ringing chan struct{}
	done    chan struct{}
	err     error
}

var errCancelled = errors.New("cancelled by the test")

// Dial places a call and returns once it is answered and acknowledged.
// When ctx ends before the answer the phone sends CANCEL.
func Dial(ctx context.Context, cfg Config) (*Call, error) {
	p, err := DialAsync(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// DialAsync sends the INVITE and returns at once. ctx bounds the wait for
// the answer: when it ends first, the phone sends CANCEL (RFC 3261 §9.1).
func DialAsync(ctx context.Context, cfg Config) (*Pending, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &Call{
		cfg:    cfg,
		callID: randomHex(12) + "@testphone",
		sipLog: &sipLog{},
		rec:    newRecorder(cfg.Logger, !cfg.DiscardAudio, cfg.OnAudio),
		bye:    make(chan struct{}),
	}
	c.log = cfg.Logger.With("call_id", c.callID)
	c.tx = newSender(c.log)

	rtpConn, err := listenRTP(cfg.LocalIP)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c.rtpConn = rtpConn
	c.tx.setConn(rtpConn)
	// Read from the start: early media (183) is recorded, and packets that
	// arrive around the 200 are stamped when they arrive, not when the
	// answer has been processed.
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.rec.readLoop(rtpConn) }()
	c.local = localSDP{
		addr:      netip.MustParseAddr(cfg.LocalIP),
		port:      rtpConn.LocalAddr().(*net.UDPAddr).Port,
		codecs:    cfg.Codecs,
		eventPT:   cfg.EventPT,
		events:    !cfg.NoEvents,
		sessionID: mrand.Uint64N(1 << 62),
		version:   1,
		direction: SendRecv,
	}
	if cfg.SRTP {
		c.local.srtpKey = isdp.NewKey()
	}

	ep, err := newEndpoint(cfg, c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("dial: %w", err)
	}
	c.ep = ep

	req, err := c.newInvite()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("dial: %w", err)
	}
	dua := &sipgo.DialogUA{Client: ep.cli, ContactHDR: ep.contact}
	at := time.Now()
	sess, err := dua.WriteInvite(ctx, req)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("dial: send invite: %w", err)
	}
	ep.sent(at, req)
	c.sess = sess

	waitCtx, cancel := context.WithCancelCause(ctx)
	p := &Pending{c: c, cancel: cancel, ringing: make(chan struct{}), done: make(chan struct{})}
	go p.wait(waitCtx)
	return p, nil
}

func (c *Call) newInvite() (*sip.Request, error) {
	host, portStr, _ := net.SplitHostPort(c.cfg.Target)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("target port %q: %w", portStr, err)
	}
	ruri := sip.Uri{Scheme: "sip", User: c.cfg.To, Host: host, Port: port}
	if c.cfg.Transport == "tcp" || c.cfg.Transport == "tls" {
		ruri.UriParams = sip.NewParams()
		ruri.UriParams.Add("transport", c.cfg.Transport)
	}
	req := sip.NewRequest(sip.INVITE, ruri)
	req.SetTransport(c.cfg.Transport)
	from := &sip.FromHeader{
		DisplayName: c.cfg.DisplayName,
		Address:     sip.Uri{Scheme: "sip", User: c.cfg.From, Host: c.cfg.LocalIP},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", randomHex(8))
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: c.cfg.To, Host: host}, Params: sip.NewParams()}
	callID := sip.CallIDHeader(c.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"))
	if !c.cfg.NoSDP {
		setSDP(req, c.local.marshal())
	}
	c.ep.prepare(req)
	return req, nil
}

func setSDP(req *sip.Request, body []byte) {
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(&ct)
	req.SetBody(body)
}

// Ringing is closed when a 180 or 183 arrives.
func (p *Pending) Ringing() <-chan struct{} { return p.ringing }

// Cancel sends CANCEL for the pending INVITE (after the first provisional
// response, as RFC 3261 §9.1 requires); Wait then returns a *StatusError
// with the final response, normally 487.
func (p *Pending) Cancel() { p.cancel(errCancelled) }

// Wait waits for the outcome of the INVITE.
func (p *Pending) Wait() (*Call, error) {
	<-p.done
	if p.err != nil {
		return nil, p.err
	}
	return p.c, nil
}

// SIPLog returns the messages exchanged so far, answered or not.
func (p *Pending) SIPLog() []string { return p.c.SIPLog() }

func (p *Pending) wait(ctx context.Context) {
	defer close(p.done)
	defer p.cancel(nil)
	c := p.c
	var once sync.Once
	err := c.sess.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		if r.StatusCode == 180 || r.StatusCode == 183 {
			once.Do(func() { close(p.ringing) })
		}
		return nil
	}})
	if err != nil {
		res := c.sess.InviteResponse
		switch {
		case res != nil && res.IsSuccess():
			// The 200 crossed our CANCEL (RFC 3261 §9.1): the call is up
			// and must be acknowledged and ended.
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sip.Timer_B)
			c.target = c.remoteTarget()
			if c.ack(tctx, nil) == nil {
				c.sendBye(tctx)
			}
			cancel()
			err = fmt.Errorf("dial: answered after cancel: %w", err)
		case res != nil && res.StatusCode >= 300:
			err = &StatusError{Code: res.StatusCode, Reason: res.Reason}
		default:
			err = fmt.Errorf("dial: wait answer: %w", statusOf(err))
		}
		c.Close()
		p.err = err
		return
	}
	// ctx may be short-lived (a dial timeout): the call outlives it.
	if err := c.established(context.WithoutCancel(ctx)); err != nil {
		c.Close()
		p.err = fmt.Errorf("dial: %w", err)
	}
}

// established acknowledges the 200, applies its SDP and starts media.
func (c *Call) established(ctx context.Context) error {
	res := c.sess.InviteResponse
	c.target = c.remoteTarget()
	ctx, cancel := context.WithTimeout(ctx, sip.Timer_B)
	defer cancel()

	r, perr := parseSDP(res.Body())
	var codec uint8
	if perr == nil {
		codec, perr = r.pick(c.cfg.Codecs)
	}
	if perr == nil {
		// Before the ACK: the gateway's first packets follow it at once.
		perr = c.startSRTP(r)
	}
	var ackBody []byte
	if c.cfg.NoSDP && perr == nil {
		// Delayed offer: the 200 carried the offer, the ACK carries our
		// answer (RFC 3261 §13.2.1), mirroring the offered event PT.
		c.mu.Lock()
		c.local.codecs = []uint8{codec}
		c.local.eventPT = r.eventPT
		c.local.events = r.hasEvents && !c.cfg.NoEvents
		ackBody = c.local.marshal()
		c.mu.Unlock()
	}
	// Every 2xx is acknowledged, even one whose SDP we cannot use; then
	// the call is ended with BYE (RFC 3261 §13.2.2.4).
	if err := c.ack(ctx, ackBody); err != nil {
		return fmt.Errorf("send ack: %w", err)
	}
	if perr != nil {
		c.sendBye(ctx)
		return fmt.Errorf("sdp of the 200: %w", perr)
	}
	m := r.media(codec)
	m.SRTP = c.cfg.SRTP
	if c.cfg.NoSDP && c.cfg.NoEvents {
		m.HasEvents = false
	}
	c.startMedia(m)
	return nil
}

// ack sends the ACK for the INVITE's 2xx (with body for a delayed offer).
func (c *Call) ack(ctx context.Context, body []byte) error {
	ack := sip.NewRequest(sip.ACK, c.target)
	if body != nil {
		setSDP(ack, body)
	}
	c.ep.prepare(ack)
	at := time.Now()
	if err := c.sess.WriteAck(ctx, ack); err != nil {
		return err
	}
	c.ep.sent(at, ack)
	return nil
}

func listenRTP(ip string) (*net.UDPConn, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		return nil, fmt.Errorf("listen rtp: %w", err)
	}
	return conn, nil
}

func (c *Call) startMedia(m Media) {
	c.mu.Lock()
	c.media = m
	c.mu.Unlock()
	c.tx.setMedia(m)
	c.rec.setEventPT(m.EventPT, m.HasEvents)
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.stopMedia = cancel
	c.mu.Unlock()
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.tx.run(ctx) }()
	c.log.Debug("call answered", "remote_rtp", m.Remote.String(), "codec", m.Codec, "event_pt", m.EventPT)
}

// Media returns what was negotiated (updated by re-INVITEs).
func (c *Call) Media() Media {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.media
}

// LocalRTP is the address of the phone's RTP socket.
func (c *Call) LocalRTP() netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtpConn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// CallID is the Call-ID of the call.
func (c *Call) CallID() string { return c.callID }

// SIPLog returns the SIP messages exchanged, oldest first: every datagram
// or stream chunk received, and every request and response sent.
func (c *Call) SIPLog() []string { return c.sipLog.list() }

// Done is closed when the other side sent BYE.
func (c *Call) Done() <-chan struct{} { return c.bye }

// Close stops media and releases the call's sockets without sending
// anything. It is safe to call more than once; records stay readable.
func (c *Call) Close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.stopMedia != nil {
			c.stopMedia()
		}
		if c.rtpConn != nil {
			c.rtpConn.Close()
		}
		c.mu.Unlock()
		c.wg.Wait()
		c.tx.stop()
		c.rec.stop()
		if c.ep != nil {
			c.ep.close()
		}
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
