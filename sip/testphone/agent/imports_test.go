package agent

import (
	"os/exec"
	"strings"
	"testing"
)

// TestIndependentOfGateway: the fake agent must not share code with what it
// tests (doc.go), directly or through a dependency.
func TestIndependentOfGateway(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{"sip", "sip/sdp", "sip/registrar", "media", "media/dtmf", "routing", "gateway", "ivr", "agents", "admin"}
	for _, dep := range strings.Fields(string(out)) {
		rest, ok := strings.CutPrefix(dep, "github.com/ivrgw/ivrgw/")
		if !ok {
			continue
		}
		for _, f := range forbidden {
			if rest == f {
				t.Errorf("go list -deps = ... %s ..., want no dependency on the gateway's own %s", dep, f)
			}
		}
	}
}
