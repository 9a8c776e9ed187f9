package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/prompts"
	"github.com/ivrgw/ivrgw/sip"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// MenuSource gives the menu in service now. A call takes one snapshot at its
// start and keeps it, so an operator's reload never changes a menu under a
// caller's feet (ivr.Reloader satisfies it).
type MenuSource interface {
	Current() *ivr.Config
}

// Config is what the gateway needs to run calls.
type Config struct {
	PublicIP     netip.Addr // written into SDP
	BindIP       netip.Addr // where RTP sockets are bound
	Ports        *media.PortPool
	Shared       []*media.Mux // -rtp-shared: sockets callers share when their SDP names their own address; none: a port each
	Pacer        *media.Pacer
	Menus        MenuSource
	Prompts      *prompts.Set
	Router       Router       // the human fallback; nil plays an honest "cannot connect" message
	Agents       AgentControl // for agents' feature codes; nil disables them
	Features     FeatureCodes
	NoRTPTimeout time.Duration  // a caller silent this long (no RTP at all) is hung up on; default 30 s
	Journeys     journey.Sink   // gets each call's record when it ends; nil: none
	MaskCaller   journey.Masker // what the journey (and the caller history) keeps of the caller's number; nil: the number
	Repeat       RepeatConfig   // the repeat-caller fast track; zero: off
	GatewayID    string         // written into journeys
	InbandDTMF   InbandMode     // where DTMF tones are listened for; "" is InbandAuto
	Logger       *slog.Logger
}

// Gateway answers calls. It is safe for concurrent use: every call runs in
// its own HandleCall goroutine.
type Gateway struct {
	cfg    Config
	active atomic.Int64
	total  atomic.Int64
	live   calls // the calls in progress, for Calls
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Gateway, error) {
	if cfg.Ports == nil || cfg.Pacer == nil || cfg.Menus == nil || cfg.Prompts == nil {
		return nil, errors.New("gateway: ports, pacer, menus and prompts are required")
	}
	if cfg.NoRTPTimeout <= 0 {
		cfg.NoRTPTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Router == nil {
		cfg.Router = Unavailable{}
	}
	if cfg.MaskCaller == nil {
		cfg.MaskCaller = journey.Plain
	}
	return &Gateway{cfg: cfg}, nil
}

// ActiveCalls is the number of calls in progress.
func (g *Gateway) ActiveCalls() int64 { return g.active.Load() }

// TotalCalls is the number of calls handled since start.
func (g *Gateway) TotalCalls() int64 { return g.total.Load() }

// Reasons a call ends on our side, recorded with context.WithCancelCause.
var (
	errNoRTP    = errors.New("no_rtp")
	errMenuDone = errors.New("menu_done")
)

// HandleCall is the sip.CallHandler: it owns the call until it ends.
func (g *Gateway) HandleCall(ctx context.Context, c *sip.Call) {
	g.active.Add(1)
	g.total.Add(1)
	defer g.active.Add(-1)
	log := c.Logger()
	start := time.Now()
	sum := summary{callID: c.ID(), caller: c.Caller().User}
	tr := newTracker(c.ID(), g.cfg.MaskCaller(c.Caller().User), start)
	sum.tr = tr
	g.live.add(c.ID(), tr)
	defer g.live.remove(c.ID())

	// One bad call must never take the daemon down (sipgo recovers nothing).
	defer func() {
		if r := recover(); r != nil {
			log.Error("call panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			sum.ended = "panic"
			hangupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = c.Hangup(hangupCtx)
		}
		sum.duration = time.Since(start)
		sum.log(log)
		g.finishJourney(tr, &sum, c.Transport())
	}()

	sum.ended = g.run(ctx, c, log, &sum)
}

// run answers the call and drives the menu; it returns how the call ended.
func (g *Gateway) run(ctx context.Context, c *sip.Call, log *slog.Logger, sum *summary) string {
	handled, confirm, ended := g.featureCode(ctx, c)
	if handled && confirm == "" {
		return ended
	}
	var rep *repeatCall
	if !handled {
		// Before the answer, while the caller's phone still rings: the
		// lookup's round trip is never heard as silence.
		rep = g.recordCall(ctx, c, log)
	}
	offer, _ := c.Offer()
	sock, err := openRTP(g.cfg.Ports, g.cfg.Shared, g.cfg.BindIP, sameHost(offer, c.Source().Addr()))
	if err != nil {
		log.Error("no rtp port", "err", err)
		_ = c.Reject(503, "Service Unavailable")
		return "no_rtp_port"
	}
	defer sock.free()
	port := sock.port

	local := sdp.Local{Addr: g.cfg.PublicIP, Port: port, Codecs: []uint8{0, 8}, SessionID: uint64(time.Now().UnixNano()), Version: 1}
	m, err := c.Answer(ctx, local)
	if err != nil {
		log.Info("call not answered", "err", err)
		return "not_answered"
	}
	sum.codec = codecName(m.Codec)
	sum.tr.rec.Answered()
	log.Info("call answered", "codec", sum.codec, "remote_rtp", m.Remote.String(), "event_pt", m.EventPT, "rtp_port", port, "rtp_shared", sock.mux != nil, "srtp", m.SRTP != nil)
	sec, err := srtpFor(m)
	if err != nil {
		log.Error("srtp setup failed", "err", err)
		hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer hcancel()
		_ = c.Hangup(hctx)
		return "srtp_failed"
	}

	stream := media.NewStream(media.StreamConfig{
		Conn: sock.conn, Mux: sock.mux, Remote: m.Remote, PayloadType: m.PayloadType, Codec: m.Codec,
		EventPT: m.EventPT, HasEvents: m.HasEvents, Inband: g.cfg.InbandDTMF.listens(m.HasEvents), Logger: log, SRTP: sec,
	})
	stream.SetSending(!m.Hold)

	callCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	grp, gctx := newGroup(callCtx, log)

	g.cfg.Pacer.Add(stream)
	defer g.cfg.Pacer.Remove(stream)

	keys := make(chan ivr.Press, 32)
	tap := &digitTap{}
	grp.Go("rtp", func() error { return stream.Run(gctx) })
	grp.Go("digits", func() error { g.pumpDigits(gctx, c, stream, keys, tap, sum); return nil })
	grp.Go("media watch", func() error { g.watchMedia(gctx, c, stream, m, cancel, log); return nil })

	if handled {
		// A feature code: say what changed, then hang up.
		pb := stream.Play(ch0(g, log, confirm)...)
		select {
		case <-pb.Done():
		case <-gctx.Done():
		}
		cancel(errMenuDone)
		_ = grp.Wait()
		hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer hcancel()
		_ = c.Hangup(hctx)
		return ended
	}

	menu := g.cfg.Menus.Current()
	ch := &channel{g: g, call: c, stream: stream, log: log, menu: menu, keys: keys, tap: tap, tr: sum.tr, grp: grp, rep: rep}
	if g.fastTrack(gctx, ch) {
		sum.menu.Outcome = "transfer:" + ReasonRepeatCaller
	} else {
		sess := ivr.NewSession(menu, ch, log)
		sess.Observe(sum.tr.menu)
		sum.menu = sess.Run(gctx, keys)
	}

	// How the call ended, most specific first: our own hang-up or transfer,
	// then what the SIP layer saw (remote BYE, CANCEL), then our own causes.
	ended = ch.ended
	if ended == "" {
		ended = c.EndReason()
	}
	if cause := context.Cause(callCtx); ended == "" && cause != nil && !errors.Is(cause, context.Canceled) {
		ended = cause.Error()
	}
	cancel(errMenuDone)
	_ = grp.Wait()
	sum.rtp = stream.Stats()
	sum.packetsIn, sum.packetsOut = sum.rtp.PacketsIn, sum.rtp.PacketsOut

	// Whatever ended the menu, make sure the dialog is closed: a hang-up is
	// guaranteed on every path. Hangup is a no-op when the caller already left.
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer hcancel()
	if err := c.Hangup(hctx); err != nil {
		log.Warn("bye failed", "err", err)
	}
	if ended == "" {
		ended = c.EndReason()
	}
	// The menu sees only that its call went away; say who ended it when it
	// was not the caller (a drain's BYE, no RTP, an ACK that never came).
	if sum.menu.Outcome == ivr.OutcomeCallerHangup && ended != "remote_bye" && ended != "cancel" {
		sum.menu.Outcome = "ended:" + ended
	}
	return ended
}

// finishJourney closes the call's record and hands it to the sinks.
func (g *Gateway) finishJourney(tr *tracker, sum *summary, transport string) {
	ended := sum.ended
	j := tr.rec.Finish(ended, tr.endedBy(ended), func(j *journey.Journey) {
		j.Gateway, j.Transport, j.Codec = g.cfg.GatewayID, transport, sum.codec
		j.Path, j.Keys, j.Outcome = sum.menu.Path, sum.menu.Keys, sum.menu.Outcome
		j.RTPIn, j.RTPOut = sum.rtp.PacketsIn, sum.rtp.PacketsOut
		j.RTPLate, j.RTPForeign = sum.rtp.LateTicks, sum.rtp.ForeignDropped+sum.rtp.Garbage
		j.RTPLost = sum.rtp.Lost
	})
	if j != nil && g.cfg.Journeys != nil {
		g.cfg.Journeys.Record(j)
	}
}

// ch0 resolves one prompt in the default language.
func ch0(g *Gateway, log *slog.Logger, name string) []*media.Clip {
	ch := &channel{g: g, log: log}
	return ch.clips(g.cfg.Prompts.DefaultLanguage(), []string{name})
}

func codecName(pt uint8) string {
	if pt == 8 {
		return "PCMA"
	}
	return "PCMU"
}
