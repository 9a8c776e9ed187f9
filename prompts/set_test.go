package prompts

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// tinyWAV is a valid one-frame μ-law prompt whose bytes are all b, so
// tests can tell clips apart by their first byte.
func tinyWAV(b byte) []byte {
	data := make([]byte, 160)
	for i := range data {
		data[i] = b
	}
	return riff(chunk("fmt ", fmtBody(7, 1, 8000, 8)), chunk("data", data))
}

func file(b []byte) *fstest.MapFile { return &fstest.MapFile{Data: b} }

func TestDefaultShared(t *testing.T) {
	s1, err := Default()
	if err != nil {
		t.Fatalf("Default() error = %v", err)
	}
	s2, _ := Default()
	if s1 != s2 {
		t.Errorf("Default() = %p then %p, want the same set", s1, s2)
	}
	c1, ok1 := s1.Clip("en", "welcome")
	c2, ok2 := s2.Clip("en", "welcome")
	if !ok1 || !ok2 {
		t.Fatalf("Clip(en, welcome) ok = %v, %v, want true", ok1, ok2)
	}
	if c1 != c2 {
		t.Errorf("Clip(en, welcome) = %p then %p, want the same clip", c1, c2)
	}
	for i := range c1.ULaw {
		if &c1.ULaw[i][0] != &c2.ULaw[i][0] || &c1.ALaw[i][0] != &c2.ALaw[i][0] {
			t.Fatalf("Clip(en, welcome) frame %d is not shared", i)
		}
	}
	if got, want := s1.Languages(), []string{"en", "es"}; !slices.Equal(got, want) {
		t.Errorf("Languages() = %v, want %v", got, want)
	}
	if got := s1.DefaultLanguage(); got != "en" {
		t.Errorf("DefaultLanguage() = %q, want %q", got, "en")
	}
	if m, ok := s1.Music("hold"); !ok || m.Name != "music/hold" {
		t.Errorf("Music(hold) = %v, %v, want music/hold, true", m, ok)
	}
	if _, ok := s1.Music("nope"); ok {
		t.Errorf("Music(nope) ok = true, want false")
	}
	if c1.Name != "en/welcome" {
		t.Errorf("Clip(en, welcome).Name = %q, want %q", c1.Name, "en/welcome")
	}
}

func TestLoadFallback(t *testing.T) {
	fsys := fstest.MapFS{
		"en/a.wav":       file(tinyWAV(0x01)),
		"en/b.wav":       file(tinyWAV(0x02)),
		"en/a.txt":       file([]byte("ignored")),
		"es/a.wav":       file(tinyWAV(0x11)),
		"es/.hidden.wav": file([]byte("ignored, not a wav")),
		"es/sub/x.wav":   file([]byte("ignored, too deep")),
		".git/HEAD.wav":  file([]byte("ignored, hidden dir")),
		"music/hold.WAV": file(tinyWAV(0x21)),
		"README.wav":     file([]byte("ignored, not in a language dir")),
	}
	s, err := Load(fsys)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	tests := []struct {
		lang, name string
		ok, has    bool
		first      byte
	}{
		{"en", "a", true, true, 0x01},
		{"es", "a", true, true, 0x11},
		{"es", "b", true, false, 0x02}, // falls back to en
		{"fr", "a", true, false, 0x01}, // unknown language falls back too
		{"en", "zzz", false, false, 0},
		{"es", "zzz", false, false, 0},
		{"es", ".hidden", false, false, 0},
	}
	for _, tt := range tests {
		c, ok := s.Clip(tt.lang, tt.name)
		if ok != tt.ok {
			t.Errorf("Clip(%s, %s) ok = %v, want %v", tt.lang, tt.name, ok, tt.ok)
			continue
		}
		if ok && c.ULaw[0][0] != tt.first {
			t.Errorf("Clip(%s, %s) first byte = %#x, want %#x", tt.lang, tt.name, c.ULaw[0][0], tt.first)
		}
		if got := s.Has(tt.lang, tt.name); got != tt.has {
			t.Errorf("Has(%s, %s) = %v, want %v", tt.lang, tt.name, got, tt.has)
		}
	}
	if got, want := s.Languages(), []string{"en", "es"}; !slices.Equal(got, want) {
		t.Errorf("Languages() = %v, want %v", got, want)
	}
	if got, want := s.Names("en"), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Names(en) = %v, want %v", got, want)
	}
	if _, ok := s.Music("hold"); !ok {
		t.Errorf("Music(hold) ok = false, want true (.WAV accepted)")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []string // all must appear: every bad file is reported
	}{
		{"empty", fstest.MapFS{"en/a.txt": file([]byte("x"))}, []string{"no <lang>/<name>.wav prompts found"}},
		{"two bad files", fstest.MapFS{
			"en/ok.wav":     file(tinyWAV(1)),
			"en/stereo.wav": file(riff(chunk("fmt ", fmtBody(1, 2, 8000, 16)), chunk("data", make([]byte, 64)))),
			"es/cut.wav":    file([]byte("RIFF")),
		}, []string{"en/stereo.wav: unsupported wav: 2 channels", "es/cut.wav: malformed wav"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(tt.fsys)
			if err == nil {
				t.Fatalf("Load() = %v, want error", s)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadDirOverlay(t *testing.T) {
	def, err := Default()
	if err != nil {
		t.Fatalf("Default() error = %v", err)
	}
	dir := t.TempDir()
	write := func(rel string, b []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("es/welcome.wav", tinyWAV(0x31))
	write("fr/welcome.wav", tinyWAV(0x32))
	write("music/jazz.wav", tinyWAV(0x33))
	write("es/welcome.txt", []byte("not audio, ignored"))

	s, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir() error = %v", err)
	}
	if c, _ := s.Clip("es", "welcome"); c.ULaw[0][0] != 0x31 {
		t.Errorf("Clip(es, welcome) first byte = %#x, want the override 0x31", c.ULaw[0][0])
	}
	if got, want := s.Languages(), []string{"en", "es", "fr"}; !slices.Equal(got, want) {
		t.Errorf("Languages() = %v, want %v", got, want)
	}
	// Untouched prompts are the default's clips, not copies.
	for _, k := range [][2]string{{"en", "welcome"}, {"es", "goodbye"}, {"fr", "goodbye"}} {
		got, _ := s.Clip(k[0], k[1])
		want, _ := def.Clip(k[0], k[1])
		if got != want {
			t.Errorf("Clip(%s, %s) = %p, want the default's %p", k[0], k[1], got, want)
		}
	}
	if s.Has("fr", "goodbye") {
		t.Errorf("Has(fr, goodbye) = true, want false (only welcome was given)")
	}
	hold, _ := s.Music("hold")
	defHold, _ := def.Music("hold")
	if hold != defHold {
		t.Errorf("Music(hold) after overlay = %p, want the default's %p", hold, defHold)
	}
	if _, ok := s.Music("jazz"); !ok {
		t.Errorf("Music(jazz) ok = false, want true")
	}
	// The default set must not have been changed by the overlay.
	if def.Has("fr", "welcome") {
		t.Errorf("Default().Has(fr, welcome) = true after LoadDir, want false")
	}
	if c, _ := def.Clip("es", "welcome"); c.ULaw[0][0] == 0x31 {
		t.Errorf("Default() es/welcome was replaced by LoadDir")
	}
}

func TestLoadDirErrors(t *testing.T) {
	empty := t.TempDir()
	bad := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bad, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "en", "welcome.wav"), riff(chunk("fmt ", fmtBody(1, 1, 44100, 16)), chunk("data", make([]byte, 64))), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, want string
		is              error
	}{
		{"missing dir", filepath.Join(empty, "nope"), "load prompts from", nil},
		{"no wavs", empty, "no <lang>/<name>.wav prompts found", nil},
		{"44.1 kHz", bad, "en/welcome.wav: unsupported wav: sample rate 44100 Hz", ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadDir(tt.dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadDir(%s) error = %v, want it to contain %q", tt.dir, err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("LoadDir(%s) error = %v, want errors.Is %v", tt.dir, err, tt.is)
			}
		})
	}
}

func TestNumber(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatalf("Default() error = %v", err)
	}
	for _, lang := range []string{"en", "es"} {
		for n := NumberMin; n <= NumberMax; n++ {
			got := s.Number(lang, n)
			want, _ := s.Clip(lang, "num_"+strconv.Itoa(n))
			if len(got) != 1 || got[0] != want {
				t.Errorf("Number(%s, %d) = %v, want [%s]", lang, n, got, want.Name)
			}
			if names := NumberNames(n); !slices.Equal(names, []string{"num_" + strconv.Itoa(n)}) {
				t.Errorf("NumberNames(%d) = %v, want [num_%d]", n, names, n)
			}
		}
	}
	for _, n := range []int{-1, 0, 21, 100} {
		if got := s.Number("en", n); got != nil {
			t.Errorf("Number(en, %d) = %v, want nil", n, got)
		}
		if got := NumberNames(n); got != nil {
			t.Errorf("NumberNames(%d) = %v, want nil", n, got)
		}
	}
}

// BenchmarkLoadEmbedded measures the start-up cost of decoding and framing
// the whole embedded tree (Default does it once per process).
func BenchmarkLoadEmbedded(b *testing.B) {
	sub, err := fs.Sub(embedded, "audio")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(sub); err != nil {
			b.Fatal(err)
		}
	}
}
