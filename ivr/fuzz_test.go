package ivr

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse: any bytes give either a Config or Problems, never a panic,
// and every problem has a position.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/good/*.yaml", "testdata/bad/*.yaml", "testdata/docs/*.yaml", "../configs/menu.yaml"} {
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
			// A config that loads must run, at any hour: start it and
			// press every key, on a weekday, a Sunday night and a
			// Christmas Day, so closed hours are met too.
			for _, at := range []string{"2026-12-23T10:00:00Z", "2026-12-27T23:30:00Z", "2026-12-25T12:00:00Z"} {
				m := NewMachine(cfg)
				m.SetClock(func() time.Time { return utc(at) })
				m.Start()
				for _, k := range []byte("0123456789*#") {
					m.Handle(PromptDone{})
					m.Handle(Key{Digit: k})
				}
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
