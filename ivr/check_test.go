package ivr

import (
	"os"
	"path/filepath"
	"testing"
)

// staffSet is a Staff from a literal: the queues some agent serves.
type staffSet map[string]bool

func (s staffSet) Serves(q string) bool { return s[q] }

// TestCheckMenus: the checks that judge the menu as a whole report each
// problem once, at the node that is wrong.
func TestCheckMenus(t *testing.T) {
	tests := []struct {
		file  string
		staff Staff
		want  string
	}{
		{"deadend.yaml", nil, "" +
			`deadend.yaml:10:3: menu "billing" is a dead end: none of its options leads to a person (a transfer), only to hang-ups, plays or loops; add a transfer or a way back` + "\n" +
			`deadend.yaml:14:3: menu "tech" is a dead end: none of its options leads to a person (a transfer), only to hang-ups, plays or loops; add a transfer or a way back`},
		{"far.yaml", nil,
			`far.yaml:5:3: menu "main" is 2 key presses from a person, more than max_presses_to_person (1)`},
		// An unknown submenu is one problem: the menu it was meant to be
		// is not also "unreachable".
		{"noise.yaml", nil, `noise.yaml:7:17: menu "biling" does not exist`},
		{"staff.yaml", staffSet{"support": true}, "" +
			`staff.yaml:8:29: transfer to queue "sales": no agent in the agents file serves it` + "\n" +
			`staff.yaml:15:36: transfer to queue "billing": no agent in the agents file serves it`},
		{"staff_person.yaml", staffSet{"billing": true},
			`staff_person.yaml:4:12: person queue "nobody": no agent in the agents file serves it`},
		// Without an agents file, queues are not judged.
		{"staff.yaml", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/check", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseWith(tt.file, data, Inputs{Catalog: testCatalog(), Staff: tt.staff})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("ParseWith(%s) problems =\n%s\nwant\n%s", tt.file, got, tt.want)
			}
		})
	}
}

// TestShippedMenuChecks: the shipped menu passes every check against the
// shipped agents (support and billing are both staffed).
func TestShippedMenuChecks(t *testing.T) {
	staff := staffSet{"support": true, "billing": true, "es": true}
	if _, err := LoadWith("../configs/menu.yaml", Inputs{Catalog: dirCatalog(t, "../prompts/audio"), Staff: staff}); err != nil {
		t.Errorf("LoadWith(configs/menu.yaml) = %v, want no error", err)
	}
}

func TestDistances(t *testing.T) {
	cfg, err := Load("../configs/menu.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := Distances(cfg)
	for id, want := range map[string]int{"main": 2, "billing": 1, "tech": 3} {
		if d, ok := got[id]; !ok || d != want {
			t.Errorf("Distances(configs/menu.yaml)[%s] = %d, %v, want %d", id, d, ok, want)
		}
	}
}
