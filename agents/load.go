package agents

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// maxFileSize bounds what Load reads: an agents file is a few kilobytes.
const maxFileSize = 1 << 20

// The file's shape. Plain structs only: decoding them with yaml.Strict()
// rejects unknown keys at every level.
type fileDoc struct {
	Realm  string     `yaml:"realm"`
	Agents []agentDoc `yaml:"agents"`
}

type agentDoc struct {
	Name      string   `yaml:"name"`
	Extension string   `yaml:"extension"`
	Skills    []string `yaml:"skills"`
	Demo      bool     `yaml:"demo"`
	HA1       ha1Doc   `yaml:"ha1"`
}

type ha1Doc struct {
	MD5    string `yaml:"md5"`
	SHA256 string `yaml:"sha256"`
}

// Problem is one error in an agents file, at a 1-based line and column.
type Problem struct {
	File      string
	Line, Col int
	Msg       string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg) }

// LoadError lists every problem found in a file, in file order.
type LoadError struct{ Problems []Problem }

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads and validates the agents file at path. On a content error it
// returns a *LoadError listing every problem as file:line:col: msg.
func Load(path string) (*Directory, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, fmt.Errorf("load agents: %w", err)
	}
	return parse(path, data)
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	return data, nil
}

// checker collects problems against the parsed AST so that semantic errors
// point at the offending node.
type checker struct {
	name     string
	file     *ast.File
	problems []Problem
}

func (c *checker) addAt(line, col int, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// node returns the AST node at a YAML path such as $.agents[0].ha1.md5, or nil.
func (c *checker) node(path string) ast.Node {
	p, err := yaml.PathString(path)
	if err != nil {
		return nil
	}
	n, err := p.FilterFile(c.file)
	if err != nil {
		return nil
	}
	return n
}

// pos returns the position of the first of paths that exists, so a missing
// key is reported at its parent; 1:1 when none exists.
func (c *checker) pos(paths ...string) (int, int) {
	for _, p := range paths {
		if n := c.node(p); n != nil {
			if t := firstToken(n); t != nil && t.Position != nil {
				return t.Position.Line, t.Position.Column
			}
		}
	}
	return 1, 1
}

// firstToken is where a node starts as the reader sees it: for a mapping
// that is its first key, not the ':' token goccy records.
func firstToken(n ast.Node) *token.Token {
	switch m := n.(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 && !m.IsFlowStyle {
			return m.Values[0].Key.GetToken()
		}
	case *ast.MappingValueNode:
		return m.Key.GetToken()
	}
	return n.GetToken()
}

func (c *checker) add(paths []string, format string, args ...any) {
	l, col := c.pos(paths...)
	c.addAt(l, col, format, args...)
}

func yamlProblem(name string, err error) Problem {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if t := ye.GetToken(); t != nil && t.Position != nil {
			return Problem{File: name, Line: t.Position.Line, Col: t.Position.Column, Msg: ye.GetMessage()}
		}
		return Problem{File: name, Line: 1, Col: 1, Msg: ye.GetMessage()}
	}
	return Problem{File: name, Line: 1, Col: 1, Msg: err.Error()}
}

func parse(name string, data []byte) (*Directory, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, &LoadError{Problems: []Problem{yamlProblem(name, err)}}
	}
	c := &checker{name: name, file: f}
	if len(f.Docs) > 1 {
		l, col := 1, 1
		if t := f.Docs[1].Start; t != nil && t.Position != nil {
			l, col = t.Position.Line, t.Position.Column
		}
		c.addAt(l, col, "only one YAML document is allowed")
		return nil, &LoadError{Problems: c.problems}
	}
	var doc fileDoc
	if err := decodeStrict(data, &doc); err != nil {
		return nil, &LoadError{Problems: []Problem{yamlProblem(name, err)}}
	}

	d := &Directory{realm: doc.Realm, byExt: make(map[string]int, len(doc.Agents))}
	if doc.Realm == "" {
		c.add(nil, "realm: required (the digest realm the HA1 hashes were computed for)")
	} else if !validRealm(doc.Realm) {
		c.add([]string{"$.realm"}, "realm: %q is not a valid realm (letters, digits, '.', '-', '_')", doc.Realm)
	}
	firstAt := make(map[string]int, len(doc.Agents)) // extension -> agents[] index
	for i, a := range doc.Agents {
		if agent, ok := c.checkAgent(i, a, firstAt); ok {
			firstAt[agent.Extension] = i
			d.byExt[agent.Extension] = len(d.list)
			d.list = append(d.list, agent)
		}
	}
	if len(c.problems) > 0 {
		slices.SortStableFunc(c.problems, func(a, b Problem) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
		})
		return nil, &LoadError{Problems: c.problems}
	}
	return d, nil
}

// decodeStrict decodes with unknown keys as errors. goccy/go-yaml v1.19.2
// panics on some inputs (a tagged empty value where a list is expected, found
// by FuzzLoad: testdata/fuzz/FuzzLoad/152013ea00db5ec4); a malformed config
// must be an error, never a crash, so the panic becomes one.
func decodeStrict(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot decode this document (yaml decoder failed: %v)", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, yaml.Strict())
}

// checkAgent validates agents[i]; ok is false when the agent cannot be
// indexed (its extension is unusable).
func (c *checker) checkAgent(i int, a agentDoc, firstAt map[string]int) (Agent, bool) {
	base := "$.agents[" + strconv.Itoa(i) + "]"
	at := func(key string) []string { return []string{base + "." + key, base} }

	if a.Name == "" {
		c.add(at("name"), "agent %d: name: required", i+1)
	} else if !validName(a.Name) {
		c.add(at("name"), "agent %d: name: must be 1-64 printable characters", i+1)
	}

	extOK := true
	switch {
	case a.Extension == "":
		c.add(at("extension"), "agent %d: extension: required", i+1)
		extOK = false
	case !validExtension(a.Extension):
		c.add(at("extension"), "agent %d: extension: %q must be 2-15 digits", i+1, a.Extension)
		extOK = false
	default:
		// An unquoted 0012 or 1_001 is a YAML integer whose decoded text differs
		// from what the operator wrote; insist on the literal digits.
		if n := c.node(base + ".extension"); n != nil {
			if t := n.GetToken(); t != nil && t.Value != a.Extension {
				c.add(at("extension"), "agent %d: extension: write %s as a quoted string of digits", i+1, t.Value)
				extOK = false
			}
		}
	}
	if extOK {
		if j, dup := firstAt[a.Extension]; dup {
			l, col := c.pos(fmt.Sprintf("$.agents[%d].extension", j))
			c.add(at("extension"), "agent %d: extension: %s already defined at %d:%d", i+1, a.Extension, l, col)
			extOK = false
		}
	}

	seen := map[string]bool{}
	for k, s := range a.Skills {
		path := []string{fmt.Sprintf("%s.skills[%d]", base, k), base + ".skills", base}
		switch {
		case !validSkill(s):
			c.add(path, "agent %d: skills: %q must be a lowercase token (a-z, 0-9, '-', '_')", i+1, s)
		case seen[s]:
			c.add(path, "agent %d: skills: %q listed twice", i+1, s)
		}
		seen[s] = true
	}

	c.checkHash(at("ha1.md5"), i, "ha1.md5", a.HA1.MD5, 32, base)
	c.checkHash(at("ha1.sha256"), i, "ha1.sha256", a.HA1.SHA256, 64, base)

	return Agent{
		Name:      a.Name,
		Extension: a.Extension,
		Skills:    slices.Clone(a.Skills),
		Demo:      a.Demo,
		HA1MD5:    strings.ToLower(a.HA1.MD5),
		HA1SHA256: strings.ToLower(a.HA1.SHA256),
	}, extOK
}

func (c *checker) checkHash(paths []string, i int, key, v string, n int, base string) {
	if v == "" {
		// Point at the ha1 mapping when it exists, else at the agent.
		c.add([]string{paths[0], base + ".ha1", base}, "agent %d: %s: required (HA1 hash, never a password)", i+1, key)
		return
	}
	if !validHex(v, n) {
		c.add(paths, "agent %d: %s: must be exactly %d hex digits (got %d characters)", i+1, key, n, len(v))
	}
}
