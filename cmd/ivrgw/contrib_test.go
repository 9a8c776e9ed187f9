package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardMetricsExist: every ivrgw_ series the shipped Grafana
// dashboard queries is one the gateway registers (by name in the code of
// cmd/ivrgw or admin), so a renamed metric cannot leave a dead panel.
func TestDashboardMetricsExist(t *testing.T) {
	raw, err := os.ReadFile("../../contrib/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("contrib/grafana-dashboard.json: %v", err)
	}
	var src strings.Builder
	for _, glob := range []string{"*.go", "../../admin/*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	name := regexp.MustCompile(`ivrgw_[a-z0-9_]+`)
	seen := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				seen++
				base := m
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					base = strings.TrimSuffix(base, suf)
				}
				if !strings.Contains(src.String(), `"`+base+`"`) {
					t.Errorf("panel %q queries %s, which the gateway does not register", p.Title, m)
				}
			}
		}
	}
	if seen < 20 {
		t.Errorf("dashboard queries %d ivrgw_ series, want the whole set (at least 20)", seen)
	}
}
