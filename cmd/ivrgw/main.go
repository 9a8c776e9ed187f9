// Command ivrgw is the IVR gateway: it answers SIP calls, plays the voice menu
// from configs/menu.yaml, and connects callers to human agents.
//
// main only wires packages together; the logic lives in them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ivrgw/ivrgw/admin"
	"github.com/ivrgw/ivrgw/agents"
	"github.com/ivrgw/ivrgw/gateway"
	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/prompts"
	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip"
	"github.com/ivrgw/ivrgw/sip/registrar"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "validate":
			return validateCmd(args[1:], stdout, stderr)
		case "graph":
			return graphCmd(args[1:], stdout, stderr)
		case "check":
			return checkCmd(args[1:], stdout, stderr)
		case "agent":
			return agentCmd(args[1:], stdout, stderr)
		}
	}
	o, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "ivrgw:", err)
		return 2
	}
	log := newLogger(o, stderr)
	routing.RouteLibraryLogs(log)
	// The first SIGTERM or SIGINT drains (serve), the second ends the calls.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := serve(context.Background(), o, log, sigs); err != nil {
		log.Error("gateway stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(o *options, w io.Writer) *slog.Logger {
	hopts := &slog.HandlerOptions{Level: o.level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}

func serve(ctx context.Context, o *options, log *slog.Logger, sigs <-chan os.Signal) error {
	bind, public, err := o.addresses()
	if err != nil {
		return err
	}
	set, err := loadPrompts(o.prompts)
	if err != nil {
		return err
	}
	menus, err := ivr.NewReloader(o.menu, set, log)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("menu: %w (give -menu PATH, or run from the directory holding configs/)", err)
		}
		return fmt.Errorf("menu: %w", err)
	}
	dir, err := agents.Load(o.agents)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("agents: %w (give -agents PATH, or run from the directory holding configs/)", err)
		}
		return fmt.Errorf("agents: %w", err)
	}
	if dir.Realm() != o.realm {
		return fmt.Errorf("agents: %s was made for realm %q but -realm is %q (the stored HA1 hashes depend on it)", o.agents, dir.Realm(), o.realm)
	}
	pacer := media.NewPacer(0, log)
	shared, poolMin, err := openShared(o, bind, pacer)
	if err != nil {
		return err
	}
	defer func() {
		for _, m := range shared {
			_ = m.Close()
		}
	}()
	ports, err := media.NewPortPool(poolMin, o.rtpMax, o.rtpQuarantine)
	if err != nil {
		return fmt.Errorf("rtp ports: %w", err)
	}

	// Agents' state: a real Redis when -redis is given (it may be down now;
	// the gateway starts anyway, reports not ready, and reconnects), else an
	// embedded in-process one so the gateway runs with nothing installed.
	store, closeStore, err := openStore(o.redis, o.storeOptions(log))
	if err != nil {
		return err
	}
	defer closeStore()

	gwID := o.gatewayID
	if gwID == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(o.sip)
		gwID = host + ":" + port
	}
	// Bind the HTTP port before anything runs, so that "gateway started"
	// means every socket is open, and a taken port is an error at start.
	httpLn, err := net.Listen("tcp", o.http)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	defer httpLn.Close()

	// The SIP server dials agents for the fallback, and the gateway answers
	// the server's calls: gw is set before the server runs.
	var gw *gateway.Gateway
	tlsConf, err := o.tlsConfig()
	if err != nil {
		return err
	}
	srv, err := sip.NewServer(sip.Config{Listen: o.sip, PublicIP: public, UserAgent: "ivrgw", Logger: log,
		TLSListen: o.tlsListen, TLSConfig: tlsConf, SRTP: o.srtp,
		Limits: o.sipLimits, Allow: o.sipAllow},
		func(ctx context.Context, c *sip.Call) { gw.HandleCall(ctx, c) })
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	fallback := gateway.NewFallback(gateway.FallbackConfig{
		Pool: store, Dialer: srv, Ports: ports, Shared: shared, Pacer: pacer, Prompts: set, BindIP: bind, PublicIP: public,
		GatewayID: gwID, RingTimeout: o.ringTimeout, RenewEvery: o.leaseTTL / 3, Logger: log,
		Whisper: o.whisper == "on", Callback: o.callbackConfig(store), InbandBridged: o.inbandDTMF == gateway.InbandAlways,
	})
	metrics := admin.NewMetrics()
	sinks, closeSinks, err := journeySinks(o, store, metrics, log)
	if err != nil {
		return err
	}
	defer closeSinks()
	mask := journey.Plain
	if o.maskKey != "" {
		mask = journey.Hashed(o.maskKey)
	}
	gw, err = gateway.New(gateway.Config{
		PublicIP: public, BindIP: bind, Ports: ports, Shared: shared, Pacer: pacer,
		Menus: menus, Prompts: set, Router: fallback, Agents: store,
		NoRTPTimeout: o.noRTPTimeout, Logger: log,
		Journeys: sinks.sinks, MaskCaller: mask, GatewayID: gwID, InbandDTMF: o.inbandDTMF,
		Repeat: gateway.RepeatConfig{History: store, Calls: o.repeatCalls, Window: o.repeatWindow, Priority: o.repeatPriority},
	})
	if err != nil {
		return err
	}
	bindings := gateway.NewBindings(store, dir)
	if err := bindings.Sync(ctx); err != nil {
		log.Warn("agent store not reachable at start; agents appear as they register", "err", err)
	}
	reg := registrar.New(registrar.Config{
		Realm: o.realm, Directory: gateway.Directory{Dir: dir},
		Bindings: bindings, Logger: log, Algorithms: o.digestAlgs,
		AccountLockout: o.lockout, AccountMaxLockout: o.maxLockout,
	})
	srv.Handle("REGISTER", reg.ServeRegister)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	sipDone := make(chan error, 1)
	go pacer.Start(ctx)
	go func() { sipDone <- srv.Run(ctx) }()
	go menus.Watch(ctx, 2*time.Second)
	go reloadOnHUP(ctx, menus)
	go store.RunSweeper(ctx, time.Second)
	go gateway.ReapOrphans(ctx, store, srv, gwID, time.Second, log)
	go bindings.Run(ctx, time.Second, fallback.LiveClaims, log)
	go fallback.RunRenewals(ctx)
	// Callback calls end before the SIP server does, so their BYEs go out.
	cbCtx, cbCancel := context.WithCancel(ctx)
	cbDone := make(chan struct{})
	go func() { defer close(cbDone); fallback.RunCallbacks(cbCtx, srv.Draining) }()
	stopCallbacks := func() {
		cbCancel()
		select {
		case <-cbDone:
		case <-time.After(10 * time.Second):
			log.Warn("callback calls did not end within 10 s")
		}
	}

	registerMetrics(metrics, gw, srv, bindings, pacer, ports, menus)
	registerMuxMetrics(metrics, shared)
	registerCallbackMetrics(metrics, fallback)
	if sinks.stream != nil {
		go sinks.stream.Run(ctx, log)
	}
	probe := &admin.StoreProbe{}
	probe.Register(metrics)
	go probe.Run(ctx, store, time.Second, log)
	api := admin.Handler(admin.Config{Agents: store, Calls: gw, Metrics: metrics, Live: gw, Drain: srv.Draining,
		Supervisor: &admin.Supervisor{Live: gw, Agents: probe, Funnel: sinks.metrics},
		Token:      o.adminToken, Public: o.adminPublic, Logger: log})
	// Requests live under ctx: the supervisor's event streams end when the
	// gateway stops instead of holding Shutdown up.
	hs := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		if err := hs.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	redisName := o.redis
	if redisName == "" {
		redisName = "embedded"
	}
	log.Info("gateway started", "sip", o.sip, "public_ip", public.String(), "rtp_ports", o.rtpPorts, "rtp_shared", o.rtpShared,
		"http", o.http, "menu", o.menu, "agents", len(dir.All()), "redis", redactURL(redisName), "gateway_id", gwID)

	select {
	case <-ctx.Done():
	case sig := <-sigs:
		drain(srv, gw, fallback, o.drainTimeout, sigs, sig, log)
	case err = <-errc:
	case err = <-sipDone:
		sipDone <- err // for the wait below
	}
	log.Info("gateway stopping", "active_calls", gw.ActiveCalls())
	stopCallbacks()
	cancel()
	// The SIP server hangs up the calls still up (BYE, reason shutdown) and
	// waits a few seconds for their handlers: let it finish before the
	// process exits.
	select {
	case serr := <-sipDone:
		if err == nil {
			err = serr
		}
	case <-time.After(10 * time.Second):
		log.Warn("sip server did not stop within 10 s")
	}
	sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer scancel()
	_ = hs.Shutdown(sctx)
	log.Info("gateway stopped", "active_calls", gw.ActiveCalls())
	return err
}

// drain takes the gateway out of service and lets the live calls finish:
// new INVITEs and OPTIONS get 503 with Retry-After, /readyz says 503, and
// it returns when no call is left, after timeout, or at a second signal.
// The caller then cancels the server, which hangs up whatever is left.
func drain(srv *sip.Server, gw *gateway.Gateway, fb *gateway.Fallback, timeout time.Duration, sigs <-chan os.Signal, sig os.Signal, log *slog.Logger) {
	srv.Drain()
	log.Info("gateway draining", "signal", sig.String(), "active_calls", gw.ActiveCalls(),
		"drain_timeout", timeout.String(), "hint", "send the signal again to end the calls now")
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if srv.Idle() && gw.ActiveCalls() == 0 && fb.CallbackStats().Active == 0 {
			log.Info("gateway drained: no calls left")
			return
		}
		select {
		case sig := <-sigs:
			log.Warn("second signal: ending the calls now", "signal", sig.String(), "active_calls", gw.ActiveCalls())
			return
		case <-deadline.C:
			log.Warn("drain timeout: ending the calls left", "active_calls", gw.ActiveCalls(), "drain_timeout", timeout.String())
			return
		case <-tick.C:
		}
	}
}

// storeOptions are the agents' store settings the flags give.
func (o *options) storeOptions(log *slog.Logger) routing.Options {
	wrap := o.wrapUp
	if wrap == 0 {
		wrap = -1 // routing: negative is none, zero its default
	}
	return routing.Options{Logger: log, LeaseTTL: o.leaseTTL, WrapUp: wrap}
}

// openStore connects the agents' store to -redis, or to an embedded
// in-process Redis when none is given.
func openStore(url string, opts routing.Options) (*routing.Store, func(), error) {
	if url == "" {
		rdb, stop, err := routing.NewEmbedded()
		if err != nil {
			return nil, nil, fmt.Errorf("embedded redis: %w", err)
		}
		st := routing.New(rdb, opts)
		return st, func() { st.Close(); stop() }, nil
	}
	rdb, err := routing.Dial(url)
	if err != nil {
		return nil, nil, fmt.Errorf("-redis: %w", err)
	}
	st := routing.New(rdb, opts)
	return st, func() { st.Close(); _ = rdb.Close() }, nil
}

// redactURL hides a password in a Redis URL before it is logged.
func redactURL(s string) string {
	u, err := neturl.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = neturl.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func loadPrompts(dir string) (*prompts.Set, error) {
	if dir == "" {
		return prompts.Default()
	}
	return prompts.LoadDir(dir)
}

func reloadOnHUP(ctx context.Context, r *ivr.Reloader) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = r.Refresh("sighup") // logged by Refresh, as a file change is
		}
	}
}
