package ivr

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGraphGolden draws menus as DOT and Mermaid and compares them with
// testdata/graph/*; -update rewrites the golden files (then read the diff).
func TestGraphGolden(t *testing.T) {
	tests := []struct {
		name, file string
	}{
		{"shipped", "../configs/menu.yaml"},
		// A menu the validator refuses is still drawn: that is when the
		// picture helps most.
		{"deadend", "testdata/check/deadend.yaml"},
		// Closed hours: dashed edges to where a caller goes instead.
		{"hours", "testdata/docs/hours.yaml"},
	}
	formats := []struct {
		ext   string
		write func(io.Writer, *Config) error
	}{{"dot", WriteDOT}, {"mmd", WriteMermaid}}
	for _, tt := range tests {
		data, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseWith(tt.file, data, Inputs{Lenient: true})
		if cfg == nil {
			t.Fatalf("ParseWith(%s, Lenient) = nil, %v; want a Config", tt.file, err)
		}
		for _, f := range formats {
			t.Run(tt.name+"."+f.ext, func(t *testing.T) {
				var a, b bytes.Buffer
				if err := f.write(&a, cfg); err != nil {
					t.Fatal(err)
				}
				if err := f.write(&b, cfg); err != nil {
					t.Fatal(err)
				}
				if a.String() != b.String() {
					t.Fatalf("two drawings of %s differ:\n%s\n---\n%s", tt.file, a.String(), b.String())
				}
				golden := filepath.Join("testdata/graph", tt.name+"."+f.ext)
				if *update {
					if err := os.WriteFile(golden, a.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if a.String() != string(want) {
					t.Errorf("graph of %s =\n%s\nwant (%s)\n%s", tt.file, a.String(), golden, want)
				}
				if f.ext == "dot" {
					checkDot(t, a.Bytes())
				}
			})
		}
	}
}

// checkDot has Graphviz parse the output when it is installed.
func checkDot(t *testing.T, src []byte) {
	t.Helper()
	dot, err := exec.LookPath("dot")
	if errors.Is(err, exec.ErrNotFound) {
		t.Log("graphviz not installed: DOT syntax not checked")
		return
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = bytes.NewReader(src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("dot -Tsvg: %v\n%s", err, out)
	}
}

func TestLenientOnlyForJudgements(t *testing.T) {
	// A syntax-level problem is never lenient: there is no menu to draw.
	src := "settings: {languages: [en]}\nmenus: {main: {prompt: [main_menu], options: {1: {menu: gone}}}}\n"
	if cfg, err := ParseWith("m.yaml", []byte(src), Inputs{Lenient: true}); cfg != nil || err == nil {
		t.Errorf("ParseWith(unknown menu, Lenient) = %v, %v; want nil and the problem", cfg, err)
	}
}
