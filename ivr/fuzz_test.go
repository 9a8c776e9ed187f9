package ivr

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any bytes give either a Config or Problems, never a panic,
// and every problem has a position.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/good/*.yaml", "testdata/bad/*.yaml", "../configs/menu.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	cat := testCatalog()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, cat)
		if err == nil {
			if cfg == nil || cfg.Menus[cfg.Start] == nil {
				t.Fatalf("Parse = nil error and config %+v without its start menu", cfg)
			}
			// A config that loads must run: start it and press every key.
			m := NewMachine(cfg)
			m.Start()
			for _, k := range []byte("0123456789*#") {
				m.Handle(PromptDone{})
				m.Handle(Key{Digit: k})
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("Parse error = %v (%T), want non-empty Problems", err, err)
		}
		if cfg != nil {
			t.Fatalf("Parse returned a config with problems")
		}
		for _, p := range ps {
			if p.Line < 1 || p.Col < 1 || p.Msg == "" {
				t.Fatalf("problem without position or message: %+v", p)
			}
		}
	})
}
