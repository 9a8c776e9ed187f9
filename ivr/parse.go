package ivr

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load reads and validates the menu file at path.
func Load(path string, cat Catalog) (*Config, error) {
	return LoadWith(path, Inputs{Catalog: cat})
}

// Inputs are what the checks may compare a menu file against. Each is
// optional: a nil one skips its checks.
type Inputs struct {
	Catalog Catalog // which prompts exist
	Staff   Staff   // which queues some agent can serve
	// Lenient returns the Config along with the problems when every
	// problem is a judgement of the menu as a whole (unreachable menus,
	// dead ends, distance, queues without agents): the graph command
	// draws such a menu so the operator can see what is wrong.
	Lenient bool
}

// Staff tells the checker whether any agent can take calls from a queue.
// cmd/ivrgw builds one from the agents file.
type Staff interface {
	Serves(queue string) bool
}

// LoadWith is Load with every input the checks can use.
func LoadWith(path string, in Inputs) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read menu file: %w", err)
	}
	return ParseWith(path, data, in)
}

// Parse validates a menu file held in memory; file names it in problems.
// On any problem it returns a nil Config and a Problems error listing
// every problem found, in file order.
//
// Why a walk of goccy's AST rather than yaml.Strict() into structs: the
// strict decoder stops at the first problem, picks which unknown field to
// report in map order (so not reproducibly), and coerces 3 into "3" and
// "4" into 4. Walking the tree checks every key against the schema and
// every scalar's type, so all problems come out at once, at their node.
// Duplicate keys are let through the parser (AllowDuplicateMapKey) so that
// they too are reported alongside the rest, not alone as a syntax error.
func Parse(file string, data []byte, cat Catalog) (*Config, error) {
	return ParseWith(file, data, Inputs{Catalog: cat})
}

// ParseWith is Parse with every input the checks can use.
func ParseWith(file string, data []byte, in Inputs) (*Config, error) {
	w := &walker{file: file, cat: in.Catalog, staff: in.Staff, menuKeys: map[string]ast.Node{}}
	cfg := w.parse(data)
	if len(w.probs) > 0 {
		sort.SliceStable(w.probs, func(i, j int) bool {
			a, b := w.probs[i], w.probs[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		if in.Lenient && cfg != nil && len(w.probs) == w.judged {
			return cfg, w.probs
		}
		return nil, w.probs
	}
	return cfg, nil
}

// ref is a name used somewhere in the file, checked once the whole file
// is known (a menu may be used before it is defined).
type ref struct {
	name string
	node ast.Node
}

// transferRef is one transfer option and where it is written; its queue
// is known only once defaults are resolved.
type transferRef struct {
	opt  *Option
	node ast.Node
}

type walker struct {
	file  string
	cat   Catalog
	staff Staff
	probs Problems

	prompts   []ref // prompt names, checked against the catalog
	menuRefs  []ref // menu targets
	langRefs  []ref // language switches
	langNodes []ref // settings.languages entries
	menuKeys  map[string]ast.Node
	menuOrder []string

	settingsKey  ast.Node
	startNode    ast.Node
	defLangNode  ast.Node
	personNode   ast.Node
	maxPressNode ast.Node            // settings.max_presses_to_person, if written
	keyNodes     map[byte][]ast.Node // option keys, to check against the person key
	personQueue  ast.Node            // settings.person.queue, if written
	transfers    []transferRef       // every transfer, for the agents check
	pendingZones []zoneRef           // schedules without a timezone of their own
	hoursRefs    []hoursRef          // hours: names of menus and queues
	queueKeys    []ref               // the top-level queues entries
	menuTries    []ref               // menus' own max_tries, checked against the call's budget
	// incomplete is set when a menu or option could not be read, so the
	// menu graph is not known and reachability is not judged.
	incomplete bool
	judged     int // problems from the whole-menu judgements (see Inputs.Lenient)
}

func (w *walker) at(n ast.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			line, col = tk.Position.Line, tk.Position.Column
		}
	}
	w.probs = append(w.probs, Problem{File: w.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (w *walker) parse(data []byte) *Config {
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		w.syntax(err)
		return nil
	}
	var docs []ast.Node
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d.Body)
		}
	}
	switch {
	case len(docs) == 0:
		w.at(nil, "menu file is empty")
		return nil
	case len(docs) > 1:
		w.at(docs[1], "want one YAML document, found %d", len(docs))
		return nil
	}
	cfg := &Config{
		File:               w.file,
		Start:              DefaultStart,
		NoInputTimeout:     DefaultNoInputTimeout,
		InterDigitTimeout:  DefaultInterDigitTimeout,
		MaxTries:           DefaultMaxTries,
		MaxPressesToPerson: DefaultMaxPressesToPerson,
		MaxMenuTime:        DefaultMaxMenuTime,
		Frustration:        DefaultFrustration,
		Person:             Person{Key: DefaultPersonKey, Queue: DefaultPersonQueue},
		Prompts: SystemPrompts{
			Invalid: "invalid", NoInput: "no_input", TooManyTries: "too_many_tries", Goodbye: "goodbye",
		},
		Menus:     map[string]*Menu{},
		Schedules: map[string]*Schedule{},
		Queues:    map[string]*Hours{},
	}
	w.keyNodes = map[byte][]ast.Node{}
	var menusNode ast.Node
	seen := w.mapping(docs[0], "the top level", []string{"settings", "hours", "queues", "menus"}, func(key string, k, v ast.Node) {
		switch key {
		case "settings":
			w.settingsKey = k
			w.settings(v, cfg)
		case "hours":
			w.hoursSection(v, cfg)
		case "queues":
			w.queuesSection(v, cfg)
		case "menus":
			menusNode = k
			w.menus(v, cfg)
		}
	})
	if seen == nil {
		return nil
	}
	if _, ok := seen["settings"]; !ok {
		w.at(docs[0], "missing required key \"settings\"")
	}
	if _, ok := seen["menus"]; !ok {
		w.at(docs[0], "missing required key \"menus\"")
	} else if len(cfg.Menus) == 0 && len(w.menuKeys) == 0 {
		w.at(menusNode, "menus: want at least one menu")
	}
	w.resolve(cfg)
	w.check(cfg)
	return cfg
}

// syntax turns a parser error into one problem; the parser stops at the
// first one, so there is nothing more to report.
func (w *walker) syntax(err error) {
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg := ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			w.probs = append(w.probs, Problem{File: w.file, Line: tk.Position.Line, Col: tk.Position.Column, Msg: "syntax error: " + msg})
			return
		}
		w.at(nil, "syntax error: %s", msg)
		return
	}
	w.at(nil, "syntax error: %v", err)
}

// mapping checks that n is a mapping whose keys are all in allowed and
// each appears once, and calls fn for each entry in file order. It returns
// the key nodes seen, or nil if n is not a mapping.
func (w *walker) mapping(n ast.Node, what string, allowed []string, fn func(key string, k, v ast.Node)) map[string]ast.Node {
	entries, ok := w.entries(n, what)
	if !ok {
		return nil
	}
	seen := map[string]ast.Node{}
	for _, e := range entries {
		key, ok := w.key(e.Key)
		if !ok {
			continue
		}
		if first, dup := seen[key]; dup {
			w.at(e.Key, "duplicate key %q (first at line %d)", key, first.GetToken().Position.Line)
			continue
		}
		seen[key] = e.Key
		if allowed != nil && !slices.Contains(allowed, key) {
			w.at(e.Key, "unknown key %q in %s (want %s)", key, what, strings.Join(allowed, ", "))
			continue
		}
		fn(key, e.Key, e.Value)
	}
	return seen
}

func (w *walker) entries(n ast.Node, what string) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	w.at(n, "%s: want a mapping, got %s", what, describe(n))
	return nil, false
}

func (w *walker) key(k ast.MapKeyNode) (string, bool) {
	switch k := k.(type) {
	case *ast.StringNode:
		return k.Value, true
	case *ast.IntegerNode:
		// An unquoted 1 is an integer to YAML; the digit as written is the key.
		return k.Token.Value, true
	}
	w.at(k, "key must be a plain name, got %s", describe(k))
	return "", false
}

// describe names a node's kind for messages aimed at operators.
func describe(n ast.Node) string {
	switch n := n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "a number"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a decimal number"
	case *ast.BoolNode:
		return "true/false"
	case *ast.SequenceNode:
		return "a list"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.AnchorNode, *ast.AliasNode:
		return "an anchor or alias (not supported)"
	case *ast.TagNode:
		return "a tag (not supported)"
	case *ast.MergeKeyNode:
		return "a merge key (not supported)"
	default:
		return n.Type().String()
	}
}

func (w *walker) str(n ast.Node, what string) (string, bool) {
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value, true
	}
	hint := ""
	if _, ok := n.(*ast.IntegerNode); ok {
		hint = " (quote it)"
	}
	w.at(n, "%s: want a string, got %s%s", what, describe(n), hint)
	return "", false
}

func (w *walker) integer(n ast.Node, what string, lo, hi int) (int, bool) {
	in, ok := n.(*ast.IntegerNode)
	if !ok {
		w.at(n, "%s: want a whole number, got %s", what, describe(n))
		return 0, false
	}
	var v int
	// yaml.Strict: the node is already known to be an integer; goccy turns
	// it into a Go int (and reports overflow) the same way it would in a
	// struct field.
	if err := yaml.NodeToValue(in, &v, yaml.Strict()); err != nil {
		w.at(n, "%s: %s", what, errMsg(err))
		return 0, false
	}
	if v < lo || v > hi {
		w.at(n, "%s: must be between %d and %d, got %d", what, lo, hi, v)
		return 0, false
	}
	return v, true
}

func errMsg(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		return ye.GetMessage()
	}
	return err.Error()
}

func (w *walker) boolean(n ast.Node, what string) (bool, bool) {
	b, ok := n.(*ast.BoolNode)
	if !ok {
		w.at(n, "%s: want true or false, got %s", what, describe(n))
		return false, false
	}
	return b.Value, true
}

func (w *walker) duration(n ast.Node, what string) (time.Duration, bool) {
	return w.durationUpTo(n, what, MaxTimeout)
}

// durationUpTo reads a duration more than 0 and at most limit.
func (w *walker) durationUpTo(n ast.Node, what string, limit time.Duration) (time.Duration, bool) {
	s, ok := n.(*ast.StringNode)
	if !ok {
		w.at(n, "%s: want a duration such as 5s, got %s", what, describe(n))
		return 0, false
	}
	d, err := time.ParseDuration(s.Value)
	switch {
	case err != nil:
		w.at(n, "%s: want a duration such as 5s, got %q", what, s.Value)
		return 0, false
	case d <= 0:
		w.at(n, "%s: must be more than 0, got %s", what, s.Value)
		return 0, false
	case d > limit:
		w.at(n, "%s: must be at most %s, got %s", what, limit, s.Value)
		return 0, false
	}
	return d, true
}

// prompts reads a list of prompt names and remembers each for the catalog check.
func (w *walker) promptList(n ast.Node, what string) ([]string, bool) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		w.at(n, "%s: want a list of prompt names such as [main_menu], got %s", what, describe(n))
		return nil, false
	}
	if len(seq.Values) == 0 {
		w.at(n, "%s: want at least one prompt name", what)
		return nil, false
	}
	out := make([]string, 0, len(seq.Values))
	good := true
	for _, v := range seq.Values {
		name, ok := w.prompt(v, what)
		if !ok {
			good = false
			continue
		}
		out = append(out, name)
	}
	return out, good
}

func (w *walker) prompt(n ast.Node, what string) (string, bool) {
	name, ok := w.str(n, what)
	if !ok {
		return "", false
	}
	// Prompt names become file names in the prompt loader: keep them plain.
	if !nameRE.MatchString(name) {
		w.at(n, "%s: prompt name %q must be 1-64 letters, digits, '_', '-' or '.'", what, name)
		return "", false
	}
	w.prompts = append(w.prompts, ref{name, n})
	return name, true
}
