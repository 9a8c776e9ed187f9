package registrar

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Credentials is what the registrar needs to know about a user.
type Credentials struct {
	HA1MD5    string // hex MD5(user:realm:password)
	HA1SHA256 string // hex SHA-256(user:realm:password)
	Demo      bool   // may register from loopback sources only
}

// Directory looks users up by the digest username (= the extension).
type Directory interface {
	Lookup(user string) (Credentials, bool)
}

// Binding is one agent's registration: where to send its calls.
type Binding struct {
	Contact   string         // the Contact URI, e.g. sip:1001@192.168.1.7:5062
	Source    netip.AddrPort // where the REGISTER really came from (NAT: send here)
	Transport string         // UDP, TCP, TLS, WS, WSS: the transport it came over
	Expires   time.Time
	UserAgent string
}

// Bindings stores bindings; routing's Redis store, adapted by the wiring.
type Bindings interface {
	SetBinding(ctx context.Context, ext string, b Binding, ttl time.Duration) error
	RemoveBinding(ctx context.Context, ext string) error
}

// Config configures a Registrar. Zero durations take the defaults shown.
type Config struct {
	Realm     string // digest realm; must match the one the HA1s were made for
	Directory Directory
	Bindings  Bindings
	Logger    *slog.Logger

	MinExpires     time.Duration // 60s: below it, 423 (RFC 3261 §10.3 step 7)
	MaxExpires     time.Duration // 3600s: above it, lowered
	DefaultExpires time.Duration // 600s: when the request names none
	NonceTTL       time.Duration // 5m: older nonces get stale=true

	// Secret keys the nonce HMAC. Gateways behind one address should share
	// it so a nonce from one verifies at another; random when empty.
	Secret []byte

	MaxFailures   int           // 5 failed responses within FailureWindow ...
	FailureWindow time.Duration // 1m
	Lockout       time.Duration // 5m ... refuse the source (403) this long
	BaseDelay     time.Duration // 250ms: first failed answer held back this long, doubling
	MaxDelay      time.Duration // 2s: cap on that delay

	MaxTrackedNonces int // 65536: bound on the nonce-count replay table
	MaxSources       int // 4096: bound on the failure table

	// Per account, across sources (account.go): AccountFailures failed
	// responses within FailureWindow lock the account for guesses, first
	// for AccountLockout, doubling with each lockout up to
	// AccountMaxLockout. A correct response from a source address that
	// has registered the account before is accepted all the same.
	AccountFailures   int           // 5
	AccountLockout    time.Duration // 1s
	AccountMaxLockout time.Duration // 5m
	MaxAccounts       int           // 4096: bound on the account table

	// Algorithms are the digest algorithms offered, one WWW-Authenticate
	// each, in this order: "SHA-256" and/or "MD5" (default both, SHA-256
	// first, RFC 8760 §2.4). Some softphones give up on the first challenge
	// they cannot answer instead of reading on (Debian's baresip 1.0 on libre
	// 1.1 stops at SHA-256 with ENOSYS); for those, offer "MD5" alone.
	Algorithms []string

	Now func() time.Time // clock for tests; time.Now when nil
}

// ErrAlgorithm reports an unknown digest algorithm in Config.Algorithms.
var ErrAlgorithm = errors.New("unsupported digest algorithm")

// CheckAlgorithms validates a list for Config.Algorithms and returns it in
// canonical spelling.
func CheckAlgorithms(algs []string) ([]string, error) {
	if len(algs) == 0 {
		return nil, fmt.Errorf("%w: none given (want SHA-256 and/or MD5)", ErrAlgorithm)
	}
	var out []string
	for _, a := range algs {
		_, canon, ok := newHash(strings.TrimSpace(a))
		if !ok || strings.TrimSpace(a) == "" {
			return nil, fmt.Errorf("%w %q (want SHA-256 and/or MD5)", ErrAlgorithm, a)
		}
		if slices.Contains(out, canon) {
			return nil, fmt.Errorf("%w %q: listed twice", ErrAlgorithm, a)
		}
		out = append(out, canon)
	}
	return out, nil
}

// Registrar answers REGISTER requests. Safe for concurrent use.
type Registrar struct {
	cfg    Config
	log    *slog.Logger
	signer nonceSigner
	opaque string
	nc     *ncTracker
	lim    *limiter
	acct   *accountLimiter
	// sleep holds an answer back; replaced in tests. It returns early when
	// done closes (the transaction ended).
	sleep func(done <-chan struct{}, d time.Duration)
}

// New returns a Registrar. Directory and Bindings must be set.
func New(cfg Config) *Registrar {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MinExpires, 60*time.Second)
	def(&cfg.MaxExpires, 3600*time.Second)
	def(&cfg.DefaultExpires, 600*time.Second)
	def(&cfg.NonceTTL, 5*time.Minute)
	def(&cfg.FailureWindow, time.Minute)
	def(&cfg.Lockout, 5*time.Minute)
	def(&cfg.BaseDelay, 250*time.Millisecond)
	def(&cfg.MaxDelay, 2*time.Second)
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.MaxTrackedNonces <= 0 {
		cfg.MaxTrackedNonces = 1 << 16
	}
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = 4096
	}
	if cfg.AccountFailures <= 0 {
		cfg.AccountFailures = 5
	}
	def(&cfg.AccountLockout, time.Second)
	def(&cfg.AccountMaxLockout, 5*time.Minute)
	if cfg.MaxAccounts <= 0 {
		cfg.MaxAccounts = 4096
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if algs, err := CheckAlgorithms(cfg.Algorithms); err == nil {
		cfg.Algorithms = algs
	} else {
		cfg.Algorithms = []string{algSHA256, algMD5}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	key := cfg.Secret
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand, Go 1.24+)
	}
	s := nonceSigner{key: key}
	return &Registrar{
		cfg:    cfg,
		log:    cfg.Logger,
		signer: s,
		opaque: s.opaque(),
		nc:     newNCTracker(cfg.MaxTrackedNonces, cfg.NonceTTL),
		lim: &limiter{
			max: cfg.MaxSources, maxFailures: cfg.MaxFailures,
			window: cfg.FailureWindow, lockout: cfg.Lockout,
			baseDelay: cfg.BaseDelay, maxDelay: cfg.MaxDelay,
			src: make(map[netip.Prefix]*failState),
		},
		acct: newAccountLimiter(cfg.MaxAccounts, cfg.AccountFailures, cfg.FailureWindow,
			cfg.AccountLockout, cfg.AccountMaxLockout),
		sleep: func(done <-chan struct{}, d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-done:
			}
		},
	}
}

// request is what ServeRegister extracts before authenticating.
type request struct {
	req       *sip.Request
	tx        sip.ServerTransaction
	src       netip.AddrPort
	aor       string // To user: the extension
	contacts  []contact
	expires   int64 // Expires header, or -1
	userAgent string
}

// ServeRegister handles one REGISTER; register it with
// (*sip.Server).Handle("REGISTER", r.ServeRegister).
//
// Order (RFC 3261 §10.3, adapted): a refused source is answered 403 first;
// then every check that does not depend on who the user is (To, Contact,
// Expires: 400/423), so known and unknown users see identical answers; then
// digest authentication (§22.4): 401, 400, or 403 after too many failures;
// then what depends on the authenticated user (To matches, demo from
// loopback: 403); then the binding is stored (200).
func (r *Registrar) ServeRegister(req *sip.Request, tx sip.ServerTransaction) {
	now := r.cfg.Now()
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		r.log.Error("register without a source address", "source", req.Source(), "error", err)
		r.respond(req, tx, 500, "Server Internal Error")
		return
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	log := r.log.With("call_id", callID(req), "source", src.String())

	if left, locked := r.lim.locked(src.Addr(), now); locked {
		r.refuse(req, tx, left)
		return
	}

	in, code, reason := r.validate(req, tx, src)
	if code != 0 {
		log.Info("register rejected", "status", code, "reason", reason)
		r.respond(req, tx, code, reason)
		return
	}
	if e := r.effectiveExpires(in); e > 0 && e < 3600 && e < int64(r.cfg.MinExpires/time.Second) {
		// RFC 3261 §10.3 step 7: 423 iff 0 < expiry < 1 hour and below our minimum.
		res := sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
		res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(r.cfg.MinExpires/time.Second))))
		r.send(tx, res)
		return
	}

	user, ok := r.authenticate(in, now, log)
	if !ok {
		return // answered
	}
	log = log.With("ext", user)

	// The credentials must be for the AOR being registered (RFC 3261 §10.3
	// step 4: the registrar decides who may register whom; here, only
	// oneself).
	if user != in.aor {
		log.Warn("register for another extension refused", "to_user", in.aor)
		r.respond(req, tx, 403, "Forbidden: may only register your own extension")
		return
	}
	if len(in.contacts) == 0 {
		// A REGISTER without Contact is a query (RFC 3261 §10.2.3); the
		// binding store is write-only from here, so we cannot list bindings
		// and refuse rather than answer with an empty (wrong) list. Checked
		// after authentication so that RFC 4475 regaut01 (no Contact, unknown
		// scheme) is challenged.
		r.respond(req, tx, 400, "Bad Request: Contact required")
		return
	}
	creds, _ := r.cfg.Directory.Lookup(user)
	if creds.Demo && !src.Addr().IsLoopback() {
		log.Warn("demo account register from non-loopback refused")
		r.respond(req, tx, 403, "demo account: loopback only")
		return
	}
	r.apply(in, user, now, log)
}

// validate performs the user-independent checks. A non-zero code is the
// answer to send.
func (r *Registrar) validate(req *sip.Request, tx sip.ServerTransaction, src netip.AddrPort) (request, int, string) {
	in := request{req: req, tx: tx, src: src, expires: -1}
	to := req.To()
	if to == nil {
		return in, 400, "Bad Request: missing To"
	}
	// The To header names the AOR being registered (RFC 3261 §10.2); it must
	// be a SIP or SIPS URI (RFC 4475 §3.3.4, unksm2) naming a user.
	if s := strings.ToLower(to.Address.Scheme); s != "sip" && s != "sips" {
		return in, 400, "Bad Request: To must be a sip or sips URI"
	}
	if to.Address.User == "" || strings.ContainsAny(to.Address.User, "\r\n\x00") || len(to.Address.User) > 64 {
		return in, 400, "Bad Request: To must name an extension"
	}
	in.aor = to.Address.User

	cs, err := contactsOf(req)
	if err != nil {
		return in, 400, "Bad Request: " + err.Error()
	}
	in.contacts = cs

	hs := req.GetHeaders("Expires")
	if len(hs) > 1 {
		return in, 400, "Bad Request: more than one Expires"
	}
	if len(hs) == 1 {
		e, err := parseDeltaSeconds(hs[0].Value())
		if err != nil {
			return in, 400, "Bad Request: Expires " + err.Error()
		}
		in.expires = int64(e)
	}

	// RFC 3261 §10.3 step 6: "*" only alone, and only with Expires: 0.
	for _, c := range cs {
		if c.wildcard && (len(cs) > 1 || in.expires != 0) {
			return in, 400, `Bad Request: "*" Contact needs Expires: 0 and no other Contact`
		}
	}

	if h := req.GetHeader("User-Agent"); h != nil {
		ua := h.Value()
		if strings.ContainsAny(ua, "\r\n\x00") {
			return in, 400, "Bad Request: control character in User-Agent"
		}
		if len(ua) > 256 {
			ua = ua[:256]
		}
		in.userAgent = ua
	}
	if t := req.Transport(); strings.ContainsAny(t, "\r\n\x00") || len(t) > 8 {
		return in, 400, "Bad Request: transport"
	}
	return in, 0, ""
}

// effectiveExpires: the first contact's expires param, else the Expires
// header, else the default (RFC 3261 §10.2.1.1, §10.3 step 7).
func (r *Registrar) effectiveExpires(in request) int64 {
	if len(in.contacts) > 0 && in.contacts[0].expires >= 0 {
		return in.contacts[0].expires
	}
	if in.expires >= 0 {
		return in.expires
	}
	return int64(r.cfg.DefaultExpires / time.Second)
}

// authenticate runs digest authentication (RFC 3261 §22.4, RFC 7616,
// RFC 8760). It returns the authenticated username, or ok=false once it has
// answered the request itself.
//
// Decisions:
//   - no Digest credentials for our realm (none, another scheme as in
//     RFC 4475 regaut01, or another realm): 401 with a fresh challenge, so
//     the client learns our realm and schemes (RFC 3261 §22.1);
//   - a malformed Digest value, or one without qop=auth/cnonce/nc, or whose
//     uri is not the Request-URI: 400 (RFC 2617 §3.2.2.5);
//   - a wrong response: 401 with a fresh challenge (RFC 3261 §22.4 says the
//     server re-challenges rather than 403, so a mistyped password can be
//     corrected), held back by a growing delay; after MaxFailures within
//     FailureWindow the source gets 403 with Retry-After for Lockout.
//     Unknown users are checked against a fake HA1, so they see exactly
//     the same answers and delays;
//   - a correct response with an expired or foreign nonce, or a nonce-count
//     that did not increase (a replay): 401 stale=true (RFC 7616 §3.3), so
//     the phone retries with a new nonce without asking its user.
func (r *Registrar) authenticate(in request, now time.Time, log *slog.Logger) (string, bool) {
	req, tx := in.req, in.tx
	var cr *credentials
	for _, h := range req.GetHeaders("Authorization") {
		c, err := parseAuthorization(h.Value())
		if errors.Is(err, errNotDigest) {
			continue
		}
		if err != nil {
			log.Info("register with malformed authorization", "error", err)
			r.respond(req, tx, 400, "Bad Request: malformed Authorization")
			return "", false
		}
		if c.Realm == r.cfg.Realm {
			cr = &c
			break
		}
	}
	if cr == nil {
		r.challenge(in, now, false)
		return "", false
	}
	h, alg, ok := newHash(cr.Algorithm)
	if !ok || !slices.Contains(r.cfg.Algorithms, alg) {
		// An algorithm we did not offer: challenge again with those we do.
		r.challenge(in, now, false)
		return "", false
	}
	if !strings.EqualFold(cr.QOP, "auth") || cr.Cnonce == "" || cr.NC == "" {
		r.respond(req, tx, 400, "Bad Request: qop=auth with cnonce and nc required")
		return "", false
	}
	if !sameURI(cr.URI, req.Recipient) {
		r.respond(req, tx, 400, "Bad Request: digest uri does not match Request-URI")
		return "", false
	}

	// Always compute the fake HA1 and always hash, so a known and an unknown
	// user cost the same.
	ha1 := r.signer.fakeHA1(h, cr.Username)
	creds, known := r.cfg.Directory.Lookup(cr.Username)
	if known {
		switch {
		case alg == algSHA256 && creds.HA1SHA256 != "":
			ha1 = strings.ToLower(creds.HA1SHA256)
		case alg == algMD5 && creds.HA1MD5 != "":
			ha1 = strings.ToLower(creds.HA1MD5)
		default:
			known = false // no hash for this algorithm: can never succeed
		}
	}
	want := digestResponse(h, ha1, cr.Nonce, cr.NC, cr.Cnonce, cr.QOP, string(req.Method), cr.URI)
	good := subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(cr.Response))) == 1
	// An account locked for guesses refuses every response, right or
	// wrong, so a guess teaches nothing; only a source that has registered
	// it before gets its right password through.
	if left, locked := r.acct.locked(cr.Username, now); locked && !(good && known && r.acct.isKnown(cr.Username, in.src.Addr())) {
		log.Info("register for a locked account refused", "user", clip(cr.Username), "retry_after", left)
		r.refuse(req, tx, left)
		return "", false
	}
	if !good || !known {
		lock := r.acct.fail(cr.Username, now)
		delay, locked := r.lim.fail(in.src.Addr(), now)
		if locked {
			log.Warn("register source locked out after repeated failures", "user", clip(cr.Username), "lockout", r.cfg.Lockout)
			r.refuse(req, tx, r.cfg.Lockout)
			return "", false
		}
		if lock > 0 {
			log.Warn("register account locked for guesses after repeated failures", "user", clip(cr.Username), "lockout", lock)
			r.refuse(req, tx, lock)
			return "", false
		}
		log.Info("register digest mismatch", "user", clip(cr.Username), "delay", delay)
		r.sleep(tx.Done(), delay)
		r.challenge(in, now, false)
		return "", false
	}

	issued, nonceOK := r.signer.verify(cr.Nonce, in.src.Addr())
	if nonceOK && (now.Sub(issued) > r.cfg.NonceTTL || issued.After(now.Add(time.Minute))) {
		nonceOK = false
	}
	if cr.Opaque != r.opaque {
		nonceOK = false
	}
	if !nonceOK {
		log.Info("register with stale nonce", "user", clip(cr.Username))
		r.challenge(in, now, true)
		return "", false
	}
	nc, _ := strconv.ParseUint(cr.NC, 16, 32)
	if !r.nc.use(cr.Nonce, issued, nc, now) {
		log.Warn("register nonce-count replayed", "user", clip(cr.Username), "nc", cr.NC)
		r.challenge(in, now, true)
		return "", false
	}
	r.acct.succeeded(cr.Username, in.src.Addr())
	return cr.Username, true
}

// sameURI compares the digest uri with the Request-URI by their parts, as
// RFC 2617 §3.2.2.5 asks ("the server SHOULD check" they name the same
// resource); the client may write the URI differently from sipgo.
func sameURI(digestURI string, ruri sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(digestURI, &u); err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, ruri.Scheme) &&
		strings.EqualFold(u.Host, ruri.Host) &&
		u.Port == ruri.Port && u.User == ruri.User
}

// challenge answers 401 with two WWW-Authenticate headers, SHA-256 first
// (RFC 8760 §2.4), both qop="auth" (RFC 3261 §22.4 recommends qop; RFC 7616
// requires it) and the same nonce and opaque.
func (r *Registrar) challenge(in request, now time.Time, stale bool) {
	nonce := r.signer.issue(now, in.src.Addr())
	res := sip.NewResponseFromRequest(in.req, 401, "Unauthorized", nil)
	for _, alg := range r.cfg.Algorithms {
		c := digest.Challenge{
			Realm:     r.cfg.Realm,
			Nonce:     nonce,
			Opaque:    r.opaque,
			Stale:     stale,
			Algorithm: alg,
			QOP:       []string{"auth"},
		}
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", c.String()))
	}
	r.send(in.tx, res)
}

// refuse answers 403 to a locked-out source with Retry-After (RFC 3261
// §20.33) so a well-behaved phone backs off.
func (r *Registrar) refuse(req *sip.Request, tx sip.ServerTransaction, left time.Duration) {
	res := sip.NewResponseFromRequest(req, 403, "Forbidden: too many failed attempts", nil)
	secs := int64(math.Ceil(left.Seconds()))
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.FormatInt(max(secs, 1), 10)))
	r.send(tx, res)
}

// apply stores or removes the binding and answers 200 (RFC 3261 §10.3
// step 7-8). The binding store keeps one binding per agent, so a REGISTER
// replaces the previous contact.
func (r *Registrar) apply(in request, ext string, now time.Time, log *slog.Logger) {
	req, tx := in.req, in.tx
	// The store call outlives nothing: bounded here, and not tied to the
	// transaction, whose end must not leave a half-written binding.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	if in.contacts[0].wildcard || r.effectiveExpires(in) == 0 {
		if len(in.contacts) > 1 && !in.contacts[0].wildcard {
			r.respond(req, tx, 400, "Bad Request: one Contact per agent")
			return
		}
		if err := r.cfg.Bindings.RemoveBinding(ctx, ext); err != nil {
			log.Error("remove binding", "error", err)
			r.respond(req, tx, 500, "Server Internal Error")
			return
		}
		log.Info("agent unregistered")
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(sipDate)))
		r.send(tx, res)
		return
	}
	if len(in.contacts) > 1 {
		// Policy: an agent is one phone. Several contacts would ring several
		// phones for one reserved agent.
		r.respond(req, tx, 400, "Bad Request: one Contact per agent")
		return
	}

	secs := r.effectiveExpires(in)
	if maxS := int64(r.cfg.MaxExpires / time.Second); secs > maxS {
		secs = maxS // RFC 3261 §10.3 step 7: the registrar MAY shorten it
	}
	ttl := time.Duration(secs) * time.Second
	c := in.contacts[0]
	b := Binding{
		Contact:   c.uri.String(),
		Source:    in.src,
		Transport: strings.ToUpper(req.Transport()),
		Expires:   now.Add(ttl),
		UserAgent: in.userAgent,
	}
	if err := r.cfg.Bindings.SetBinding(ctx, ext, b, ttl); err != nil {
		log.Error("set binding", "error", err)
		r.respond(req, tx, 500, "Server Internal Error")
		return
	}
	log.Info("agent registered", "contact", b.Contact, "transport", b.Transport, "expires_s", secs)

	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	echo := &sip.ContactHeader{Address: c.uri}
	echo.Params = echo.Params.Add("expires", strconv.FormatInt(secs, 10))
	res.AppendHeader(echo)
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(sipDate)))
	r.send(tx, res)
}

// sipDate is rfc1123-date in GMT (RFC 3261 §20.17).
const sipDate = "Mon, 02 Jan 2006 15:04:05 GMT"

func (r *Registrar) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	r.send(tx, sip.NewResponseFromRequest(req, code, reason, nil))
}

func (r *Registrar) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		r.log.Warn("register respond failed", "status", res.StatusCode, "error", fmt.Errorf("respond %d: %w", res.StatusCode, err))
	}
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}
