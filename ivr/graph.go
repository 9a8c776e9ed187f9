package ivr

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// The graph of a menu file, for people: every menu with its distance in
// key presses to a person (see Distances), every option as an edge. The
// output is sorted (menus by id, keys in keypad order) so that it can be
// diffed and kept in version control.

// keypad is the order keys are drawn in.
const keypad = "1234567890*#"

type edge struct {
	from, to string // node ids
	label    string
	dashed   bool // back: to whichever menu the caller came from
}

type graph struct {
	menus  []string          // menu ids, sorted
	labels map[string]string // node id -> label lines
	kinds  map[string]string // node id -> "menu", "queue", "hangup", "note"
	order  []string          // every node id, in output order
	edges  []edge
}

func nodeMenu(id string) string { return "menu:" + id }
func nodeQueue(q string) string { return "queue:" + q }
func pressWord(d int) string {
	if d == 1 {
		return "1 press to a person"
	}
	return fmt.Sprintf("%d presses to a person", d)
}

func buildGraph(cfg *Config) *graph {
	g := &graph{menus: sortedMenus(cfg), labels: map[string]string{}, kinds: map[string]string{}}
	dist := Distances(cfg)
	add := func(id, kind, label string) {
		if _, ok := g.labels[id]; !ok {
			g.labels[id], g.kinds[id] = label, kind
			g.order = append(g.order, id)
		}
	}
	for _, id := range g.menus {
		label := id + "\n∞: no way out"
		if d, ok := dist[id]; ok {
			label = id + "\n" + pressWord(d)
		}
		if id == cfg.Start {
			label += "\n(start)"
		}
		if h := cfg.Menus[id].Hours; h != nil && h.Schedule != nil {
			label += "\nhours " + h.Schedule.Name
		}
		add(nodeMenu(id), "menu", label)
	}
	parents := backParents(cfg)
	var queues, tail []string
	for _, id := range g.menus {
		m := cfg.Menus[id]
		for _, k := range []byte(keypad) {
			o, ok := m.Options[k]
			if !ok {
				continue
			}
			label := string(k)
			if o.Kind == KindCollect {
				label += " (" + o.Collect.Name + " digits)"
				o = o.Collect.Then
			}
			from := nodeMenu(id)
			switch o.Kind {
			case KindMenu:
				g.edges = append(g.edges, edge{from, nodeMenu(o.Menu), label, false})
			case KindTransfer:
				if !slices.Contains(queues, o.Queue) {
					queues = append(queues, o.Queue)
				}
				g.edges = append(g.edges, edge{from, nodeQueue(o.Queue), label, false})
			case KindHangup:
				tail = append(tail, "hangup")
				g.edges = append(g.edges, edge{from, "hangup", label, false})
			case KindBack:
				ps := parents[id]
				if len(ps) == 0 {
					g.edges = append(g.edges, edge{from, from, label + " back (repeat)", true})
				}
				for _, p := range ps {
					g.edges = append(g.edges, edge{from, nodeMenu(p), label + " back", true})
				}
			default: // play, repeat, language: the caller stays here
				g.edges = append(g.edges, edge{from, from, label + " " + o.Kind.String(), false})
			}
		}
	}
	// Closed hours: where a caller goes instead, dashed.
	closedEdge := func(from string, h *Hours) {
		if h == nil || h.Schedule == nil {
			return
		}
		label := "closed (" + h.Schedule.Name + ")"
		switch t := h.Closed.Then; t.Kind {
		case KindMenu:
			g.edges = append(g.edges, edge{from, nodeMenu(t.Menu), label, true})
		case KindTransfer:
			if !slices.Contains(queues, t.Queue) {
				queues = append(queues, t.Queue)
			}
			g.edges = append(g.edges, edge{from, nodeQueue(t.Queue), label, true})
		case KindHangup:
			tail = append(tail, "hangup")
			g.edges = append(g.edges, edge{from, "hangup", label, true})
		}
	}
	for _, id := range g.menus {
		closedEdge(nodeMenu(id), cfg.Menus[id].Hours)
	}
	if !slices.Contains(queues, cfg.Person.Queue) {
		queues = append(queues, cfg.Person.Queue)
	}
	for q := range cfg.Queues {
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	slices.Sort(queues)
	for _, q := range queues {
		closedEdge(nodeQueue(q), cfg.Queues[q])
	}
	slices.Sort(queues)
	for _, q := range queues {
		label := "person\nqueue " + q
		if h := cfg.Queues[q]; h != nil && h.Schedule != nil {
			label += "\nhours " + h.Schedule.Name
		}
		add(nodeQueue(q), "queue", label)
	}
	if len(tail) > 0 {
		add("hangup", "hangup", "hang up")
	}
	add("person_key", "note", fmt.Sprintf("%c in every menu\n(and after max_tries)", cfg.Person.Key))
	g.edges = append(g.edges, edge{"person_key", nodeQueue(cfg.Person.Queue), "", true})
	return g
}

// WriteDOT writes the menu as a Graphviz digraph (render it with
// dot -Tsvg).
func WriteDOT(w io.Writer, cfg *Config) error {
	g := buildGraph(cfg)
	var b strings.Builder
	b.WriteString("digraph menu {\n\trankdir=LR;\n\tnode [fontname=\"Helvetica\"];\n")
	shapes := map[string]string{"menu": "box, style=rounded", "queue": "doubleoctagon", "hangup": "octagon", "note": "note"}
	for _, id := range g.order {
		fmt.Fprintf(&b, "\t%s [shape=%s, label=%s];\n", dotQuote(id), shapes[g.kinds[id]], dotQuote(g.labels[id]))
	}
	for _, e := range g.edges {
		attrs := "label=" + dotQuote(e.label)
		if e.dashed {
			attrs += ", style=dashed"
		}
		fmt.Fprintf(&b, "\t%s -> %s [%s];\n", dotQuote(e.from), dotQuote(e.to), attrs)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// WriteMermaid writes the menu as a Mermaid flowchart (GitHub and GitLab
// render it inside a ```mermaid block).
func WriteMermaid(w io.Writer, cfg *Config) error {
	g := buildGraph(cfg)
	// Mermaid ids must be plain words (and "end" is reserved): number the
	// nodes in output order instead of using their names.
	ids := map[string]string{}
	for i, id := range g.order {
		ids[id] = fmt.Sprintf("n%d", i)
	}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	open := map[string]string{"menu": "(", "queue": "{{", "hangup": "[/", "note": ">"}
	closing := map[string]string{"menu": ")", "queue": "}}", "hangup": "\\]", "note": "]"}
	for _, id := range g.order {
		k := g.kinds[id]
		fmt.Fprintf(&b, "  %s%s\"%s\"%s\n", ids[id], open[k], mermaidText(g.labels[id]), closing[k])
	}
	for _, e := range g.edges {
		arrow := "-->"
		if e.dashed {
			arrow = "-.->"
		}
		if e.label == "" {
			fmt.Fprintf(&b, "  %s %s %s\n", ids[e.from], arrow, ids[e.to])
			continue
		}
		fmt.Fprintf(&b, "  %s %s|\"%s\"| %s\n", ids[e.from], arrow, mermaidText(e.label), ids[e.to])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidText escapes a label: Mermaid reads #...; as an entity and "
// ends the label.
func mermaidText(s string) string {
	r := strings.NewReplacer("#", "#35;", `"`, "#quot;", "\n", "<br/>")
	return r.Replace(s)
}
