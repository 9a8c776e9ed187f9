package prompts

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestGenerate runs generate.sh for one prompt into a temporary directory.
// It needs espeak-ng and sox, so it only runs when asked: the committed WAVs
// are what the other tests (and the binary) use.
func TestGenerate(t *testing.T) {
	if os.Getenv("IVRGW_TEST_GENERATE") != "1" {
		t.Skip("set IVRGW_TEST_GENERATE=1 to run generate.sh (needs espeak-ng and sox)")
	}
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH", tool)
		}
	}
	out := t.TempDir()
	tests := []struct{ prompt, file string }{
		{"en/goodbye", "en/goodbye.wav"},
		{"es/goodbye", "es/goodbye.wav"},
	}
	for _, tt := range tests {
		t.Run(tt.prompt, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", "generate.sh", "-o", out, tt.prompt)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("generate.sh %s: %v\n%s", tt.prompt, err, b)
			}
			f, err := os.Open(filepath.Join(out, tt.file))
			if err != nil {
				t.Fatalf("generate.sh wrote no %s: %v", tt.file, err)
			}
			defer f.Close()
			a, err := DecodeWAV(f)
			if err != nil {
				t.Fatalf("DecodeWAV(%s) error = %v", tt.file, err)
			}
			if a.Encoding != EncodingULaw {
				t.Errorf("DecodeWAV(%s).Encoding = %v, want ulaw", tt.file, a.Encoding)
			}
			if p := speechProblem(a.PCM); p != "" {
				t.Errorf("generated %s: %s: %+v", tt.file, p, analyse(a.PCM))
			}
		})
	}
}
