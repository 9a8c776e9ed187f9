package agents

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the package's promise: the standard library and
// goccy/go-yaml only, no network code.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/ivrgw/ivrgw/agents" && !strings.HasPrefix(p, "github.com/goccy/go-yaml") {
			t.Errorf("agents depends on %s, want stdlib and goccy/go-yaml only", p)
		}
	}
}
