package registrar

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readTorture(t *testing.T, name string) string {
	t.Helper()
	// The shared RFC 4475 corpus (addresses moved into 127.0.0.0/8) sits
	// beside the repository, at /work/shared.
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "sip-torture", name+".sip"))
	if err != nil {
		t.Skipf("torture message %s not available: %v", name, err)
	}
	return string(b)
}

func TestParseAuthorization(t *testing.T) {
	full := `Digest username="1001", realm="ivrgw", nonce="abc", uri="sip:127.0.0.1", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="x y", nc=0000000a, qop=auth, opaque="o"`
	tests := []struct {
		name    string
		in      string
		want    credentials
		wantErr string // substring; "" for success
	}{
		{"full", full, credentials{Username: "1001", Realm: "ivrgw", Nonce: "abc", URI: "sip:127.0.0.1",
			Response: "0123456789abcdef0123456789abcdef", Algorithm: "MD5", Cnonce: "x y", NC: "0000000a", QOP: "auth", Opaque: "o"}, ""},
		{"case and spacing", `digest  USERNAME = "a" ,realm="r",nonce="n",uri="u",response="x",qop="auth"`,
			credentials{Username: "a", Realm: "r", Nonce: "n", URI: "u", Response: "x", QOP: "auth"}, ""},
		{"escaped quote", `Digest username="a\"b", realm="r", nonce="n", uri="u", response="x"`,
			credentials{Username: `a"b`, Realm: "r", Nonce: "n", URI: "u", Response: "x"}, ""},
		{"comma inside quotes", `Digest username="a,b", realm="r", nonce="n", uri="u", response="x"`,
			credentials{Username: "a,b", Realm: "r", Nonce: "n", URI: "u", Response: "x"}, ""},
		{"extension param ignored", `Digest username="a", realm="r", nonce="n", uri="u", response="x", foo=bar`,
			credentials{Username: "a", Realm: "r", Nonce: "n", URI: "u", Response: "x"}, ""},
		{"other scheme", "NoOneKnowsThisScheme opaque-data=here", credentials{}, "not Digest"},
		{"basic", "Basic dXNlcjpwYXNz", credentials{}, "not Digest"},
		{"empty", "", credentials{}, "no scheme"},
		{"no params", "Digest", credentials{}, "whitespace"},
		{"missing response", `Digest username="a", realm="r", nonce="n", uri="u"`, credentials{}, "missing response"},
		{"duplicate", `Digest username="a", username="b", realm="r", nonce="n", uri="u", response="x"`, credentials{}, "repeated"},
		{"unterminated", `Digest username="a`, credentials{}, "unterminated"},
		{"bad nc", `Digest username="a", realm="r", nonce="n", uri="u", response="x", nc=1`, credentials{}, "nc"},
		{"quoted nc", `Digest username="a", realm="r", nonce="n", uri="u", response="x", nc="00000001"`, credentials{}, "nc"},
		{"missing comma", `Digest username="a" realm="r"`, credentials{}, "want ','"},
		{"control char", "Digest username=\"a\x01\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\"", credentials{}, "control"},
		{"trailing comma", `Digest username="a", realm="r", nonce="n", uri="u", response="x",`, credentials{}, "parameter name"},
		{"too long", "Digest username=\"" + strings.Repeat("a", 5000) + "\"", credentials{}, "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAuthorization(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseAuthorization(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseAuthorization(%q) = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("parseAuthorization(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
	if _, err := parseAuthorization("Basic x"); !errors.Is(err, errNotDigest) {
		t.Errorf("parseAuthorization(Basic) = %v, want errNotDigest", err)
	}
}

func TestDigestResponseRFCVector(t *testing.T) {
	// RFC 7616 §3.9.1 (SHA-256, qop=auth) published response.
	h, _, _ := newHash("SHA-256")
	ha1 := sha256hex("Mufasa:http-auth@example.org:Circle of Life")
	got := digestResponse(h, ha1, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
		"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", "GET", "/dir/index.html")
	if want := "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"; got != want {
		t.Errorf("digestResponse(RFC 7616 §3.9.1) = %s, want %s", got, want)
	}
	// RFC 2617 §3.5 (MD5, qop=auth).
	h, _, _ = newHash("")
	got = digestResponse(h, md5hex("Mufasa:testrealm@host.com:Circle Of Life"), "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		"00000001", "0a4f113b", "auth", "GET", "/dir/index.html")
	if want := "6629fae49393a05397450978507c4ef1"; got != want {
		t.Errorf("digestResponse(RFC 2617 §3.5) = %s, want %s", got, want)
	}
}

func TestNonceSigner(t *testing.T) {
	s := nonceSigner{key: []byte("k")}
	a, b := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	n := s.issue(t0, a)
	if got, ok := s.verify(n, a); !ok || !got.Equal(t0) {
		t.Errorf("verify(issue(t0, a), a) = %v, %v; want %v, true", got, ok, t0)
	}
	if _, ok := s.verify(n, b); ok {
		t.Error("verify(nonce for a, b) = true, want false")
	}
	if _, ok := (nonceSigner{key: []byte("other")}).verify(n, a); ok {
		t.Error("verify with another key = true, want false")
	}
	flipped := []byte(n)
	flipped[3] ^= 1
	for _, bad := range []string{"", "x", string(flipped), n + "A"} {
		if _, ok := s.verify(bad, a); ok {
			t.Errorf("verify(%q) = true, want false", bad)
		}
	}
	if s.issue(t0, a) == s.issue(t0.Add(time.Nanosecond), a) {
		t.Error("issue at different times gave the same nonce")
	}
}

// formatAuth writes c back as a header value; FuzzParseAuthorization checks
// the parser reads it back identically.
func formatAuth(c credentials) string {
	q := func(s string) string {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	parts := []string{
		"username=" + q(c.Username), "realm=" + q(c.Realm), "nonce=" + q(c.Nonce),
		"uri=" + q(c.URI), "response=" + q(c.Response),
	}
	if c.Algorithm != "" {
		parts = append(parts, "algorithm="+q(c.Algorithm))
	}
	if c.Cnonce != "" {
		parts = append(parts, "cnonce="+q(c.Cnonce))
	}
	if c.Opaque != "" {
		parts = append(parts, "opaque="+q(c.Opaque))
	}
	if c.QOP != "" {
		parts = append(parts, "qop="+q(c.QOP))
	}
	if c.NC != "" {
		parts = append(parts, "nc="+c.NC)
	}
	return "Digest " + strings.Join(parts, ", ")
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(`Digest username="1001", realm="ivrgw", nonce="abc", uri="sip:127.0.0.1", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="x", nc=00000001, qop=auth, opaque="o"`)
	f.Add(`Digest username="a\"b", realm="r", nonce="n", uri="u", response="x"`)
	f.Add("NoOneKnowsThisScheme opaque-data=here")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := parseAuthorization(in)
		if err != nil {
			return
		}
		for _, v := range []string{c.Username, c.Realm, c.Nonce, c.URI, c.Response, c.Algorithm, c.Cnonce, c.Opaque, c.QOP, c.NC} {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("parseAuthorization(%q) kept a control character: %+v", in, c)
			}
		}
		if c.NC != "" && (len(c.NC) != 8 || !isHex(c.NC)) {
			t.Fatalf("parseAuthorization(%q) nc = %q, want 8 hex digits", in, c.NC)
		}
		again, err := parseAuthorization(formatAuth(c))
		if err != nil || again != c {
			t.Fatalf("round trip of %+v = %+v, %v", c, again, err)
		}
		_ = fmt.Sprint(c)
	})
}
