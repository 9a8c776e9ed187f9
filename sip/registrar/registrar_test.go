package registrar

import (
	"context"
	"crypto/md5" //nolint:gosec // digest MD5 test vectors
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
	"github.com/icholy/digest"
)

const realm = "ivrgw"

// Client-side digest, written out from RFC 2617 §3.2.2 / RFC 7616 §3.4.1
// independently of the registrar's code.
func md5hex(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) } //nolint:gosec
func sha256hex(s string) string {
	x := sha256.Sum256([]byte(s))
	return hex.EncodeToString(x[:])
}

func clientResponse(alg, user, pass, nonce, nc, cnonce, method, uri string) string {
	H := md5hex
	if alg == "SHA-256" {
		H = sha256hex
	}
	ha1 := H(user + ":" + realm + ":" + pass)
	ha2 := H(method + ":" + uri)
	return H(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
}

type fakeDir map[string]Credentials

func (d fakeDir) Lookup(u string) (Credentials, bool) { c, ok := d[u]; return c, ok }

func newDir() fakeDir {
	d := fakeDir{}
	for _, a := range []struct {
		ext  string
		demo bool
	}{{"1001", true}, {"1002", true}, {"2001", false}, {"2002", false}} {
		pass := "pw" + a.ext
		if a.demo {
			pass = "demo" + a.ext
		}
		d[a.ext] = Credentials{
			HA1MD5:    md5hex(a.ext + ":" + realm + ":" + pass),
			HA1SHA256: sha256hex(a.ext + ":" + realm + ":" + pass),
			Demo:      a.demo,
		}
	}
	return d
}

type setCall struct {
	ext string
	b   Binding
	ttl time.Duration
}

type fakeStore struct {
	mu      sync.Mutex
	sets    []setCall
	removed []string
	err     error
}

func (s *fakeStore) SetBinding(_ context.Context, ext string, b Binding, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sets = append(s.sets, setCall{ext, b, ttl})
	return nil
}

func (s *fakeStore) RemoveBinding(_ context.Context, ext string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.removed = append(s.removed, ext)
	return nil
}

type harness struct {
	t      testing.TB
	r      *Registrar
	now    time.Time
	store  *fakeStore
	delays []time.Duration
	seq    int
	parser *sip.Parser
}

var t0 = time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)

func newHarness(t testing.TB, algs ...string) *harness {
	h := &harness{t: t, now: t0, store: &fakeStore{}, parser: sip.NewParser(sip.WithHeadersParsers(HeaderParsers()))}
	h.r = New(Config{
		Realm:      realm,
		Directory:  newDir(),
		Bindings:   h.store,
		Secret:     []byte("test secret"),
		Now:        func() time.Time { return h.now },
		Algorithms: algs,
	})
	h.r.sleep = func(_ <-chan struct{}, d time.Duration) { h.delays = append(h.delays, d) }
	return h
}

// msg holds the variable parts of a REGISTER.
type msg struct {
	to      string // To user; default "1001"
	headers []string
	noCont  bool
	contact string // default <sip:USER@127.0.0.1:5062>
	auth    string
}

func (h *harness) build(m msg) string {
	h.seq++
	to := m.to
	if to == "" {
		to = "1001"
	}
	lines := []string{
		"REGISTER sip:127.0.0.1 SIP/2.0",
		fmt.Sprintf("Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-t%d", h.seq),
		"Max-Forwards: 70",
		"From: <sip:" + to + "@127.0.0.1>;tag=f1",
		"To: <sip:" + to + "@127.0.0.1>",
		"Call-ID: reg-" + h.t.Name(),
		fmt.Sprintf("CSeq: %d REGISTER", h.seq),
		"User-Agent: testphone/1.0",
	}
	if !m.noCont {
		c := m.contact
		if c == "" {
			c = "<sip:" + to + "@127.0.0.1:5062>"
		}
		lines = append(lines, "Contact: "+c)
	}
	lines = append(lines, m.headers...)
	if m.auth != "" {
		lines = append(lines, "Authorization: "+m.auth)
	}
	lines = append(lines, "Content-Length: 0", "", "")
	return strings.Join(lines, "\r\n")
}

// send drives ServeRegister with raw, as if received from src over UDP.
func (h *harness) send(raw, src string) *sip.Response {
	h.t.Helper()
	m, err := h.parser.ParseSIP([]byte(raw))
	if err != nil {
		h.t.Fatalf("ParseSIP = %v\n%s", err, raw)
	}
	req := m.(*sip.Request)
	req.SetSource(src)
	req.SetTransport("UDP")
	tx := siptest.NewServerTxRecorder(req)
	defer tx.Terminate()
	h.r.ServeRegister(req, tx)
	res := tx.Result()
	if len(res) != 1 {
		h.t.Fatalf("ServeRegister sent %d responses, want 1", len(res))
	}
	return res[0]
}

func challenges(t testing.TB, res *sip.Response) []*digest.Challenge {
	t.Helper()
	var out []*digest.Challenge
	for _, hd := range res.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(hd.Value())
		if err != nil {
			t.Fatalf("digest.ParseChallenge(%q) = %v", hd.Value(), err)
		}
		out = append(out, c)
	}
	return out
}

func pick(t testing.TB, res *sip.Response, alg string) *digest.Challenge {
	t.Helper()
	for _, c := range challenges(t, res) {
		if c.Algorithm == alg {
			return c
		}
	}
	t.Fatalf("no %s challenge in %d response", alg, res.StatusCode)
	return nil
}

// authz builds an Authorization value answering c. algParam "" omits the
// algorithm parameter (MD5 by default).
func authz(c *digest.Challenge, alg, algParam, user, pass, nc string) string {
	const uri = "sip:127.0.0.1"
	const cnonce = "0a4f113b"
	resp := clientResponse(alg, user, pass, c.Nonce, nc, cnonce, "REGISTER", uri)
	s := fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", cnonce="%s", nc=%s, qop=auth, opaque="%s"`,
		user, c.Realm, c.Nonce, uri, resp, cnonce, nc, c.Opaque)
	if algParam != "" {
		s += ", algorithm=" + algParam
	}
	return s
}

// login does the two-step REGISTER and returns the final answer.
func (h *harness) login(m msg, alg, user, pass, src string) *sip.Response {
	h.t.Helper()
	res := h.send(h.build(m), src)
	if res.StatusCode != 401 {
		h.t.Fatalf("REGISTER without credentials = %d, want 401", res.StatusCode)
	}
	m.auth = authz(pick(h.t, res, alg), alg, alg, user, pass, "00000001")
	return h.send(h.build(m), src)
}

func TestChallengeFormat(t *testing.T) {
	h := newHarness(t)
	res := h.send(h.build(msg{}), "127.0.0.1:5062")
	if res.StatusCode != 401 {
		t.Fatalf("ServeRegister(no auth) = %d, want 401", res.StatusCode)
	}
	raw := res.GetHeaders("WWW-Authenticate")
	if len(raw) != 2 {
		t.Fatalf("WWW-Authenticate count = %d, want 2", len(raw))
	}
	cs := challenges(t, res)
	for i, alg := range []string{"SHA-256", "MD5"} { // RFC 8760 §2.4: preferred first
		c := cs[i]
		if c.Algorithm != alg || c.Realm != realm || len(c.QOP) != 1 || c.QOP[0] != "auth" || c.Stale || c.Opaque == "" || c.Nonce == "" {
			t.Errorf("challenge[%d] = %+v, want algorithm %s, realm %s, qop auth, opaque, not stale", i, c, alg, realm)
		}
	}
	if cs[0].Nonce != cs[1].Nonce {
		t.Errorf("nonces differ: %s vs %s, want one nonce for both", cs[0].Nonce, cs[1].Nonce)
	}
	if !strings.HasPrefix(raw[0].Value(), "Digest ") {
		t.Errorf("WWW-Authenticate = %q, want Digest scheme", raw[0].Value())
	}
	if tag, ok := res.To().Params.Get("tag"); !ok || tag == "" {
		t.Errorf("401 To has no tag")
	}
	if len(h.store.sets) != 0 {
		t.Errorf("bindings stored on challenge: %v", h.store.sets)
	}
}

// TestAlgorithmsSetting: with Algorithms = [MD5] only the MD5 challenge is
// sent (softphones that stop at the first challenge they cannot answer), and
// a SHA-256 response is not accepted since it was not offered.
func TestAlgorithmsSetting(t *testing.T) {
	h := newHarness(t, "md5")
	m := msg{}
	res := h.send(h.build(m), "127.0.0.1:5062")
	cs := challenges(t, res)
	if len(cs) != 1 || cs[0].Algorithm != "MD5" {
		t.Fatalf("challenges with Algorithms=[md5] = %+v, want one MD5", cs)
	}
	m.auth = authz(cs[0], "SHA-256", "SHA-256", "1001", "demo1001", "00000001")
	if res := h.send(h.build(m), "127.0.0.1:5062"); res.StatusCode != 401 {
		t.Errorf("SHA-256 response when only MD5 offered = %d, want 401 (re-challenge)", res.StatusCode)
	}
	m.auth = authz(cs[0], "MD5", "MD5", "1001", "demo1001", "00000002")
	if res := h.send(h.build(m), "127.0.0.1:5062"); res.StatusCode != 200 {
		t.Errorf("MD5 response = %d %s, want 200", res.StatusCode, res.Reason)
	}
	for _, bad := range [][]string{nil, {"SHA-512-256"}, {"MD5", "md5"}, {""}} {
		if _, err := CheckAlgorithms(bad); err == nil {
			t.Errorf("CheckAlgorithms(%q) = nil error, want one", bad)
		}
	}
	if got, err := CheckAlgorithms([]string{"md5", "sha-256"}); err != nil || got[0] != "MD5" || got[1] != "SHA-256" {
		t.Errorf("CheckAlgorithms(md5, sha-256) = %v, %v; want [MD5 SHA-256]", got, err)
	}
}

func TestAuthAccepted(t *testing.T) {
	tests := []struct {
		name, alg, algParam string
	}{
		{"sha256", "SHA-256", "SHA-256"},
		{"md5", "MD5", "MD5"},
		{"md5 implicit", "MD5", ""},
		{"sha256 lower-case name", "SHA-256", "sha-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			m := msg{headers: []string{"Expires: 600"}}
			res := h.send(h.build(m), "127.0.0.1:5062")
			m.auth = authz(pick(t, res, tt.alg), tt.alg, tt.algParam, "1001", "demo1001", "00000001")
			res = h.send(h.build(m), "127.0.0.1:5062")
			if res.StatusCode != 200 {
				t.Fatalf("ServeRegister(%s) = %d %s, want 200", tt.name, res.StatusCode, res.Reason)
			}
			c := res.Contact()
			if c == nil || c.Address.String() != "sip:1001@127.0.0.1:5062" {
				t.Fatalf("200 Contact = %v, want <sip:1001@127.0.0.1:5062>", c)
			}
			if e, _ := c.Params.Get("expires"); e != "600" {
				t.Errorf("200 Contact expires = %q, want 600", e)
			}
			d := res.GetHeader("Date")
			if d == nil {
				t.Fatal("200 has no Date")
			}
			if got, err := time.Parse(sipDate, d.Value()); err != nil || !got.Equal(t0) {
				t.Errorf("Date = %q (%v), want %s", d.Value(), err, t0.Format(sipDate))
			}
			if len(h.store.sets) != 1 {
				t.Fatalf("SetBinding calls = %d, want 1", len(h.store.sets))
			}
			want := setCall{"1001", Binding{
				Contact:   "sip:1001@127.0.0.1:5062",
				Source:    netip.MustParseAddrPort("127.0.0.1:5062"),
				Transport: "UDP",
				Expires:   t0.Add(600 * time.Second),
				UserAgent: "testphone/1.0",
			}, 600 * time.Second}
			if got := h.store.sets[0]; got != want {
				t.Errorf("SetBinding = %+v, want %+v", got, want)
			}
		})
	}
}

// TestIcholyClient checks interoperability with a third-party digest client
// implementation (icholy/digest computes the response from the challenge).
func TestIcholyClient(t *testing.T) {
	h := newHarness(t)
	m := msg{}
	res := h.send(h.build(m), "127.0.0.1:5062")
	cred, err := digest.Digest(pick(t, res, "SHA-256"), digest.Options{
		Method: "REGISTER", URI: "sip:127.0.0.1", Username: "1001", Password: "demo1001", Count: 1,
	})
	if err != nil {
		t.Fatalf("digest.Digest = %v", err)
	}
	m.auth = cred.String()
	if res := h.send(h.build(m), "127.0.0.1:5062"); res.StatusCode != 200 {
		t.Errorf("ServeRegister(icholy credentials %q) = %d %s, want 200", m.auth, res.StatusCode, res.Reason)
	}
}

func TestWrongPasswordAndUnknownUser(t *testing.T) {
	// A known user with a wrong password and an unknown user must look the
	// same from outside: status, challenge headers, delay.
	type outcome struct {
		code   int
		wwwa   []string
		delays []time.Duration
	}
	run := func(user string) outcome {
		h := newHarness(t)
		m := msg{to: user}
		res := h.send(h.build(m), "127.0.0.1:5062")
		first := res.GetHeaders("WWW-Authenticate")
		m.auth = authz(pick(t, res, "MD5"), "MD5", "MD5", user, "wrong", "00000001")
		res = h.send(h.build(m), "127.0.0.1:5062")
		if len(h.store.sets) != 0 {
			t.Errorf("%s: bindings stored after a wrong password", user)
		}
		var w []string
		for _, x := range append(first, res.GetHeaders("WWW-Authenticate")...) {
			w = append(w, x.Value())
		}
		return outcome{res.StatusCode, w, h.delays}
	}
	known, unknown := run("2001"), run("7777")
	if known.code != 401 {
		t.Errorf("wrong password = %d, want 401 (re-challenge, RFC 3261 §22.4)", known.code)
	}
	if fmt.Sprint(known) != fmt.Sprint(unknown) {
		t.Errorf("known user answer = %v\nunknown user answer = %v\nwant identical", known, unknown)
	}
	if len(known.delays) != 1 || known.delays[0] != 250*time.Millisecond {
		t.Errorf("delays after one failure = %v, want [250ms]", known.delays)
	}
}

func TestStaleNonce(t *testing.T) {
	tests := []struct {
		name      string
		advance   time.Duration
		pass      string
		wantCode  int
		wantStale bool
	}{
		{"fresh", 4 * time.Minute, "pw2001", 200, false},
		{"expired, right password", 6 * time.Minute, "pw2001", 401, true},
		{"expired, wrong password", 6 * time.Minute, "nope", 401, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			m := msg{to: "2001"}
			res := h.send(h.build(m), "127.0.0.1:5062")
			h.now = h.now.Add(tt.advance)
			m.auth = authz(pick(t, res, "SHA-256"), "SHA-256", "SHA-256", "2001", tt.pass, "00000001")
			res = h.send(h.build(m), "127.0.0.1:5062")
			if res.StatusCode != tt.wantCode {
				t.Fatalf("ServeRegister after %v = %d, want %d", tt.advance, res.StatusCode, tt.wantCode)
			}
			if tt.wantCode == 401 {
				for _, c := range challenges(t, res) {
					if c.Stale != tt.wantStale {
						t.Errorf("challenge stale = %v, want %v", c.Stale, tt.wantStale)
					}
				}
			}
		})
	}
}

func TestReplayAndForeignNonce(t *testing.T) {
	h := newHarness(t)
	m := msg{to: "2001"}
	res := h.send(h.build(m), "127.0.0.1:5062")
	c := pick(t, res, "MD5")
	steps := []struct {
		name, nc, src string
		wantCode      int
		wantStale     bool
	}{
		{"first use", "00000001", "127.0.0.1:5062", 200, false},
		{"same nc replayed", "00000001", "127.0.0.1:5062", 401, true},
		{"next nc", "00000002", "127.0.0.1:5062", 200, false},
		{"lower nc", "00000001", "127.0.0.1:5062", 401, true},
		{"nonce used from another IP", "00000003", "127.0.0.9:5062", 401, true},
	}
	for _, st := range steps {
		m.auth = authz(c, "MD5", "MD5", "2001", "pw2001", st.nc)
		res := h.send(h.build(m), st.src)
		if res.StatusCode != st.wantCode {
			t.Fatalf("%s: ServeRegister(nc=%s) = %d, want %d", st.name, st.nc, res.StatusCode, st.wantCode)
		}
		if st.wantCode == 401 && !pick(t, res, "MD5").Stale {
			t.Errorf("%s: stale = false, want true", st.name)
		}
	}
	if len(h.store.sets) != 2 {
		t.Errorf("SetBinding calls = %d, want 2", len(h.store.sets))
	}
	if len(h.delays) != 0 {
		t.Errorf("replays were slowed down as failures: %v", h.delays)
	}
}

func TestAuthorizationRejections(t *testing.T) {
	h := newHarness(t)
	res := h.send(h.build(msg{to: "2001"}), "127.0.0.1:5062")
	c := pick(t, res, "MD5")
	good := authz(c, "MD5", "MD5", "2001", "pw2001", "00000001")
	tests := []struct {
		name, auth string
		want       int
	}{
		{"other realm", strings.Replace(good, `realm="ivrgw"`, `realm="elsewhere"`, 1), 401},
		{"unknown scheme", "NoOneKnowsThisScheme opaque-data=here", 401},
		{"unsupported algorithm", strings.Replace(good, "algorithm=MD5", "algorithm=MD5-sess", 1), 401},
		{"malformed", `Digest username="2001", realm="ivrgw"`, 400},
		{"no qop", strings.Replace(good, "qop=auth, ", "", 1), 400},
		{"uri not the Request-URI", strings.Replace(good, `uri="sip:127.0.0.1"`, `uri="sip:10.0.0.1"`, 1), 400},
		{"wrong opaque", strings.Replace(good, c.Opaque, "00", 1), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.send(h.build(msg{to: "2001", auth: tt.auth}), "127.0.0.1:5062")
			if res.StatusCode != tt.want {
				t.Errorf("ServeRegister(%s) = %d %s, want %d", tt.name, res.StatusCode, res.Reason, tt.want)
			}
			if tt.want == 401 && len(res.GetHeaders("WWW-Authenticate")) != 2 {
				t.Errorf("ServeRegister(%s) 401 without two challenges", tt.name)
			}
		})
	}
	if len(h.store.sets) != 0 {
		t.Errorf("bindings stored: %v", h.store.sets)
	}
}

func TestPolicy(t *testing.T) {
	tests := []struct {
		name, user, pass, src, to string
		want                      int
		reason                    string
	}{
		{"demo from loopback v4", "1001", "demo1001", "127.0.0.1:5062", "", 200, ""},
		{"demo from loopback v6", "1001", "demo1001", "[::1]:5062", "", 200, ""},
		{"demo from loopback 127/8", "1002", "demo1002", "127.9.9.9:5062", "", 200, ""},
		{"demo from elsewhere", "1001", "demo1001", "203.0.113.7:5062", "", 403, "demo account: loopback only"},
		{"demo from v4-mapped elsewhere", "1001", "demo1001", "[::ffff:203.0.113.7]:5062", "", 403, "demo account: loopback only"},
		{"real agent from elsewhere", "2001", "pw2001", "203.0.113.7:5062", "", 200, ""},
		{"register someone else", "2001", "pw2001", "127.0.0.1:5062", "2002", 403, "Forbidden: may only register your own extension"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			to := tt.to
			if to == "" {
				to = tt.user
			}
			m := msg{to: to}
			res := h.send(h.build(m), tt.src)
			m.auth = authz(pick(t, res, "SHA-256"), "SHA-256", "SHA-256", tt.user, tt.pass, "00000001")
			res = h.send(h.build(m), tt.src)
			if res.StatusCode != tt.want || (tt.reason != "" && res.Reason != tt.reason) {
				t.Errorf("ServeRegister(%s) = %d %q, want %d %q", tt.name, res.StatusCode, res.Reason, tt.want, tt.reason)
			}
			if stored := len(h.store.sets) > 0; stored != (tt.want == 200) {
				t.Errorf("ServeRegister(%s) stored = %v, want %v", tt.name, stored, tt.want == 200)
			}
		})
	}
}

func TestValidationBeforeAuth(t *testing.T) {
	// User-independent problems are answered at once, with no challenge.
	tests := []struct {
		name string
		m    msg
		want int
	}{
		{"bad contact scheme", msg{contact: "<mailto:a@b.c>"}, 400},
		{"contact without host", msg{contact: "<sip:>"}, 400},
		{"contact garbage", msg{contact: "<sip:1001@127.0.0.1"}, 400},
		{"unbracketed contact with headers", msg{contact: "sip:1001@127.0.0.1?Route=x"}, 400},
		{"expires not a number", msg{headers: []string{"Expires: soon"}}, 400},
		{"expires negative", msg{headers: []string{"Expires: -1"}}, 400},
		{"expires over 2^32-1", msg{headers: []string{"Expires: 4294967296"}}, 400},
		{"two expires", msg{headers: []string{"Expires: 60", "Expires: 70"}}, 400},
		{"contact expires absurd", msg{contact: "<sip:1001@127.0.0.1>;expires=99999999999999999999"}, 400},
		{"star without expires", msg{contact: "*"}, 400},
		{"star with non-zero expires", msg{contact: "*", headers: []string{"Expires: 60"}}, 400},
		{"star with another contact", msg{contact: "*, <sip:1001@127.0.0.1>", headers: []string{"Expires: 0"}}, 400},
		{"to not sip", msg{to: "1001", headers: nil, contact: ""}, 401}, // control: valid request
		{"too brief", msg{headers: []string{"Expires: 30"}}, 423},
		{"too brief in param", msg{contact: "<sip:1001@127.0.0.1>;expires=59"}, 423},
		{"param overrides header", msg{contact: "<sip:1001@127.0.0.1>;expires=120", headers: []string{"Expires: 30"}}, 401},
		{"no contact is challenged", msg{noCont: true}, 401},
		{"4xxx seconds is not brief", msg{headers: []string{"Expires: 4000"}}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			res := h.send(h.build(tt.m), "127.0.0.1:5062")
			if res.StatusCode != tt.want {
				t.Fatalf("ServeRegister(%s) = %d %s, want %d", tt.name, res.StatusCode, res.Reason, tt.want)
			}
			if tt.want == 423 {
				if mh := res.GetHeader("Min-Expires"); mh == nil || mh.Value() != "60" {
					t.Errorf("423 Min-Expires = %v, want 60", mh)
				}
			}
		})
	}
}

func TestToNotSIP(t *testing.T) {
	h := newHarness(t)
	raw := strings.Replace(h.build(msg{}), "To: <sip:1001@127.0.0.1>", "To: <tel:+15551001>", 1)
	if res := h.send(raw, "127.0.0.1:5062"); res.StatusCode != 400 {
		t.Errorf("ServeRegister(To tel:) = %d, want 400", res.StatusCode)
	}
}

func TestExpiresHandling(t *testing.T) {
	tests := []struct {
		name        string
		m           msg
		wantTTL     time.Duration // 0: removal
		wantRemoved bool
	}{
		{"default", msg{to: "2001"}, 600 * time.Second, false},
		{"clamped", msg{to: "2001", headers: []string{"Expires: 7200"}}, 3600 * time.Second, false},
		{"param wins", msg{to: "2001", contact: "<sip:2001@127.0.0.1:5062>;expires=120", headers: []string{"Expires: 900"}}, 120 * time.Second, false},
		{"expires 0 removes", msg{to: "2001", headers: []string{"Expires: 0"}}, 0, true},
		{"param 0 removes", msg{to: "2001", contact: "<sip:2001@127.0.0.1:5062>;expires=0"}, 0, true},
		{"star removes", msg{to: "2001", contact: "*", headers: []string{"Expires: 0"}}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			res := h.login(tt.m, "SHA-256", "2001", "pw2001", "127.0.0.1:5062")
			if res.StatusCode != 200 {
				t.Fatalf("ServeRegister(%s) = %d %s, want 200", tt.name, res.StatusCode, res.Reason)
			}
			if tt.wantRemoved {
				if len(h.store.removed) != 1 || h.store.removed[0] != "2001" || len(h.store.sets) != 0 {
					t.Errorf("removed = %v, sets = %v; want [2001], none", h.store.removed, h.store.sets)
				}
				if res.Contact() != nil {
					t.Errorf("200 after removal lists Contact %v, want none", res.Contact())
				}
				return
			}
			if len(h.store.sets) != 1 || h.store.sets[0].ttl != tt.wantTTL {
				t.Fatalf("sets = %+v, want one with ttl %v", h.store.sets, tt.wantTTL)
			}
			if e, _ := res.Contact().Params.Get("expires"); e != fmt.Sprint(int(tt.wantTTL.Seconds())) {
				t.Errorf("200 Contact expires = %s, want %d", e, int(tt.wantTTL.Seconds()))
			}
		})
	}
}

func TestAfterAuthRejections(t *testing.T) {
	tests := []struct {
		name string
		m    msg
	}{
		{"no contact (query)", msg{to: "2001", noCont: true}},
		{"two contacts", msg{to: "2001", contact: "<sip:2001@127.0.0.1:5062>, <sip:2001@127.0.0.1:5064>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			res := h.login(tt.m, "MD5", "2001", "pw2001", "127.0.0.1:5062")
			if res.StatusCode != 400 || len(h.store.sets) != 0 {
				t.Errorf("ServeRegister(%s) = %d, %d stored; want 400, none", tt.name, res.StatusCode, len(h.store.sets))
			}
		})
	}
}

func TestStoreError(t *testing.T) {
	h := newHarness(t)
	h.store.err = errors.New("redis down")
	if res := h.login(msg{to: "2001"}, "MD5", "2001", "pw2001", "127.0.0.1:5062"); res.StatusCode != 500 {
		t.Errorf("ServeRegister with failing store = %d, want 500", res.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t)
	wrong := func(src string) *sip.Response {
		m := msg{to: "2001"}
		res := h.send(h.build(m), src)
		if res.StatusCode != 401 {
			return res
		}
		m.auth = authz(pick(t, res, "MD5"), "MD5", "MD5", "2001", "guess", "00000001")
		return h.send(h.build(m), src)
	}
	const src = "127.0.0.5:5062"
	for i := range 4 {
		if res := wrong(src); res.StatusCode != 401 {
			t.Fatalf("failure %d = %d, want 401", i+1, res.StatusCode)
		}
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}
	if fmt.Sprint(h.delays) != fmt.Sprint(want) {
		t.Errorf("delays = %v, want %v", h.delays, want)
	}
	res := wrong(src)
	if res.StatusCode != 403 {
		t.Fatalf("failure 5 = %d, want 403", res.StatusCode)
	}
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "300" {
		t.Errorf("403 Retry-After = %v, want 300", ra)
	}
	// Locked: even the right password from that source is refused.
	h.now = h.now.Add(time.Minute)
	res = h.send(h.build(msg{to: "2001"}), src)
	if res.StatusCode != 403 {
		t.Errorf("locked source, no auth = %d, want 403", res.StatusCode)
	}
	if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() != "240" {
		t.Errorf("403 Retry-After after 1 min = %v, want 240", ra)
	}
	// Another source is not affected.
	if res := h.login(msg{to: "2001"}, "MD5", "2001", "pw2001", "127.0.0.6:5062"); res.StatusCode != 200 {
		t.Errorf("other source = %d, want 200", res.StatusCode)
	}
	// After the lockout the source may try again.
	h.now = h.now.Add(4*time.Minute + time.Second)
	if res := h.login(msg{to: "2001"}, "MD5", "2001", "pw2001", src); res.StatusCode != 200 {
		t.Errorf("after lockout = %d, want 200", res.StatusCode)
	}
	// Failures spread beyond the window do not add up.
	h.delays = nil
	for range 6 {
		h.now = h.now.Add(61 * time.Second)
		if res := wrong("127.0.0.7:5062"); res.StatusCode != 401 {
			t.Fatalf("spread failures = %d, want 401", res.StatusCode)
		}
	}
	for _, d := range h.delays {
		if d != 250*time.Millisecond {
			t.Errorf("spread failure delay = %v, want 250ms", d)
		}
	}
}

func TestLimiterGroupsIPv6AndIsBounded(t *testing.T) {
	l := &limiter{max: 8, maxFailures: 2, window: time.Minute, lockout: time.Minute,
		baseDelay: time.Millisecond, maxDelay: time.Second, src: map[netip.Prefix]*failState{}}
	a := netip.MustParseAddr("2001:db8:1:2::1")
	b := netip.MustParseAddr("2001:db8:1:2:ffff::9") // same /64
	l.fail(a, t0)
	if _, locked := l.fail(b, t0); !locked {
		t.Errorf("fail(%v) after fail(%v) locked = false, want true (same /64)", b, a)
	}
	for i := range 100 {
		l.fail(netip.AddrFrom4([4]byte{10, 0, byte(i), 1}), t0)
	}
	if n := l.len(); n > 8 {
		t.Errorf("limiter size = %d, want <= 8", n)
	}
	if _, locked := l.locked(a, t0); !locked {
		t.Errorf("locked(%v) = false after eviction pressure, want true (locked entries evicted last)", a)
	}
}

func TestNCTrackerBounded(t *testing.T) {
	tr := newNCTracker(4, 5*time.Minute)
	for i := range 10 {
		issued := t0.Add(time.Duration(i) * time.Second)
		if !tr.use(fmt.Sprint("n", i), issued, 1, t0.Add(time.Minute)) {
			t.Fatalf("use(n%d) = false, want true", i)
		}
	}
	if n := tr.len(); n > 4 {
		t.Errorf("tracker size = %d, want <= 4", n)
	}
	// An evicted nonce is refused rather than forgotten: no replay window.
	if tr.use("n0", t0, 2, t0.Add(time.Minute)) {
		t.Error("use(evicted n0) = true, want false")
	}
}

func TestTorture(t *testing.T) {
	tests := []struct {
		file string
		want int
	}{
		{"regaut01", 401}, // unknown scheme: challenge with ours (RFC 4475 §3.3.7)
		{"regbadct", 400}, // unbracketed URI with headers (§3.1.2.13)
		{"unksm2", 400},   // To is isbn: (§3.3.4)
		{"escnull", 401},
		{"cparam01", 401},
		{"cparam02", 401},
		{"regescrt", 401},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h := newHarness(t)
			raw := readTorture(t, tt.file)
			res := h.send(raw, "127.0.0.1:5060")
			if res.StatusCode != tt.want {
				t.Fatalf("ServeRegister(%s) = %d %s, want %d", tt.file, res.StatusCode, res.Reason, tt.want)
			}
			if tt.want == 401 && len(challenges(t, res)) != 2 {
				t.Errorf("ServeRegister(%s) 401 without our Digest challenges", tt.file)
			}
		})
	}
}

// scalar02 does not reach a handler: sipgo's parser refuses its CSeq (the
// transport layer answers or drops it). Its Expires overflow must still
// earn a 400 once the CSeq is sane.
func TestTortureScalar02(t *testing.T) {
	raw := readTorture(t, "scalar02")
	if _, err := sip.ParseMessage([]byte(raw)); err == nil {
		t.Errorf("sip.ParseMessage(scalar02) = nil error, want CSeq overflow")
	}
	h := newHarness(t)
	fixed := strings.Replace(raw, "CSeq: 36893488147419103232 REGISTER", "CSeq: 36 REGISTER", 1)
	if res := h.send(fixed, "127.0.0.1:5060"); res.StatusCode != 400 {
		t.Errorf("ServeRegister(scalar02 with sane CSeq) = %d, want 400", res.StatusCode)
	}
}

func TestDefaultParserPath(t *testing.T) {
	// The registrar also works with sipgo's default parser (pre-parsed
	// Contact headers), and HeaderParsers leaves that default untouched.
	if _, ok := sip.DefaultHeadersParser()["contact"]; !ok {
		t.Fatal("HeaderParsers mutated sip.DefaultHeadersParser()")
	}
	if _, ok := HeaderParsers()["contact"]; ok {
		t.Error("HeaderParsers() has a contact parser, want none")
	}
	h := newHarness(t)
	h.parser = sip.NewParser()
	if res := h.login(msg{to: "2001", contact: "<sip:2001@127.0.0.1:5062;transport=udp>;expires=300"}, "SHA-256", "2001", "pw2001", "127.0.0.1:5062"); res.StatusCode != 200 {
		t.Fatalf("default parser login = %d %s, want 200", res.StatusCode, res.Reason)
	}
	if got := h.store.sets[0].b.Contact; got != "sip:2001@127.0.0.1:5062;transport=udp" {
		t.Errorf("Contact = %q, want sip:2001@127.0.0.1:5062;transport=udp", got)
	}
	if ttl := h.store.sets[0].ttl; ttl != 300*time.Second {
		t.Errorf("ttl = %v, want 300s", ttl)
	}
}

func TestParseContactValue(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // URIs; "*" for wildcard
		wantErr bool
	}{
		{"<sip:a@h>", []string{"sip:a@h"}, false},
		{`"Smith, J" <sip:a@h>;q=0.5, <sips:b@h:5061>`, []string{"sip:a@h", "sips:b@h:5061"}, false},
		{"sip:a@h;expires=60", []string{"sip:a@h"}, false},
		{"*", []string{"*"}, false},
		{"sip:a@h?Route=x", nil, true},
		{"<sip:a@h?Route=%3Csip:x%3E>", []string{"sip:a@h?Route=%3Csip:x%3E"}, false},
		{"<sip:a@h>\r\nX: y", nil, true},
		{"<http://h/>", nil, true},
		{"<sip:a@h>, ", nil, true},
		{"<sip:a@h>;expires=abc", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			cs, err := parseContactValue(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseContactValue(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			var got []string
			for _, c := range cs {
				if c.wildcard {
					got = append(got, "*")
				} else {
					got = append(got, c.uri.String())
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("parseContactValue(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDeltaSeconds(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"0", 0, true}, {" 3600 ", 3600, true}, {"4294967295", 4294967295, true},
		{"0000000060", 60, true}, {"4294967296", 0, false}, {"-1", 0, false},
		{"+5", 0, false}, {"", 0, false}, {"1e3", 0, false}, {"12 34", 0, false},
		{strings.Repeat("9", 100), 0, false},
	}
	for _, tt := range tests {
		got, err := parseDeltaSeconds(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDeltaSeconds(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestConcurrentRegisters(t *testing.T) {
	h := newHarness(t)
	h.r.sleep = func(<-chan struct{}, time.Duration) {}
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := range 40 {
		wg.Go(func() {
			src := fmt.Sprintf("127.0.1.%d:5062", i+1)
			p := sip.NewParser(sip.WithHeadersParsers(HeaderParsers()))
			do := func(raw string) *sip.Response {
				m, err := p.ParseSIP([]byte(raw))
				if err != nil {
					errs <- err.Error()
					return nil
				}
				req := m.(*sip.Request)
				req.SetSource(src)
				req.SetTransport("TCP")
				tx := siptest.NewServerTxRecorder(req)
				defer tx.Terminate()
				h.r.ServeRegister(req, tx)
				if res := tx.Result(); len(res) == 1 {
					return res[0]
				}
				errs <- "no response"
				return nil
			}
			raw := func(auth string) string {
				s := fmt.Sprintf("REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-c%d-%d\r\nFrom: <sip:2001@127.0.0.1>;tag=a\r\nTo: <sip:2001@127.0.0.1>\r\nCall-ID: c%d\r\nCSeq: 1 REGISTER\r\nContact: <sip:2001@%s;transport=tcp>\r\n", src, i, len(auth), i, src)
				if auth != "" {
					s += "Authorization: " + auth + "\r\n"
				}
				return s + "Content-Length: 0\r\n\r\n"
			}
			res := do(raw(""))
			if res == nil || res.StatusCode != 401 {
				errs <- "first answer not 401"
				return
			}
			c, err := digest.ParseChallenge(res.GetHeaders("WWW-Authenticate")[0].Value())
			if err != nil {
				errs <- err.Error()
				return
			}
			res = do(raw(authz(c, "SHA-256", "SHA-256", "2001", "pw2001", "00000001")))
			if res == nil || res.StatusCode != 200 {
				errs <- fmt.Sprintf("%s: second answer %v", src, res)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if len(h.store.sets) != 40 {
		t.Errorf("SetBinding calls = %d, want 40", len(h.store.sets))
	}
	for _, s := range h.store.sets {
		if s.b.Transport != "TCP" || !strings.HasSuffix(s.b.Contact, ";transport=tcp") {
			t.Errorf("binding %+v, want TCP transport and contact", s.b)
		}
	}
}
