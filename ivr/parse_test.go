package ivr

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.want from the current output")

// stdNames are the prompt names of the shipped sets.
var stdNames = []string{
	"welcome", "main_menu", "main_menu_short", "billing_menu", "balance_info", "account_prompt",
	"account_thanks", "tech_menu", "internet_help", "phone_help", "order_status", "invalid",
	"no_input", "transfer", "too_many_tries", "goodbye", "unavailable", "closed_now", "closed_hours",
}

// mapCatalog is a Catalog from a literal: lang -> names.
type mapCatalog map[string]map[string]bool

func (c mapCatalog) Has(lang, name string) bool { return c[lang][name] }

func newCatalog(langs map[string][]string) mapCatalog {
	c := mapCatalog{}
	for l, names := range langs {
		c[l] = map[string]bool{}
		for _, n := range names {
			c[l][n] = true
		}
	}
	return c
}

// testCatalog has every standard prompt in en, and all but phone_help and
// goodbye in es.
func testCatalog() mapCatalog {
	var es []string
	for _, n := range stdNames {
		if n != "phone_help" && n != "goodbye" {
			es = append(es, n)
		}
	}
	return newCatalog(map[string][]string{"en": stdNames, "es": es})
}

// dirCatalog lists the prompt files shipped in prompts/audio/<lang>/, by
// base name. It reads the directory rather than importing package prompts
// so that this test does not pull media code into ivr's test build.
func dirCatalog(t *testing.T, root string) mapCatalog {
	t.Helper()
	langs, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("read prompt sets: %v", err)
	}
	c := mapCatalog{}
	for _, l := range langs {
		if !l.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, l.Name()))
		if err != nil {
			t.Fatalf("read prompt set %s: %v", l.Name(), err)
		}
		c[l.Name()] = map[string]bool{}
		for _, f := range files {
			c[l.Name()][strings.TrimSuffix(f.Name(), filepath.Ext(f.Name()))] = true
		}
	}
	return c
}

func TestShippedMenuLoads(t *testing.T) {
	cat := dirCatalog(t, "../prompts/audio")
	cfg, err := Load("../configs/menu.yaml", cat)
	if err != nil {
		t.Fatalf("Load(configs/menu.yaml) = %v, want no error", err)
	}
	if got, want := cfg.Languages, []string{"en", "es"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Languages = %v, want %v", got, want)
	}
	checks := []struct {
		menu string
		key  byte
		want Kind
	}{
		{"main", '1', KindMenu}, {"main", '2', KindMenu}, {"main", '3', KindPlay}, {"main", '9', KindLanguage},
		{"main", '*', KindRepeat}, {"billing", '1', KindPlay}, {"billing", '2', KindCollect},
		{"billing", '*', KindBack}, {"tech", '1', KindPlay}, {"tech", '2', KindPlay}, {"tech", '*', KindBack},
	}
	for _, c := range checks {
		o := cfg.Menus[c.menu].Options[c.key]
		if o == nil || o.Kind != c.want {
			t.Errorf("menu %s key %c = %+v, want kind %v", c.menu, c.key, o, c.want)
		}
	}
	col := cfg.Menus["billing"].Options['2'].Collect
	if col.MaxDigits != 10 || col.Terminator != '#' || col.Then.Kind != KindTransfer || col.Then.Queue != "billing" {
		t.Errorf("billing collect = %+v then %+v, want 10 digits, #, transfer to billing", col, col.Then)
	}
	if cfg.Person.Key != '0' {
		t.Errorf("Person.Key = %q, want '0'", cfg.Person.Key)
	}
}

func TestParseGood(t *testing.T) {
	data, err := os.ReadFile("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("full.yaml", data, newCatalog(map[string][]string{"en": stdNames, "es": stdNames}))
	if err != nil {
		t.Fatalf("Parse(full.yaml) = %v, want no error", err)
	}
	top, sub := cfg.Menus["top"], cfg.Menus["sub"]
	tests := []struct {
		name      string
		got, want any
	}{
		{"DefaultLanguage", cfg.DefaultLanguage, "es"},
		{"Start", cfg.Start, "top"},
		{"Welcome", cfg.Welcome, []string{"welcome"}},
		{"NoInputTimeout", cfg.NoInputTimeout, 4 * time.Second},
		{"InterDigitTimeout", cfg.InterDigitTimeout, 2500 * time.Millisecond},
		{"MaxTries", cfg.MaxTries, 5},
		{"Person", cfg.Person, Person{Key: '#', Queue: "humans", Priority: 3}},
		{"top.NoInputTimeout", top.NoInputTimeout, 7 * time.Second},
		{"top.MaxTries", top.MaxTries, 4},
		{"sub.NoInputTimeout (inherited)", sub.NoInputTimeout, 4 * time.Second},
		{"sub.MaxTries (inherited)", sub.MaxTries, 5},
		{"top.Short", top.Short, []string{"main_menu_short"}},
		{"top 1", *top.Options['1'], Option{Kind: KindMenu, Menu: "sub"}},
		{"top 2", *top.Options['2'], Option{Kind: KindPlay, Prompts: []string{"order_status", "balance_info"}}},
		{"top 3", *top.Options['3'], Option{Kind: KindHangup}},
		{"top 4 (bare transfer goes to the person queue)", *top.Options['4'], Option{Kind: KindTransfer, Queue: "humans", Priority: 3}},
		{"top 5", *top.Options['5'], Option{Kind: KindTransfer, Queue: "sales", Priority: 9}},
		{"top 6", *top.Options['6'], Option{Kind: KindLanguage, Language: "en"}},
		{"top 7", *top.Options['7'], Option{Kind: KindTransfer, Queue: "humans", Priority: 3}},
		{"top *", *top.Options['*'], Option{Kind: KindRepeat}},
		{"top 0", *top.Options['0'], Option{Kind: KindBack}},
		{"sub *", *sub.Options['*'], Option{Kind: KindBack}},
		{"sub 1 collect", *sub.Options['1'].Collect, Collect{
			Name: "account", Prompt: []string{"account_prompt"}, Done: []string{"account_thanks"},
			MinDigits: 1, MaxDigits: 6, Terminator: 0, InterDigitTimeout: time.Second,
			Then: &Option{Kind: KindMenu, Menu: "top"},
		}},
		{"sub 2 collect", *sub.Options['2'].Collect, Collect{
			Name: "pin", Prompt: []string{"account_prompt"}, MinDigits: 0, MaxDigits: 4, Terminator: '#',
			InterDigitTimeout: 2500 * time.Millisecond, Then: &Option{Kind: KindBack},
		}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("Parse(full.yaml).%s = %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
}

// TestParseBad loads every testdata/bad/*.yaml and compares the problems,
// one "file:line:col: msg" per line, with the .want file beside it.
// Run with -update to rewrite the .want files, then read the diff.
func TestParseBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad configs: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(name, data, testCatalog())
			if cfg != nil {
				t.Errorf("Parse(%s) returned a Config, want nil", name)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse(%s) error = %v, want Problems", name, err)
			}
			got := err.Error() + "\n"
			wantFile := strings.TrimSuffix(f, ".yaml") + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("Parse(%s) problems =\n%s\nwant\n%s", name, got, want)
			}
		})
	}
}

func TestProblemsError(t *testing.T) {
	ps := Problems{{File: "m.yaml", Line: 3, Col: 5, Msg: "bad"}, {File: "m.yaml", Line: 7, Col: 1, Msg: "worse"}}
	if got, want := ps.Error(), "m.yaml:3:5: bad\nm.yaml:7:1: worse"; got != want {
		t.Errorf("Problems.Error() = %q, want %q", got, want)
	}
}

func TestNilCatalogSkipsPromptCheck(t *testing.T) {
	src := "settings: {languages: [en]}\nmenus:\n  main:\n    prompt: [nowhere]\n    options: {1: repeat, 2: transfer}\n"
	if _, err := Parse("m.yaml", []byte(src), nil); err != nil {
		t.Errorf("Parse(nil catalog) = %v, want no error", err)
	}
	_, err := Parse("m.yaml", []byte(src), testCatalog())
	if got, want := err.Error(), `m.yaml:4:14: prompt "nowhere" is missing for language "en"`; got != want {
		t.Errorf("Parse(test catalog) = %q, want %q", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want wrapping os.ErrNotExist", err)
	}
}
