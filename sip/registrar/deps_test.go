package registrar

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports: the registrar is SIP code; it must not reach into media,
// ivr, routing or Redis (docs/design.md).
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, bad := range []string{"github.com/ivrgw/ivrgw/media", "github.com/ivrgw/ivrgw/ivr", "github.com/ivrgw/ivrgw/routing", "github.com/redis/", "github.com/pion/"} {
			if strings.HasPrefix(p, bad) {
				t.Errorf("registrar depends on %s", p)
			}
		}
	}
}
