package prompts

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ivrgw/ivrgw/media"
)

// embedded holds only the WAVs: the .txt sources stay out of the binary.
//
//go:embed audio/*/*.wav
var embedded embed.FS

// musicDir is the top-level directory that holds music, not a language.
const musicDir = "music"

// defaultLanguage is the language every other one falls back to.
const defaultLanguage = "en"

// Set holds the clips of every language and the hold music. It is
// immutable once built, so one Set is shared by all calls without locks.
type Set struct {
	langs map[string]map[string]*media.Clip // lang → name → clip
	music map[string]*media.Clip
}

// Load reads <lang>/<name>.wav and music/<name>.wav from fsys (hidden
// entries, other files and deeper directories are ignored). Every bad file
// is reported, joined in one error, so an operator fixes them all at once.
func Load(fsys fs.FS) (*Set, error) {
	s := &Set{langs: map[string]map[string]*media.Clip{}, music: map[string]*media.Clip{}}
	dirs, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read prompt root: %w", err)
	}
	var errs []error
	n := 0
	for _, d := range dirs {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		dir := d.Name()
		files, err := fs.ReadDir(fsys, dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", dir, err))
			continue
		}
		for _, f := range files {
			ext := path.Ext(f.Name())
			if f.IsDir() || strings.HasPrefix(f.Name(), ".") || !strings.EqualFold(ext, ".wav") {
				continue
			}
			name := strings.TrimSuffix(f.Name(), ext)
			clip, err := loadClip(fsys, dir+"/"+f.Name(), dir+"/"+name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			n++
			if dir == musicDir {
				s.music[name] = clip
				continue
			}
			if s.langs[dir] == nil {
				s.langs[dir] = map[string]*media.Clip{}
			}
			s.langs[dir][name] = clip
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if n == 0 {
		return nil, errors.New("no <lang>/<name>.wav prompts found")
	}
	return s, nil
}

func loadClip(fsys fs.FS, file, name string) (*media.Clip, error) {
	f, err := fsys.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()
	a, err := DecodeWAV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return ClipFromAudio(name, a), nil
}

// defaultSet decodes the embedded tree once per process; every Default()
// returns the same Set, so all calls share the same frames.
var defaultSet = sync.OnceValues(func() (*Set, error) {
	sub, err := fs.Sub(embedded, "audio")
	if err != nil {
		return nil, fmt.Errorf("embedded prompts: %w", err)
	}
	s, err := Load(sub)
	if err != nil {
		return nil, fmt.Errorf("embedded prompts: %w", err)
	}
	return s, nil
})

// Default returns the prompts embedded in the binary (en, es and music).
func Default() (*Set, error) { return defaultSet() }

// LoadDir lays the prompts in dir (same layout as Load) over the default
// set: a file there replaces the default clip of that language and name, a
// new language or name is added, and everything else stays the default
// (sharing its frames). This is how an operator records their own voice.
func LoadDir(dir string) (*Set, error) {
	base, err := Default()
	if err != nil {
		return nil, err
	}
	over, err := Load(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("load prompts from %s: %w", dir, err)
	}
	return base.overlay(over), nil
}

// overlay returns a new Set: s with o's clips on top. Neither is modified.
func (s *Set) overlay(o *Set) *Set {
	out := &Set{langs: make(map[string]map[string]*media.Clip, len(s.langs)), music: maps.Clone(s.music)}
	for lang, names := range s.langs {
		out.langs[lang] = maps.Clone(names)
	}
	for lang, names := range o.langs {
		if out.langs[lang] == nil {
			out.langs[lang] = map[string]*media.Clip{}
		}
		maps.Copy(out.langs[lang], names)
	}
	maps.Copy(out.music, o.music)
	return out
}

// DefaultLanguage is the language a missing prompt falls back to: "en".
func (s *Set) DefaultLanguage() string { return defaultLanguage }

// Clip returns the prompt name in lang, or the default language's clip
// when lang lacks it (the caller logs that; Has tells them apart). The
// clip is shared: callers must not modify it.
func (s *Set) Clip(lang, name string) (*media.Clip, bool) {
	if c, ok := s.langs[lang][name]; ok {
		return c, true
	}
	c, ok := s.langs[defaultLanguage][name]
	return c, ok
}

// Has reports whether lang itself has the prompt, without fallback.
func (s *Set) Has(lang, name string) bool {
	_, ok := s.langs[lang][name]
	return ok
}

// Languages returns the languages in the set, sorted.
func (s *Set) Languages() []string {
	return slices.Sorted(maps.Keys(s.langs))
}

// Names returns the prompt names lang has (without fallback), sorted.
func (s *Set) Names(lang string) []string {
	return slices.Sorted(maps.Keys(s.langs[lang]))
}

// Music returns the music clip music/<name>.wav, e.g. "hold".
func (s *Set) Music(name string) (*media.Clip, bool) {
	c, ok := s.music[name]
	return c, ok
}

// Numbers the sets can say: one prompt num_N each.
const (
	NumberMin = 1
	NumberMax = 20
)

// NumberNames returns the prompt names that say n (for Channel.Play, which
// takes names), or nil when n is outside NumberMin..NumberMax.
func NumberNames(n int) []string {
	if n < NumberMin || n > NumberMax {
		return nil
	}
	return []string{"num_" + strconv.Itoa(n)}
}

// Number returns the clips that say n in lang (falling back like Clip), or
// nil when n is outside NumberMin..NumberMax or a clip is missing. Used for
// queue position and wait announcements.
func (s *Set) Number(lang string, n int) []*media.Clip {
	names := NumberNames(n)
	if names == nil {
		return nil
	}
	clips := make([]*media.Clip, 0, len(names))
	for _, name := range names {
		c, ok := s.Clip(lang, name)
		if !ok {
			return nil
		}
		clips = append(clips, c)
	}
	return clips
}
