package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ivrgw/ivrgw/admin"
	"github.com/ivrgw/ivrgw/gateway"
	"github.com/ivrgw/ivrgw/sip"
	"github.com/ivrgw/ivrgw/sip/registrar"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// options are the operator's settings. Every one can be given as a flag or as
// an environment variable (IVRGW_ + the flag name in capitals, '-' as '_');
// a flag wins over the environment.
type options struct {
	sip          string
	rtpPorts     string
	rtpMin       int
	rtpMax       int
	publicIP     string
	http         string
	menu         string
	prompts      string
	redis        string
	agents       string
	realm        string
	digestAlgs   []string
	noRTPTimeout time.Duration
	ringTimeout  time.Duration
	leaseTTL     time.Duration
	wrapUp       time.Duration // an agent's pause after each call; 0: none
	logLevel     string
	level        slog.Level
	logFormat    string
	gatewayID    string
	sipLimits    sip.Limits
	sipAllow     []netip.Prefix
	lockout      time.Duration
	maxLockout   time.Duration
	drainTimeout time.Duration
	adminToken   string
	journeyFile  string
	journeyLen   int64
	maskKey      string
	adminPublic  []string
	// SIP over TLS and SDES-SRTP (tls.go)
	tlsListen, tlsCert, tlsKey string
	srtp                       sdp.SRTPMode

	rtpQuarantine time.Duration // how long a released RTP port rests
	rtpShared     int           // shared RTP sockets, on the first even ports of the range; 0: a port per leg
	inbandDTMF    gateway.InbandMode

	// the repeat-caller fast track (repeat.go)
	repeatCalls    int
	repeatWindow   time.Duration
	repeatPriority int

	// whisper and callbacks (callback.go)
	whisper string
	cb      callbackOptions
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("ivrgw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.sip, "sip", "0.0.0.0:5060", "SIP listen address, UDP and TCP")
	fs.StringVar(&o.rtpPorts, "rtp-ports", "10000-20000", "RTP port range MIN-MAX")
	fs.DurationVar(&o.rtpQuarantine, "rtp-quarantine", 3*time.Second, "keep a released RTP port unused this long (late packets of an old call are dropped anyway: a stream takes RTP only from its latched source)")
	fs.IntVar(&o.rtpShared, "rtp-shared", 0, "RTP sockets shared by all legs whose SDP names the address they signal from (read and written in batches by the pacer; docs/design.md), bound on the first even ports of -rtp-ports; legs of phones behind a NAT still get a port each. 0: a port per leg")
	fs.StringVar(&o.publicIP, "public-ip", "", "address written into SDP and Contact (default: the -sip host, or this host's first non-loopback IPv4 when that is 0.0.0.0)")
	fs.StringVar(&o.http, "http", "127.0.0.1:8080", "HTTP listen address for /healthz, /readyz, /metrics and /agents; off loopback it needs -admin-token")
	fs.StringVar(&o.adminToken, "admin-token", "", "bearer token for the HTTP API (required when -http is not on loopback); prefer IVRGW_ADMIN_TOKEN over the flag, which ps shows")
	public := fs.String("admin-public", "/healthz,/readyz", "comma-separated HTTP paths readable without the token (add /metrics for a scraper without credentials)")
	fs.StringVar(&o.journeyFile, "journey-file", "", "append each call's journey as a JSON line to this file (\"-\" for stdout); empty: none")
	fs.Int64Var(&o.journeyLen, "journey-stream-len", 10000, "keep about this many recent journeys in the Redis stream ivr:{pool}:journeys; 0: none")
	fs.StringVar(&o.maskKey, "mask-callers", "", "store callers' numbers in journeys as a keyed hash with this secret instead of in the clear (prefer IVRGW_MASK_CALLERS)")
	fs.StringVar(&o.menu, "menu", "configs/menu.yaml", "menu file; reloaded on change and on SIGHUP (a relative default is looked for in the working directory, then beside the binary)")
	fs.StringVar(&o.prompts, "prompts", "", "directory of prompt WAVs that override the embedded set (<lang>/<name>.wav)")
	fs.StringVar(&o.redis, "redis", "", "Redis URL for agents and queues (redis://host:port/0); empty runs an embedded in-process Redis")
	fs.StringVar(&o.agents, "agents", "configs/agents.yaml", "agent directory file")
	fs.StringVar(&o.realm, "realm", "ivrgw", "digest realm for agent registration")
	algs := fs.String("digest-algorithms", "SHA-256,MD5", "digest algorithms offered to registering agents, in order; \"MD5\" alone for softphones that give up on a SHA-256 challenge (Debian's baresip 1.0)")
	fs.DurationVar(&o.noRTPTimeout, "no-rtp-timeout", 30*time.Second, "hang up a call after this long without RTP from the caller")
	fs.DurationVar(&o.ringTimeout, "ring-timeout", 15*time.Second, "ring an agent this long before trying the next one")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", 15*time.Second, "an agent's claim lease, renewed while the call lives; if a gateway dies its agents come back after this")
	fs.DurationVar(&o.wrapUp, "wrap-up", 5*time.Second, "an agent rests in wrap_up this long after each call before the next is offered; 0: none")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 5*time.Minute, "on SIGTERM/SIGINT, refuse new calls (503) and let live ones finish for up to this long before hanging them up; a second signal ends them at once")
	fs.StringVar(&o.gatewayID, "gateway-id", "", "this instance's name in shared Redis state (default: hostname:sip-port)")
	fs.StringVar(&o.tlsListen, "tls-listen", "", "SIP over TLS listen address, e.g. 0.0.0.0:5061; empty: no TLS")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (chain) for -tls-listen")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key for -tls-cert")
	srtp := fs.String("srtp", "off", "SDES-SRTP on calls over TLS: off, optional (RTP/SAVP or plain RTP/AVP) or required (488 without it)")
	def := sip.DefaultLimits()
	limInvite := fs.String("sip-limit-invite", rateString(def.Invite), "INVITEs per second per source IP, RATE/BURST, or off; over it 503 + Retry-After, far over it dropped")
	limRegister := fs.String("sip-limit-register", rateString(def.Register), "REGISTERs per second per source IP, RATE/BURST, or off")
	limOptions := fs.String("sip-limit-options", rateString(def.Options), "OPTIONS per second per source IP, RATE/BURST, or off")
	fs.IntVar(&o.sipLimits.MaxPending, "sip-max-pending", def.MaxPending, "calls per source IP between INVITE and ACK (each holds an RTP port); beyond it 503; 0 for no cap")
	fs.IntVar(&o.sipLimits.MaxSources, "sip-max-sources", def.MaxSources, "source IPs tracked by the rate limits (least recently seen forgotten first)")
	allow := fs.String("sip-allow", "", "CIDRs callers may INVITE from, comma-separated (e.g. 10.0.0.0/8,192.0.2.7); empty: any; others get 403")
	fs.DurationVar(&o.lockout, "register-lockout", time.Second, "an agent account is locked for password guesses this long after 5 failures within a minute, doubling with each lockout")
	fs.DurationVar(&o.maxLockout, "register-max-lockout", 5*time.Minute, "cap on that lockout")
	fs.IntVar(&o.repeatCalls, "repeat-calls", 3, "a number calling this many times within -repeat-window skips the menu (\"welcome back\") and goes to a person, its last agent first if free; 0: off")
	fs.DurationVar(&o.repeatWindow, "repeat-window", 30*time.Minute, "how far back -repeat-calls counts; recent calls per number are kept in Redis this long (hashed with -mask-callers)")
	fs.IntVar(&o.repeatPriority, "repeat-priority", 50, "queue priority of a fast-tracked repeat caller, 0 (normal) to 99")
	o.callbackFlags(fs)
	inband := fs.String("inband-dtmf", "auto", "where DTMF tones in callers' audio are listened for: auto (callers that did not negotiate RFC 4733 telephone-events, outside a bridge), always (also phones that negotiate events yet send tones; costs CPU on every packet) or off")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ivrgw [flags]\n       ivrgw check [flags]\n       ivrgw validate [-agents AGENTS.yaml] MENU.yaml\n       ivrgw graph [-format dot|mermaid] MENU.yaml\n       ivrgw agent add -ext N -name NAME [-skills a,b]\n\nflags (each also read from IVRGW_<NAME>):\n")
		fs.PrintDefaults()
	}
	// Environment first, so that flags given on the command line win.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		key := "IVRGW_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", key, v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// The shipped configs/ paths are relative: found from the working
	// directory, else from the binary's own directory (an installed
	// /opt/ivrgw/ivrgw next to /opt/ivrgw/configs), when not given.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, p := range map[string]*string{"menu": &o.menu, "agents": &o.agents} {
		_, fromEnv := os.LookupEnv("IVRGW_" + strings.ToUpper(name))
		if !given[name] && !fromEnv {
			*p = besideBinary(*p)
		}
	}
	var err error
	if o.digestAlgs, err = registrar.CheckAlgorithms(strings.Split(*algs, ",")); err != nil {
		return nil, fmt.Errorf("-digest-algorithms: %w", err)
	}
	if o.rtpMin, o.rtpMax, err = parsePortRange(o.rtpPorts); err != nil {
		return nil, fmt.Errorf("-rtp-ports: %w", err)
	}
	if o.rtpShared < 0 || o.rtpShared > maxRTPShared {
		return nil, fmt.Errorf("-rtp-shared %d: want 0..%d", o.rtpShared, maxRTPShared)
	}
	if o.rtpShared > 0 {
		if _, _, err := o.sharedPorts(); err != nil {
			return nil, fmt.Errorf("-rtp-shared %d: %w", o.rtpShared, err)
		}
	}
	if o.rtpQuarantine < 0 {
		return nil, fmt.Errorf("-rtp-quarantine %v: want 0 or more", o.rtpQuarantine)
	}
	if _, _, err := net.SplitHostPort(o.sip); err != nil {
		return nil, fmt.Errorf("-sip %q: %w", o.sip, err)
	}
	if o.leaseTTL < 3*time.Second {
		return nil, fmt.Errorf("-lease-ttl %v: want at least 3s (it is renewed every third of it)", o.leaseTTL)
	}
	for _, l := range []struct {
		name string
		v    string
		dst  *sip.RateLimit
	}{{"-sip-limit-invite", *limInvite, &o.sipLimits.Invite}, {"-sip-limit-register", *limRegister, &o.sipLimits.Register}, {"-sip-limit-options", *limOptions, &o.sipLimits.Options}} {
		if *l.dst, err = parseRateLimit(l.v); err != nil {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
	}
	switch {
	case o.sipLimits.MaxPending < 0:
		return nil, fmt.Errorf("-sip-max-pending %d: want 0 (no cap) or more", o.sipLimits.MaxPending)
	case o.sipLimits.MaxPending == 0:
		o.sipLimits.MaxPending = -1 // sip.Limits: negative is no cap
	}
	if o.sipLimits.MaxSources < 1 {
		return nil, fmt.Errorf("-sip-max-sources %d: want at least 1", o.sipLimits.MaxSources)
	}
	if o.sipAllow, err = parseAllow(*allow); err != nil {
		return nil, fmt.Errorf("-sip-allow: %w", err)
	}
	if o.lockout <= 0 || o.maxLockout < o.lockout {
		return nil, fmt.Errorf("-register-lockout %v, -register-max-lockout %v: want 0 < lockout <= max", o.lockout, o.maxLockout)
	}
	if o.wrapUp < 0 {
		return nil, fmt.Errorf("-wrap-up %v: want 0 (none) or more", o.wrapUp)
	}
	if o.journeyLen < 0 {
		return nil, fmt.Errorf("-journey-stream-len %d: want 0 or more", o.journeyLen)
	}
	if o.drainTimeout < 0 {
		return nil, fmt.Errorf("-drain-timeout %v: want 0 (hang up at once) or more", o.drainTimeout)
	}
	if err := admin.CheckExposure(o.http, o.adminToken); err != nil {
		return nil, fmt.Errorf("-http: %w", err)
	}
	for _, p := range strings.Split(*public, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if !strings.HasPrefix(p, "/") {
				return nil, fmt.Errorf("-admin-public %q: paths start with /", p)
			}
			o.adminPublic = append(o.adminPublic, p)
		}
	}
	if err := o.level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", o.logLevel)
	}
	if err := o.checkTLS(*srtp); err != nil {
		return nil, err
	}
	if err := o.checkRepeat(); err != nil {
		return nil, err
	}
	if err := o.checkCallback(); err != nil {
		return nil, err
	}
	if o.inbandDTMF, err = gateway.ParseInbandMode(*inband); err != nil {
		return nil, fmt.Errorf("-inband-dtmf: %w", err)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return nil, fmt.Errorf("-log-format %q: want text or json", o.logFormat)
	}
	return o, nil
}

// besideBinary returns rel if it exists from the working directory, else
// the same path next to the running binary if that exists, else rel (the
// error then names the path looked for).
func besideBinary(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	if _, err := os.Stat(rel); err == nil {
		return rel
	}
	exe, err := os.Executable()
	if err != nil {
		return rel
	}
	return besideBinaryOf(rel, exe)
}

func besideBinaryOf(rel, exe string) string {
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	if p := filepath.Join(filepath.Dir(exe), rel); fileExists(p) {
		return p
	}
	return rel
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func parsePortRange(s string) (int, int, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want MIN-MAX", s)
	}
	min, err1 := strconv.Atoi(strings.TrimSpace(lo))
	max, err2 := strconv.Atoi(strings.TrimSpace(hi))
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("%q: ports must be numbers", s)
	case min < 1024 || max > 65535 || min >= max:
		return 0, 0, fmt.Errorf("%q: want 1024 <= MIN < MAX <= 65535", s)
	case max-min < 2:
		return 0, 0, fmt.Errorf("%q: range holds no even/odd pair", s)
	}
	return min, max, nil
}

// maxRTPShared bounds -rtp-shared: a few sockets carry thousands of calls
// (one pacer worker drains each), more only spread the same work thinner.
const maxRTPShared = 64

// sharedPorts splits -rtp-ports for -rtp-shared: the shared sockets' ports
// (the first even ones) and the first port left for legs of their own.
func (o *options) sharedPorts() (shared []int, poolMin int, err error) {
	first := o.rtpMin + o.rtpMin%2
	for i := range o.rtpShared {
		shared = append(shared, first+2*i)
	}
	poolMin = first + 2*o.rtpShared
	if poolMin > o.rtpMax-1 {
		return nil, 0, fmt.Errorf("-rtp-ports %s leaves no port pair for legs behind a NAT", o.rtpPorts)
	}
	return shared, poolMin, nil
}

// addresses works out where RTP binds and what address goes into SDP.
func (o *options) addresses() (bind, public netip.Addr, err error) {
	host, _, _ := net.SplitHostPort(o.sip)
	bind = netip.IPv4Unspecified()
	if host != "" {
		if bind, err = netip.ParseAddr(host); err != nil {
			return bind, public, fmt.Errorf("-sip host %q must be an IP address: %w", host, err)
		}
	}
	switch {
	case o.publicIP != "":
		if public, err = netip.ParseAddr(o.publicIP); err != nil {
			return bind, public, fmt.Errorf("-public-ip: %w", err)
		}
	case !bind.IsUnspecified():
		public = bind
	default:
		public = firstIPv4()
	}
	return bind.Unmap(), public.Unmap(), nil
}

// firstIPv4 is this host's first up, non-loopback IPv4 address, or 127.0.0.1.
func firstIPv4() netip.Addr {
	ifs, err := net.Interfaces()
	if err == nil {
		for _, ifc := range ifs {
			if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
				continue
			}
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
					return p.Addr()
				}
			}
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// parseRateLimit reads RATE/BURST ("20/40"), RATE alone (burst = 2×rate),
// or "off".
func parseRateLimit(s string) (sip.RateLimit, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return sip.RateLimit{Rate: -1}, nil
	}
	r, b, hasBurst := strings.Cut(s, "/")
	rate, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
	if err != nil || !(rate > 0 && rate <= 1e6) { // also refuses NaN
		return sip.RateLimit{}, fmt.Errorf("%q: want RATE/BURST with RATE > 0, or off", s)
	}
	burst := int(min(2*rate, 1e6))
	if hasBurst {
		if burst, err = strconv.Atoi(strings.TrimSpace(b)); err != nil || burst < 1 || burst > 1e6 {
			return sip.RateLimit{}, fmt.Errorf("%q: BURST must be a whole number >= 1", s)
		}
	}
	return sip.RateLimit{Rate: rate, Burst: max(burst, 1)}, nil
}

func rateString(l sip.RateLimit) string {
	return strconv.FormatFloat(l.Rate, 'f', -1, 64) + "/" + strconv.Itoa(l.Burst)
}

// parseAllow reads a comma-separated list of CIDRs; a bare address is one
// host (/32 or /128).
func parseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", f, err)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
