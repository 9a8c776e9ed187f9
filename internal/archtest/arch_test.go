// Package archtest checks the package boundaries written in docs/design.md:
// which package may import which third-party stack. It is cheap, and keeps
// the picture in the design true as the code grows.
package archtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ivrgw/ivrgw/"

// forbidden lists, for each package, import path prefixes that must not
// appear anywhere in its dependency graph.
var forbidden = map[string][]string{
	"ivr":        {"net", "github.com/emiago/sipgo", "github.com/pion/", "github.com/redis/", module + "sip", module + "media", module + "routing"},
	"media":      {"github.com/emiago/sipgo", "github.com/redis/", module + "sip", module + "ivr", module + "routing"},
	"media/g711": {"github.com/", module + "media/dtmf"},
	"media/dtmf": {"github.com/", "net"},
	"prompts":    {"github.com/emiago/sipgo", "github.com/redis/", module + "sip", module + "ivr", module + "routing"},
	"sip/sdp":    {"github.com/emiago/sipgo", "net/http"},
	"routing":    {"github.com/emiago/sipgo", "github.com/pion/", module + "sip", module + "media", module + "ivr"},
	"agents":     {"net", "github.com/emiago/sipgo", "github.com/redis/"},
	"admin":      {"github.com/emiago/sipgo", module + "sip", module + "ivr"},
}

// owners lists who may import each stack directly (the gateway, admin and
// cmd packages reach them only through the project's own packages) (not through a project package).
var owners = map[string][]string{
	"github.com/emiago/sipgo":   {"sip", "sip/registrar", "sip/testphone", "sip/testphone/agent"},
	"github.com/redis/go-redis": {"routing"},
	"github.com/pion/rtp":       {"media", "sip/testphone", "sip/testphone/fakeuas", "sip/testphone/agent"},
	"github.com/prometheus/":    {"admin"},
	"github.com/pion/srtp":      {"media"},
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

func TestDependencyBoundaries(t *testing.T) {
	for pkg, bad := range forbidden {
		t.Run(pkg, func(t *testing.T) {
			deps := goList(t, "-deps", module+pkg)
			for _, d := range deps {
				if strings.HasPrefix(d, module) && !strings.HasPrefix(d, module+"internal") {
					// Project packages are judged by their own rules; the
					// "github.com/" rules mean third-party code.
					if !slices.ContainsFunc(bad, func(b string) bool { return strings.HasPrefix(b, module) }) {
						continue
					}
				}
				for _, b := range bad {
					if b == "github.com/" && strings.HasPrefix(d, module) {
						continue
					}
					if d == b || strings.HasPrefix(d, b+"/") || (strings.HasSuffix(b, "/") && strings.HasPrefix(d, b)) {
						t.Errorf("%s depends on %s (forbidden: %s)", pkg, d, b)
					}
				}
			}
		})
	}
}

func TestDirectImportOwners(t *testing.T) {
	lines := goList(t, "-f", "{{.ImportPath}}:{{join .Imports \",\"}}", module+"...")
	for _, l := range lines {
		pkg, imps, _ := strings.Cut(l, ":")
		rel := strings.TrimPrefix(pkg, module)
		for _, imp := range strings.Split(imps, ",") {
			for stack, allowed := range owners {
				if !strings.HasPrefix(imp, stack) {
					continue
				}
				ok := false
				for _, a := range allowed {
					if rel == a {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s directly; only %v may", rel, imp, allowed)
				}
			}
		}
	}
}
