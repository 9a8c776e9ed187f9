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
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ivrgw/ivrgw/gateway"
	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/prompts"
	"github.com/ivrgw/ivrgw/sip"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "validate":
			return validate(args[1:], stdout, stderr)
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, log); err != nil {
		log.Error("gateway stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(o *options, w io.Writer) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}

// validate checks a menu file like the running gateway would and prints every problem.
func validate(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: ivrgw validate MENU.yaml")
		return 2
	}
	set, err := prompts.Default()
	if err != nil {
		fmt.Fprintln(stderr, "ivrgw: embedded prompts:", err)
		return 1
	}
	if _, err := ivr.Load(args[0], set); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", args[0])
	return 0
}

func serve(ctx context.Context, o *options, log *slog.Logger) error {
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
		return fmt.Errorf("menu: %w", err)
	}
	ports, err := media.NewPortPool(o.rtpMin, o.rtpMax, 30*time.Second)
	if err != nil {
		return fmt.Errorf("rtp ports: %w", err)
	}
	pacer := media.NewPacer(0, log)

	gw, err := gateway.New(gateway.Config{
		PublicIP: public, BindIP: bind, Ports: ports, Pacer: pacer,
		Menus: menus, Prompts: set, NoRTPTimeout: o.noRTPTimeout, Logger: log,
	})
	if err != nil {
		return err
	}
	srv, err := sip.NewServer(sip.Config{Listen: o.sip, PublicIP: public, UserAgent: "ivrgw", Logger: log}, gw.HandleCall)
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 3)
	go func() { pacer.Start(ctx) }()
	go func() { errc <- srv.Run(ctx) }()
	go menus.Watch(ctx, 2*time.Second)
	go reloadOnHUP(ctx, menus, log)

	hs := &http.Server{Addr: o.http, Handler: httpHandler(gw, srv), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	log.Info("gateway started", "sip", o.sip, "public_ip", public.String(), "rtp_ports", o.rtpPorts, "http", o.http, "menu", o.menu)

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer scancel()
	_ = hs.Shutdown(sctx)
	log.Info("gateway stopping", "active_calls", gw.ActiveCalls())
	return err
}

func loadPrompts(dir string) (*prompts.Set, error) {
	if dir == "" {
		return prompts.Default()
	}
	return prompts.LoadDir(dir)
}

func reloadOnHUP(ctx context.Context, r *ivr.Reloader, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := r.Reload(); err != nil {
				log.Error("menu reload refused, previous menu stays in service", "err", err)
			}
		}
	}
}

func httpHandler(gw *gateway.Gateway, srv *sip.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "ivrgw_calls_active %d\nivrgw_calls_total %d\n", gw.ActiveCalls(), gw.TotalCalls())
	})
	return mux
}
