package media

import (
	"go/build"
	"strings"
	"testing"
)

// The package contract (docs/design.md): media knows nothing of SIP or menus.
func TestImportsStayInLayer(t *testing.T) {
	for _, dir := range []string{".", "dtmf"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("build.ImportDir(%q): %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			first, _, _ := strings.Cut(imp, "/")
			stdlib := !strings.Contains(first, ".")
			var ok bool
			switch dir {
			case "dtmf":
				ok = stdlib
			default:
				ok = stdlib || imp == "github.com/pion/rtp" || imp == "github.com/pion/srtp/v3" ||
					imp == "github.com/ivrgw/ivrgw/media/g711" || imp == "github.com/ivrgw/ivrgw/media/dtmf" ||
					imp == "golang.org/x/sys/unix" // recvmmsg/sendmmsg (mux_linux.go)
			}
			if !ok {
				t.Errorf("package media/%s imports %q, which docs/design.md does not allow", dir, imp)
			}
		}
	}
}
