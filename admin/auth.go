package admin

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// CheckExposure refuses an admin listener bound off loopback without a
// token: /agents and pause/resume would be open to anyone who can reach the
// port. listen is the -http address (host:port; an empty host is every
// interface).
func CheckExposure(listen, token string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("admin listen address %q: %w", listen, err)
	}
	if token != "" || isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("admin HTTP on %q is reachable off this host: set -admin-token (or IVRGW_ADMIN_TOKEN), or bind it to 127.0.0.1", listen)
}

// isLoopbackHost is true for a loopback IP literal and for "localhost".
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// guard wraps the API with the access rules:
//   - with a token, every path not in public needs "Authorization: Bearer
//     <token>" (401 otherwise);
//   - without one (allowed only on loopback, see CheckExposure) the Host
//     header must name loopback, so a web page cannot reach the API by
//     rebinding its own name to 127.0.0.1;
//   - a state-changing request (anything but GET and HEAD) from a browser
//     page of another origin is refused (403), token or not: a foreign
//     Origin, or Sec-Fetch-Site cross-site.
type guard struct {
	token  []byte
	public []string
	next   http.Handler
}

var errForbidden = errors.New("forbidden")

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := g.check(r); err != nil {
		if errors.Is(err, errUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ivrgw"`)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	g.next.ServeHTTP(w, r)
}

var errUnauthorized = errors.New("unauthorized: send Authorization: Bearer <admin token>")

func (g *guard) check(r *http.Request) error {
	if len(g.token) == 0 {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !isLoopbackHost(host) {
			return fmt.Errorf("%w: Host %q is not loopback (set -admin-token to serve other names)", errForbidden, r.Host)
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if err := sameOrigin(r); err != nil {
			return err
		}
	}
	// The supervisor page itself holds no data (it fetches it with the
	// token the operator types in), so a browser can always load it.
	if len(g.token) == 0 || slices.Contains(g.public, r.URL.Path) || r.URL.Path == "/supervisor" {
		return nil
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), g.token) != 1 {
		return errUnauthorized
	}
	return nil
}

// sameOrigin refuses a request a browser sent on behalf of another site.
// Tools (curl, scripts) send no Origin and pass.
func sameOrigin(r *http.Request) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return fmt.Errorf("%w: cross-site request", errForbidden)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("%w: Origin %q is not this server (%q)", errForbidden, origin, r.Host)
	}
	return nil
}
