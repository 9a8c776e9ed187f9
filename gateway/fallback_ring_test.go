package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/prompts"
	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip"
)

// fakePool is an in-memory AgentPool with at most one agent: the first
// claim gets it, later ones find nobody.
type fakePool struct {
	mu      sync.Mutex
	agent   bool // an agent is free
	events  []string
	queued  map[string]bool
	release []routing.Outcome
}

func (p *fakePool) log(e string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

func (p *fakePool) Enqueue(_ context.Context, queue, callID string, _ int, _ string) (int, error) {
	p.log("enqueue " + queue)
	return 1, nil
}
func (p *fakePool) Position(context.Context, string, string) (int, error) { return 1, nil }
func (p *fakePool) Leave(context.Context, string, string) error           { return nil }
func (p *fakePool) ClaimForQueue(_ context.Context, queue, _, callID, gw string) (routing.Claim, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.agent {
		return routing.Claim{}, routing.ErrNoAgent
	}
	p.agent = false
	p.events = append(p.events, "claim")
	return routing.Claim{Ext: "1002", Token: "t", CallID: callID, GatewayID: gw, Binding: routing.Binding{
		Contact: "sip:1002@127.0.0.1:5999", Source: netip.MustParseAddrPort("127.0.0.1:5999"), Transport: "udp"}}, nil
}
func (p *fakePool) ClaimForQueuePreferring(ctx context.Context, queue, skill, callID, gw, _ string) (routing.Claim, error) {
	return p.ClaimForQueue(ctx, queue, skill, callID, gw)
}
func (p *fakePool) Renew(context.Context, routing.Claim) error { return nil }
func (p *fakePool) RenewAll(_ context.Context, c []routing.Claim) []error {
	return make([]error, len(c))
}
func (p *fakePool) Answered(context.Context, routing.Claim) error { return nil }
func (p *fakePool) Release(_ context.Context, _ routing.Claim, o routing.Outcome) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.release = append(p.release, o)
	return nil
}
func (p *fakePool) Heartbeat(context.Context, string, string) error { return nil }
func (p *fakePool) EstimatedWait(context.Context, string, string, int) (time.Duration, error) {
	return 0, nil
}
func (p *fakePool) RecordHandleTime(context.Context, string, time.Duration) error { return nil }
func (p *fakePool) Subscribe(context.Context) <-chan struct{}                     { return nil }
func (p *fakePool) SaveDialogs(context.Context, routing.Claim, []byte) error      { return nil }

// fakeDialer records each INVITE asked for and declines it (486).
type fakeDialer struct {
	dialed chan sip.DialRequest
	pool   *fakePool
}

func (d *fakeDialer) DialAgent(_ context.Context, r sip.DialRequest) (*sip.Outbound, error) {
	d.pool.log("dial")
	d.dialed <- r
	return nil, &sip.StatusError{Code: 486, Reason: "Busy Here"}
}

// ringRig is a Fallback on fakes and a caller's leg whose stream is not
// paced: a prompt started on it never reaches its end, as if the caller
// were still hearing its first frame.
type ringRig struct {
	f      *Fallback
	pool   *fakePool
	dialer *fakeDialer
	leg    *Leg
	steps  chan journey.Step
	hold   chan struct{} // closed when a blocking leg.Play was called
}

func newRingRig(t testing.TB) *ringRig {
	t.Helper()
	set, err := prompts.Default()
	if err != nil {
		t.Fatal(err)
	}
	ports, err := media.NewPortPool(41000+int(time.Now().UnixNano()%500)*4, 43100, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	stream := media.NewStream(media.StreamConfig{Conn: conn, Remote: netip.MustParseAddrPort("127.0.0.1:9"), PayloadType: 0})
	pool := &fakePool{agent: true}
	d := &fakeDialer{dialed: make(chan sip.DialRequest, 4), pool: pool}
	r := &ringRig{pool: pool, dialer: d, steps: make(chan journey.Step, 64), hold: make(chan struct{})}
	r.f = NewFallback(FallbackConfig{Pool: pool, Dialer: d, Ports: ports, Prompts: set,
		BindIP: netip.MustParseAddr("127.0.0.1"), PublicIP: netip.MustParseAddr("127.0.0.1"), GatewayID: "gw1",
		Logger: slog.New(slog.DiscardHandler)})
	var once sync.Once
	r.leg = &Leg{Stream: stream, Log: slog.New(slog.DiscardHandler), Keys: make(chan ivr.Press),
		Clips: func(lang string, names ...string) []*media.Clip { return clipsOf(set, lang, names) },
		// A blocking Play is the old way of playing the hold prompt: it
		// would keep the agent from being rung until the prompt's end.
		Play: func(ctx context.Context, lang string, names ...string) error {
			once.Do(func() { close(r.hold) })
			<-ctx.Done()
			return ctx.Err()
		},
		Note:   func(s journey.Step) { r.steps <- s },
		Caller: sip.Party{User: "5550001"},
		ID:     "call-1",
	}
	return r
}

func clipsOf(set *prompts.Set, lang string, names []string) []*media.Clip {
	var out []*media.Clip
	for _, n := range names {
		if c, ok := set.Clip(lang, n); ok {
			out = append(out, c)
		}
	}
	return out
}

// TestConnectRingsDuringHoldPrompt: the agent is dialled while the hold
// prompt ("transfer") is still playing, not after it; the caller was queued
// and the agent claimed before the INVITE.
func TestConnectRingsDuringHoldPrompt(t *testing.T) {
	r := newRingRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- r.f.Connect(ctx, r.leg, ivr.Transfer{Reason: ivr.ReasonCallerRequest, Path: []string{"main"}, Lang: "en"})
	}()
	select {
	case <-r.dialer.dialed:
	case <-r.hold:
		t.Fatal("Connect waited for the whole hold prompt (blocking leg.Play) before dialling the agent")
	case <-time.After(10 * time.Second):
		t.Fatal("Connect did not dial the agent within 10 s")
	}
	if got, want := strings.Join(r.pool.snapshot(), ","), "enqueue support,claim,dial"; !strings.HasPrefix(got, want) {
		t.Errorf("pool and dialler events = %s, want them to start %s", got, want)
	}
	cancel()
	<-errc
	var kinds []string
	for len(r.steps) > 0 {
		s := <-r.steps
		kinds = append(kinds, s.Kind+":"+s.Prompt+s.Agent)
	}
	if got, want := strings.Join(kinds, " "), "queued: prompt:transfer ringing:1002"; !strings.HasPrefix(got, want) {
		t.Errorf("journey steps = %s, want them to start %s", got, want)
	}
}

func (p *fakePool) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

// TestAgentScreenPopHeaders: the agent's INVITE carries the X-IVR headers
// in one fixed order: path, keys, reason, wait, language, repeat count,
// then queue and collected digits.
func TestAgentScreenPopHeaders(t *testing.T) {
	tests := []struct {
		name   string
		t      ivr.Transfer
		keys   string
		repeat int
		want   [][2]string
	}{
		{"person key", ivr.Transfer{Reason: ivr.ReasonCallerRequest, Path: []string{"main"}, Lang: "en"}, "70", 0, [][2]string{
			{"X-IVR-Path", "main"}, {"X-IVR-Keys", "70"}, {"X-IVR-Reason", "caller_request"}, {"X-IVR-Wait", "0"},
			{"X-IVR-Language", "en"}, {"X-IVR-Repeat", "0"}, {"X-IVR-Queue", "support"}, {"X-IVR-Digits", ""}}},
		{"billing, spanish, repeat caller", ivr.Transfer{Queue: "billing", Reason: ivr.ReasonMenuOption, Path: []string{"main", "billing"},
			Lang: "es", Digits: map[string]string{"b": "2", "a": "1"}}, "12x", 2, [][2]string{
			{"X-IVR-Path", "main>billing"}, {"X-IVR-Keys", "12x"}, {"X-IVR-Reason", "menu_option"}, {"X-IVR-Wait", "0"},
			{"X-IVR-Language", "es"}, {"X-IVR-Repeat", "2"}, {"X-IVR-Queue", "billing"}, {"X-IVR-Digits", "a=1;b=2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRingRig(t)
			r.leg.Play = func(context.Context, string, ...string) error { return nil }
			r.leg.MenuKeys = func() string { return tt.keys }
			r.leg.RepeatCalls = tt.repeat
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- r.f.Connect(ctx, r.leg, tt.t) }()
			var req sip.DialRequest
			select {
			case req = <-r.dialer.dialed:
			case <-time.After(10 * time.Second):
				t.Fatal("no INVITE within 10 s")
			}
			cancel()
			<-errc
			var got [][2]string
			for _, name := range req.HeaderOrder {
				got = append(got, [2]string{name, req.Headers[name]})
			}
			if len(req.HeaderOrder) != len(req.Headers) {
				t.Errorf("HeaderOrder %v does not name all of Headers %v", req.HeaderOrder, req.Headers)
			}
			if g, w := headerText(got), headerText(tt.want); g != w {
				t.Errorf("agent INVITE headers =\n%s\nwant\n%s", g, w)
			}
		})
	}
}

func headerText(h [][2]string) string {
	var b strings.Builder
	for _, kv := range h {
		b.WriteString(kv[0] + ": " + kv[1] + "\n")
	}
	return b.String()
}

// BenchmarkConnectToInvite: from Connect (the caller asked for a person) to
// the agent's INVITE being handed to the SIP layer, on in-memory fakes:
// the gateway's own part of "key press to INVITE" (no Redis, no network).
func BenchmarkConnectToInvite(b *testing.B) {
	r := newRingRig(b)
	var total time.Duration
	for b.Loop() {
		r.pool.mu.Lock()
		r.pool.agent, r.pool.events = true, nil
		r.pool.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		start := time.Now()
		go func() {
			errc <- r.f.Connect(ctx, r.leg, ivr.Transfer{Reason: ivr.ReasonCallerRequest, Path: []string{"main"}, Lang: "en"})
		}()
		<-r.dialer.dialed
		total += time.Since(start)
		cancel()
		<-errc
		for len(r.steps) > 0 {
			<-r.steps
		}
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "µs/invite")
}
