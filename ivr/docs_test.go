package ivr

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// exampleRE is how docs/menu.md shows an example file: a marker naming
// it, then the file in a yaml block.
var exampleRE = regexp.MustCompile("(?s)<!-- example: (ivr/testdata/docs/[a-z_]+\\.yaml) -->\n```yaml\n(.*?)```\n")

// TestDocsExamples keeps docs/menu.md honest: every example it shows is a
// file under testdata/docs, shown exactly as it is; every such file is
// shown; each passes the validator against the shipped prompts; and the
// page has no other YAML block that could drift unchecked.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/menu.md")
	if err != nil {
		t.Fatal(err)
	}
	cat := dirCatalog(t, "../prompts/audio")
	shown := map[string]bool{}
	for _, m := range exampleRE.FindAllStringSubmatch(string(doc), -1) {
		path, body := m[1], m[2]
		shown[path] = true
		data, err := os.ReadFile(filepath.Join("..", path))
		if err != nil {
			t.Errorf("docs/menu.md shows %s: %v", path, err)
			continue
		}
		if string(data) != body {
			t.Errorf("docs/menu.md shows %s differently from the file; paste the file again", path)
		}
		if _, err := Parse(filepath.Base(path), data, cat); err != nil {
			t.Errorf("the example %s does not validate:\n%v", path, err)
		}
	}
	files, err := filepath.Glob("testdata/docs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples under testdata/docs: %v", err)
	}
	for _, f := range files {
		if p := "ivr/" + filepath.ToSlash(f); !shown[p] {
			t.Errorf("%s is not shown in docs/menu.md", p)
		}
	}
	if n, want := strings.Count(string(doc), "```yaml"), len(shown); n != want {
		t.Errorf("docs/menu.md has %d yaml blocks, %d of them examples from testdata/docs: show YAML only as a checked example", n, want)
	}
	// Each action and top-level key is shown in some example.
	var all strings.Builder
	for p := range shown {
		data, _ := os.ReadFile(filepath.Join("..", p))
		all.Write(data)
	}
	for _, want := range append(slices.Clone(actionNames), "hours:", "queues:", "frustration:", "max_menu_time:", "holidays:", "closed:", "timezone:", "person:", "max_tries:", "short:", "welcome:") {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no example in docs/menu.md uses %q", want)
		}
	}
}
