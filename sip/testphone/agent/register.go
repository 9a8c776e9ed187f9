package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// StatusError is a final non-2xx answer to one of the agent's requests.
type StatusError struct {
	Code   int
	Reason string
}

func (e *StatusError) Error() string { return fmt.Sprintf("sip status %d %s", e.Code, e.Reason) }

// registration is the state of the agent's binding (RFC 3261 §10.2): one
// Call-ID and a growing CSeq for all REGISTERs, and the last digest
// challenge, answered again with a growing nonce-count (RFC 7616 §3.4).
type registration struct {
	mu       sync.Mutex
	callID   string
	fromTag  string
	cseq     uint32
	chal     *digest.Challenge
	nc       int
	granted  time.Duration // last Expires the registrar granted
	count    int           // successful REGISTERs with a non-zero Expires
	lastAlgo string
}

// Register sends a REGISTER now (a refresh) and waits for its 200.
func (a *Agent) Register(ctx context.Context) error {
	return a.register(ctx, a.cfg.Expires)
}

// Registrations counts the 200s the agent got for REGISTERs that bound it.
func (a *Agent) Registrations() int {
	a.reg.mu.Lock()
	defer a.reg.mu.Unlock()
	return a.reg.count
}

// Granted is the registration interval the registrar granted last.
func (a *Agent) Granted() time.Duration {
	a.reg.mu.Lock()
	defer a.reg.mu.Unlock()
	return a.reg.granted
}

// Algorithm is the digest algorithm of the last authenticated REGISTER.
func (a *Agent) Algorithm() string {
	a.reg.mu.Lock()
	defer a.reg.mu.Unlock()
	return a.reg.lastAlgo
}

// maxAuthRounds bounds the 401 → retry loop: one fresh challenge, and one
// more for a stale nonce (RFC 7616 §3.3 stale=true).
const maxAuthRounds = 3

// register sends REGISTER with expires (0 unregisters) and answers digest
// challenges (RFC 3261 §22.2): the first try reuses the last challenge with
// the next nonce-count, so a refresh normally needs one round trip.
func (a *Agent) register(ctx context.Context, expires time.Duration) error {
	a.reg.mu.Lock()
	defer a.reg.mu.Unlock()
	if a.reg.callID == "" {
		a.reg.callID = sip.GenerateTagN(16) + "@fake-agent"
		a.reg.fromTag = sip.GenerateTagN(10)
		a.reg.cseq = 1
	}
	for round := 0; round < maxAuthRounds; round++ {
		req := a.registerRequest(expires)
		if a.reg.chal != nil {
			a.reg.nc++
			auth, err := digest.Digest(a.reg.chal, digest.Options{
				Method: "REGISTER", URI: req.Recipient.String(), Count: a.reg.nc,
				Username: a.cfg.Ext, Password: a.cfg.Password,
			})
			if err != nil {
				return fmt.Errorf("register: digest: %w", err)
			}
			req.AppendHeader(sip.NewHeader("Authorization", auth.String()))
		}
		res, err := a.cli.Do(ctx, req)
		if err != nil {
			return fmt.Errorf("register: %w", err)
		}
		switch {
		case res.StatusCode == 200:
			a.reg.granted = grantedExpires(res, expires)
			if expires > 0 {
				a.reg.count++
			}
			if a.reg.chal != nil {
				a.reg.lastAlgo = a.reg.chal.Algorithm
			}
			a.log.Debug("registered", "expires", a.reg.granted)
			return nil
		case res.StatusCode == 401 || res.StatusCode == 407:
			chal, err := a.pickChallenge(res)
			if err != nil {
				return fmt.Errorf("register: %w", err)
			}
			a.reg.chal, a.reg.nc = chal, 0
		default:
			return fmt.Errorf("register: %w", &StatusError{Code: res.StatusCode, Reason: res.Reason})
		}
	}
	return fmt.Errorf("register: still challenged after %d rounds: %w", maxAuthRounds, &StatusError{Code: 401, Reason: "Unauthorized"})
}

// registerRequest builds one REGISTER: AOR sip:EXT@gateway-host in From and
// To, our socket in Contact (RFC 3261 §10.2).
func (a *Agent) registerRequest(expires time.Duration) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, a.gateway)
	req.SetTransport("UDP")
	aor := sip.Uri{Scheme: "sip", User: a.cfg.Ext, Host: a.gateway.Host}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", a.reg.fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	cid := sip.CallIDHeader(a.reg.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: a.reg.cseq, MethodName: sip.REGISTER})
	a.reg.cseq++
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	ct := a.contact
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sip.NewHeader("User-Agent", "fake-agent"))
	req.SetBody(nil)
	req.Laddr = sip.Addr{IP: a.addr.Addr().AsSlice(), Port: int(a.addr.Port())}
	return req
}

// pickChallenge chooses among the WWW-Authenticate headers (RFC 8760 §2.4:
// several, the preferred first): the forced algorithm, else the first one
// the digest library can answer.
func (a *Agent) pickChallenge(res *sip.Response) (*digest.Challenge, error) {
	var seen []string
	for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		for _, h := range res.GetHeaders(name) {
			chal, err := digest.ParseChallenge(h.Value())
			if err != nil {
				continue
			}
			alg := chal.Algorithm
			if alg == "" {
				alg = "MD5" // RFC 2617 §3.2.1: absent means MD5
			}
			seen = append(seen, alg)
			if a.cfg.Algorithm != "" && !strings.EqualFold(alg, a.cfg.Algorithm) {
				continue
			}
			if digest.CanDigest(chal) {
				return chal, nil
			}
		}
	}
	return nil, fmt.Errorf("no usable digest challenge (offered %v, want %q): %w", seen, a.cfg.Algorithm, errNoChallenge)
}

var errNoChallenge = errors.New("no usable challenge")

// grantedExpires reads the interval from the 200: our Contact's expires
// parameter, else the Expires header, else what we asked (RFC 3261 §10.2.4).
func grantedExpires(res *sip.Response, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		if ct, ok := h.(*sip.ContactHeader); ok && ct.Params != nil {
			if v, ok := ct.Params.Get("expires"); ok {
				if n, err := strconv.Atoi(v); err == nil {
					return time.Duration(n) * time.Second
				}
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// refreshLoop re-registers at half the granted interval, and retries every
// second after a failure, until Close.
func (a *Agent) refreshLoop() {
	for {
		wait := a.Granted() / 2
		if wait <= 0 {
			wait = a.cfg.Expires / 2
		}
		select {
		case <-a.ctx.Done():
			return
		case <-time.After(wait):
		}
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
			err := a.register(ctx, a.cfg.Expires)
			cancel()
			if err == nil {
				break
			}
			a.log.Warn("re-register failed", "err", err, "attempt", attempt)
			select {
			case <-a.ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}
