package ivr

// The schema of the menu file: one function per kind of mapping, each
// checking its keys and the type and range of every value.

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

var (
	langRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`)
	nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	menuRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// Menu keys are the twelve keys of a phone keypad. RFC 4733 §3.2 also
	// defines events A-D, but callers' phones have no such keys.
	digitRE = regexp.MustCompile(`^[0-9*#]$`)
)

func (w *walker) settings(n ast.Node, cfg *Config) {
	allowed := []string{"languages", "default_language", "start", "welcome", "no_input_timeout",
		"inter_digit_timeout", "max_tries", "person", "prompts", "max_presses_to_person", "timezone",
		"max_menu_time", "frustration"}
	seen := w.mapping(n, "settings", allowed, func(key string, k, v ast.Node) {
		switch key {
		case "languages":
			seq, ok := v.(*ast.SequenceNode)
			if !ok || len(seq.Values) == 0 {
				w.at(v, "languages: want a list of language codes such as [en, es], got %s", describe(v))
				return
			}
			for _, e := range seq.Values {
				l, ok := w.str(e, "languages")
				if !ok {
					continue
				}
				switch {
				case !langRE.MatchString(l):
					w.at(e, "languages: %q is not a language code such as en or es-MX", l)
				case slices.Contains(cfg.Languages, l):
					w.at(e, "languages: %q is listed twice", l)
				default:
					cfg.Languages = append(cfg.Languages, l)
					w.langNodes = append(w.langNodes, ref{l, e})
				}
			}
		case "default_language":
			if l, ok := w.str(v, key); ok {
				cfg.DefaultLanguage, w.defLangNode = l, v
			}
		case "start":
			if s, ok := w.str(v, key); ok {
				cfg.Start, w.startNode = s, v
			}
		case "welcome":
			cfg.Welcome, _ = w.promptList(v, key)
		case "no_input_timeout":
			if d, ok := w.duration(v, key); ok {
				cfg.NoInputTimeout = d
			}
		case "inter_digit_timeout":
			if d, ok := w.duration(v, key); ok {
				cfg.InterDigitTimeout = d
			}
		case "max_tries":
			if t, ok := w.integer(v, key, 1, 10); ok {
				cfg.MaxTries = t
			}
		case "max_presses_to_person":
			if p, ok := w.integer(v, key, 1, 20); ok {
				cfg.MaxPressesToPerson, w.maxPressNode = p, v
			}
		case "timezone":
			cfg.Location = w.zone(v)
		case "max_menu_time":
			if d, ok := w.durationUpTo(v, key, MaxMenuTimeLimit); ok {
				cfg.MaxMenuTime = d
			}
		case "frustration":
			w.frustration(v, cfg)
		case "person":
			w.person(k, v, cfg)
		case "prompts":
			w.systemPrompts(v, cfg)
		}
	})
	if seen == nil {
		return
	}
	if _, ok := seen["languages"]; !ok {
		w.at(w.settingsKey, "settings: missing required key \"languages\"")
	}
	// Defaulted system prompts have no node of their own: point at settings.
	if _, ok := seen["prompts"]; !ok {
		for _, name := range systemPromptKeys {
			w.prompts = append(w.prompts, ref{name, w.settingsKey})
		}
	}
}

// frustration reads settings.frustration; what it leaves out keeps its
// default (DefaultFrustration).
func (w *walker) frustration(n ast.Node, cfg *Config) {
	f := &cfg.Frustration
	allowed := []string{"priority", "mashing", "same_invalid", "repeats", "greeting"}
	w.mapping(n, "frustration", allowed, func(key string, _, v ast.Node) {
		switch key {
		case "priority":
			if p, ok := w.integer(v, "priority", 0, 100); ok {
				f.Priority = p
			}
		case "mashing":
			if _, off := v.(*ast.BoolNode); off {
				if b, ok := w.boolean(v, "mashing"); ok && !b {
					f.MashKeys = 0
				} else if ok {
					w.at(v, "mashing: want {keys: N, within: DURATION} or false, got true")
				}
				return
			}
			w.mapping(v, "mashing", []string{"keys", "within"}, func(key string, _, v ast.Node) {
				switch key {
				case "keys":
					if k, ok := w.integer(v, "mashing keys", 3, 50); ok {
						f.MashKeys = k
					}
				case "within":
					if d, ok := w.duration(v, "mashing within"); ok {
						f.MashWithin = d
					}
				}
			})
		case "same_invalid":
			if b, ok := w.boolean(v, key); ok {
				f.SameInvalid = b
			}
		case "repeats":
			if r, ok := w.integer(v, key, 0, 20); ok {
				if r == 1 {
					w.at(v, "repeats: 1 would send a caller to a person the first time they ask to hear the menu again; want 0 (off) or 2-20")
					return
				}
				f.Repeats = r
			}
		case "greeting":
			if b, ok := w.boolean(v, key); ok {
				f.Greeting = b
			}
		}
	})
}

func (w *walker) person(k, n ast.Node, cfg *Config) {
	w.personNode = k
	w.mapping(n, "person", []string{"key", "queue", "priority"}, func(key string, k, v ast.Node) {
		switch key {
		case "key":
			s, ok := w.str(v, "person key")
			if !ok {
				return
			}
			if !digitRE.MatchString(s) {
				w.at(v, "person key: %q is not a DTMF key (0-9, *, #)", s)
				return
			}
			cfg.Person.Key, w.personNode = s[0], v
		case "queue":
			if q, ok := w.queue(v); ok {
				cfg.Person.Queue, w.personQueue = q, v
			}
		case "priority":
			if p, ok := w.integer(v, "priority", 0, 100); ok {
				cfg.Person.Priority = p
			}
		}
	})
}

func (w *walker) queue(n ast.Node) (string, bool) {
	q, ok := w.str(n, "queue")
	if !ok {
		return "", false
	}
	// Queue names become routing keys and SIP header values: keep them plain.
	if !nameRE.MatchString(q) {
		w.at(n, "queue: %q must be 1-64 letters, digits, '_', '-' or '.'", q)
		return "", false
	}
	return q, true
}

var systemPromptKeys = []string{"invalid", "no_input", "too_many_tries", "goodbye"}

func (w *walker) systemPrompts(n ast.Node, cfg *Config) {
	fields := map[string]*string{
		"invalid": &cfg.Prompts.Invalid, "no_input": &cfg.Prompts.NoInput,
		"too_many_tries": &cfg.Prompts.TooManyTries, "goodbye": &cfg.Prompts.Goodbye,
	}
	seen := w.mapping(n, "prompts", systemPromptKeys, func(key string, k, v ast.Node) {
		if p, ok := w.prompt(v, key); ok {
			*fields[key] = p
		}
	})
	for _, name := range systemPromptKeys {
		if _, ok := seen[name]; !ok {
			w.prompts = append(w.prompts, ref{*fields[name], w.settingsKey})
		}
	}
}

func (w *walker) menus(n ast.Node, cfg *Config) {
	w.mapping(n, "menus", nil, func(id string, k, v ast.Node) {
		if !menuRE.MatchString(id) {
			w.at(k, "menu id %q must be 1-64 letters, digits, '_' or '-'", id)
			w.incomplete = true
			return
		}
		w.menuKeys[id] = k
		w.menuOrder = append(w.menuOrder, id)
		if m := w.menu(id, k, v); m != nil {
			cfg.Menus[id] = m
		} else {
			w.incomplete = true
		}
	})
}

func (w *walker) menu(id string, k, n ast.Node) *Menu {
	m := &Menu{ID: id, Options: map[byte]*Option{}}
	allowed := []string{"prompt", "short", "no_input_timeout", "max_tries", "options", "hours", "closed"}
	what := "menu " + strconv.Quote(id)
	h := &Hours{}
	var hoursNode, closedNode ast.Node
	hoursGood := true
	seen := w.mapping(n, what, allowed, func(key string, kk, v ast.Node) {
		switch key {
		case "hours":
			hoursNode = v
		case "closed":
			closedNode = kk
			var ok bool
			h.Closed, ok = w.closedBlock(kk, v, false)
			hoursGood = hoursGood && ok
		case "prompt":
			m.Prompt, _ = w.promptList(v, key)
		case "short":
			m.Short, _ = w.promptList(v, key)
		case "no_input_timeout":
			m.NoInputTimeout, _ = w.duration(v, key)
		case "max_tries":
			var ok bool
			if m.MaxTries, ok = w.integer(v, key, 1, 10); ok {
				w.menuTries = append(w.menuTries, ref{id, v})
			}
		case "options":
			w.options(id, v, m)
		}
	})
	if seen == nil {
		return nil
	}
	for _, req := range []string{"prompt", "options"} {
		if _, ok := seen[req]; !ok {
			w.at(k, "menu %q: missing required key %q", id, req)
		}
	}
	if !w.bindHours(k, what, h, hoursNode, closedNode, false) || !hoursGood {
		return nil
	}
	if hoursNode != nil {
		m.Hours = h
	}
	return m
}

func (w *walker) options(id string, n ast.Node, m *Menu) {
	w.mapping(n, "options", nil, func(key string, k, v ast.Node) {
		if !digitRE.MatchString(key) {
			w.at(k, "option key %q is not a DTMF key (0-9, *, #; quote * and #)", key)
			return
		}
		w.keyNodes[key[0]] = append(w.keyNodes[key[0]], k)
		if o := w.action(v, false); o != nil {
			m.Options[key[0]] = o
		} else {
			w.incomplete = true
		}
	})
	if entries, ok := n.(*ast.MappingNode); ok && len(entries.Values) == 0 {
		w.at(n, "menu %q: options: want at least one option", id)
	}
}

var actionNames = []string{"menu", "play", "back", "repeat", "hangup", "transfer", "language", "collect"}

// action reads one option's action: a bare word (back, repeat, hangup,
// transfer) or a mapping with exactly one action key.
func (w *walker) action(n ast.Node, inCollect bool) *Option {
	if s, ok := n.(*ast.StringNode); ok {
		switch s.Value {
		case "back":
			return &Option{Kind: KindBack}
		case "repeat":
			return &Option{Kind: KindRepeat}
		case "hangup":
			return &Option{Kind: KindHangup}
		case "transfer":
			o := &Option{Kind: KindTransfer}
			w.transfers = append(w.transfers, transferRef{o, n})
			return o
		}
		w.at(n, "unknown action %q (want back, repeat, hangup, transfer, or a mapping such as {menu: billing})", s.Value)
		return nil
	}
	entries, ok := w.entries(n, "option")
	if !ok {
		return nil
	}
	if len(entries) == 0 {
		w.at(n, "option has no action (want one of %s)", strings.Join(actionNames, ", "))
		return nil
	}
	var o *Option
	var first string
	w.mapping(n, "option", actionNames, func(key string, k, v ast.Node) {
		if o != nil {
			w.at(k, "option has two actions (%s and %s); want exactly one", first, key)
			return
		}
		first = key
		o = w.actionBody(key, k, v, inCollect)
		if o == nil {
			o = &Option{} // a broken action still counts as the one action
		}
	})
	if o == nil || o.Kind == 0 {
		return nil
	}
	return o
}

func (w *walker) actionBody(kind string, k, v ast.Node, inCollect bool) *Option {
	switch kind {
	case "menu":
		id, ok := w.str(v, "menu")
		if !ok {
			return nil
		}
		w.menuRefs = append(w.menuRefs, ref{id, v})
		return &Option{Kind: KindMenu, Menu: id}
	case "play":
		ps, ok := w.promptList(v, "play")
		if !ok {
			return nil
		}
		return &Option{Kind: KindPlay, Prompts: ps}
	case "back", "repeat", "hangup":
		if _, ok := v.(*ast.NullNode); !ok && v != nil {
			w.at(v, "%s takes no value, got %s (write the bare word: %s)", kind, describe(v), kind)
			return nil
		}
		return &Option{Kind: map[string]Kind{"back": KindBack, "repeat": KindRepeat, "hangup": KindHangup}[kind]}
	case "transfer":
		o := &Option{Kind: KindTransfer}
		if _, ok := v.(*ast.NullNode); ok || v == nil {
			w.transfers = append(w.transfers, transferRef{o, k})
			return o
		}
		good := true
		at := k
		w.mapping(v, "transfer", []string{"queue", "priority"}, func(key string, _, v ast.Node) {
			var ok bool
			switch key {
			case "queue":
				o.Queue, ok = w.queue(v)
				at = v
			case "priority":
				o.Priority, ok = w.integer(v, "priority", 0, 100)
			}
			good = good && ok
		})
		if !good {
			return nil
		}
		w.transfers = append(w.transfers, transferRef{o, at})
		return o
	case "language":
		l, ok := w.str(v, "language")
		if !ok {
			return nil
		}
		w.langRefs = append(w.langRefs, ref{l, v})
		return &Option{Kind: KindLanguage, Language: l}
	case "collect":
		if inCollect {
			w.at(k, "collect cannot be the then of another collect")
			return nil
		}
		c := w.collect(k, v)
		if c == nil {
			return nil
		}
		return &Option{Kind: KindCollect, Collect: c}
	}
	return nil
}

func (w *walker) collect(k, n ast.Node) *Collect {
	c := &Collect{MinDigits: 1, Terminator: '#'}
	allowed := []string{"name", "prompt", "done", "min_digits", "max_digits", "terminator", "inter_digit_timeout", "then"}
	var minNode ast.Node
	good, minOK, maxOK := true, true, false
	seen := w.mapping(n, "collect", allowed, func(key string, _, v ast.Node) {
		ok := true
		switch key {
		case "name":
			c.Name, ok = w.str(v, "name")
			if ok && !nameRE.MatchString(c.Name) {
				w.at(v, "name: %q must be 1-64 letters, digits, '_', '-' or '.'", c.Name)
				ok = false
			}
		case "prompt":
			c.Prompt, ok = w.promptList(v, key)
		case "done":
			c.Done, ok = w.promptList(v, key)
		case "min_digits":
			c.MinDigits, ok = w.integer(v, key, 0, 32)
			minNode, minOK = v, ok
		case "max_digits":
			c.MaxDigits, ok = w.integer(v, key, 1, 32)
			maxOK = ok
		case "terminator":
			var t string
			if t, ok = w.str(v, key); ok {
				switch t {
				case "#":
					c.Terminator = '#'
				case "":
					c.Terminator = 0
				default:
					// * is kept for cancelling the entry.
					w.at(v, "terminator: want \"#\" or \"\" (none), got %q", t)
					ok = false
				}
			}
		case "inter_digit_timeout":
			c.InterDigitTimeout, ok = w.duration(v, key)
		case "then":
			c.Then = w.action(v, true)
			ok = c.Then != nil
		}
		good = good && ok
	})
	if seen == nil {
		return nil
	}
	for _, req := range []string{"name", "prompt", "max_digits", "then"} {
		if _, ok := seen[req]; !ok {
			w.at(k, "collect: missing required key %q", req)
			good = false
		}
	}
	if minOK && maxOK && c.MinDigits > c.MaxDigits {
		w.at(minNode, "min_digits: %d is more than max_digits %d", c.MinDigits, c.MaxDigits)
		good = false
	}
	if !good {
		return nil
	}
	return c
}
