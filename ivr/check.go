package ivr

import (
	"maps"
	"slices"
)

// resolve fills in the defaults a menu inherits from settings.
func (w *walker) resolve(cfg *Config) {
	if cfg.DefaultLanguage == "" && len(cfg.Languages) > 0 {
		cfg.DefaultLanguage = cfg.Languages[0]
	}
	for _, m := range cfg.Menus {
		if m.NoInputTimeout == 0 {
			m.NoInputTimeout = cfg.NoInputTimeout
		}
		if m.MaxTries == 0 {
			m.MaxTries = cfg.MaxTries
		}
		for _, o := range m.Options {
			resolveOption(o, cfg)
			if o.Kind == KindCollect {
				resolveOption(o.Collect.Then, cfg)
				if o.Collect.InterDigitTimeout == 0 {
					o.Collect.InterDigitTimeout = cfg.InterDigitTimeout
				}
			}
		}
	}
	// Every transfer, closed hours' included.
	for _, t := range w.transfers {
		resolveOption(t.opt, cfg)
	}
}

// resolveOption sends a transfer without a queue where the person key goes.
func resolveOption(o *Option, cfg *Config) {
	if o != nil && o.Kind == KindTransfer && o.Queue == "" {
		o.Queue = cfg.Person.Queue
		if o.Priority == 0 {
			o.Priority = cfg.Person.Priority
		}
	}
}

// check runs the checks that need the whole file: names used against
// names defined, and the catalog.
func (w *walker) check(cfg *Config) {
	if w.defLangNode != nil && len(cfg.Languages) > 0 && !slices.Contains(cfg.Languages, cfg.DefaultLanguage) {
		w.at(w.defLangNode, "default_language: %q is not in languages", cfg.DefaultLanguage)
	}
	if len(cfg.Languages) > 0 {
		for _, r := range w.langRefs {
			if !slices.Contains(cfg.Languages, r.name) {
				w.at(r.node, "language: %q is not in settings.languages", r.name)
			}
		}
	}
	unknown := false
	for _, r := range w.menuRefs {
		if _, ok := w.menuKeys[r.name]; !ok {
			w.at(r.node, "menu %q does not exist", r.name)
			unknown = true
		}
	}
	w.checkHours(cfg)
	// The call has one failure budget; a menu may only spend it faster.
	for _, r := range w.menuTries {
		if m := cfg.Menus[r.name]; m != nil && m.MaxTries > cfg.MaxTries {
			w.at(r.node, "menu %q: max_tries %d is more than settings.max_tries %d, the call's whole failure budget; a menu may only be tighter", r.name, m.MaxTries, cfg.MaxTries)
		}
	}
	n := len(w.probs)
	w.checkStaff(cfg)
	w.judged += len(w.probs) - n
	// The person key works in every menu (it is checked before the menu's
	// own options), so an option on that key could never be chosen.
	for _, k := range w.keyNodes[cfg.Person.Key] {
		w.at(k, "key %q is the person key (settings.person.key) and works in every menu; use another key", string(cfg.Person.Key))
	}
	if w.cat != nil {
		for _, r := range w.prompts {
			for _, l := range cfg.Languages {
				if !w.cat.Has(l, r.name) {
					w.at(r.node, "prompt %q is missing for language %q", r.name, l)
				}
			}
		}
	}
	if _, ok := w.menuKeys[cfg.Start]; !ok {
		n := w.startNode
		if n == nil {
			n = w.settingsKey
		}
		w.at(n, "start menu %q does not exist", cfg.Start)
		return
	}
	// With a menu that could not be read, or a target that does not
	// exist, the menu graph is not the one the operator meant: judging
	// reachability or distances on it would only add noise beside the
	// one real problem.
	if w.incomplete || unknown {
		return
	}
	n = len(w.probs)
	defer func() { w.judged += len(w.probs) - n }()
	w.closedLoops(cfg)
	// A menu nobody can reach is almost always a typo in a menu: target
	// elsewhere; reject it rather than ship a dead branch. A menu reached
	// only when another is closed (an after-hours menu) is reachable, but
	// is not held to the distance to a person: nobody is there then.
	open := reachable(cfg, false)
	reached := reachable(cfg, true)
	for _, id := range w.menuOrder {
		if !reached[id] {
			w.at(w.menuKeys[id], "menu %q is not reachable from the start menu %q", id, cfg.Start)
		}
	}
	dist := Distances(cfg)
	for _, id := range w.menuOrder {
		if !open[id] {
			continue // unreachable is already reported; after-hours menus are exempt
		}
		switch d, ok := dist[id]; {
		case !ok:
			w.at(w.menuKeys[id], "menu %q is a dead end: none of its options leads to a person (a transfer), only to hang-ups, plays or loops; add a transfer or a way back", id)
		case d > cfg.MaxPressesToPerson:
			w.at(w.menuKeys[id], "menu %q is %d key presses from a person, more than max_presses_to_person (%d)", id, d, cfg.MaxPressesToPerson)
		}
	}
}

// reachable is the set of menus a caller can get to from the start
// menu through options, and with closed also through closed hours.
func reachable(cfg *Config, closed bool) map[string]bool {
	reached := map[string]bool{cfg.Start: true}
	queue := []string{cfg.Start}
	visit := func(o *Option) {
		if o != nil && o.Kind == KindMenu && !reached[o.Menu] {
			reached[o.Menu] = true
			queue = append(queue, o.Menu)
		}
	}
	if closed {
		for _, h := range cfg.Queues {
			visit(h.Closed.Then)
		}
	}
	for len(queue) > 0 {
		m := cfg.Menus[queue[0]]
		queue = queue[1:]
		if m == nil {
			continue
		}
		for _, o := range m.Options {
			if o.Kind == KindCollect {
				o = o.Collect.Then
			}
			visit(o)
		}
		if closed && m.Hours != nil {
			visit(m.Hours.Closed.Then)
		}
	}
	return reached
}

// checkStaff reports every transfer, and the person key, whose queue no
// agent can serve: a caller sent there would wait for nobody.
func (w *walker) checkStaff(cfg *Config) {
	if w.staff == nil {
		return
	}
	if !w.staff.Serves(cfg.Person.Queue) {
		n := w.personQueue
		if n == nil {
			n = w.personNode
		}
		if n == nil {
			n = w.settingsKey
		}
		w.at(n, "person queue %q: no agent in the agents file serves it", cfg.Person.Queue)
	}
	for _, t := range w.transfers {
		if t.opt.Queue != "" && !w.staff.Serves(t.opt.Queue) {
			w.at(t.node, "transfer to queue %q: no agent in the agents file serves it", t.opt.Queue)
		}
	}
}

// Distances gives, for each menu, the fewest key presses through the
// menu's own options that reach a transfer (a person). A menu missing
// from the result reaches no person through its options: only the person
// key and max_tries save a caller there.
//
// The person key is left out on purpose: it works everywhere, so counting
// it would make every menu one press away and hide a menu whose options
// go nowhere. One press is one menu choice; the digits typed into a
// collect are not counted. back may return to any menu that leads here,
// and counts as the nearest of them.
func Distances(cfg *Config) map[string]int {
	parents := backParents(cfg)
	dist := map[string]int{}
	// Bellman-Ford on unit weights: each round settles at least one more
	// menu, so len(menus)+1 rounds are enough.
	for range len(cfg.Menus) + 1 {
		changed := false
		for id, m := range cfg.Menus {
			best, ok := dist[id]
			for _, o := range m.Options {
				if o.Kind == KindCollect {
					o = o.Collect.Then
				}
				var targets []string
				switch o.Kind {
				case KindTransfer:
					best, ok = 1, true
				case KindMenu:
					targets = []string{o.Menu}
				case KindBack:
					targets = parents[id]
				}
				for _, t := range targets {
					if d, dok := dist[t]; dok && (!ok || d+1 < best) {
						best, ok = d+1, true
					}
				}
			}
			if ok && (dist[id] != best || !has(dist, id)) {
				dist[id] = best
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	return dist
}

// backParents gives, for each menu, the menus back may return to from it:
// those with an option leading there. A menu reached because another was
// closed goes back to where that one would have, since the caller never
// entered the closed menu.
func backParents(cfg *Config) map[string][]string {
	parents := map[string][]string{}
	addParent := func(to, p string) {
		if p != to && !slices.Contains(parents[to], p) {
			parents[to] = append(parents[to], p)
		}
	}
	ids := sortedMenus(cfg)
	for _, id := range ids {
		for _, k := range []byte(keypad) {
			o, ok := cfg.Menus[id].Options[k]
			if !ok {
				continue
			}
			if o.Kind == KindCollect {
				o = o.Collect.Then
			}
			if o.Kind == KindMenu {
				addParent(o.Menu, id)
			}
		}
	}
	// Closed chains are short (the validator refuses circles); a round per
	// menu carries parents along the longest.
	for range len(ids) {
		for _, id := range ids {
			if h := cfg.Menus[id].Hours; h != nil && h.Closed.Then != nil && h.Closed.Then.Kind == KindMenu {
				for _, p := range parents[id] {
					addParent(h.Closed.Then.Menu, p)
				}
			}
		}
	}
	return parents
}

func has(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

func sortedMenus(cfg *Config) []string {
	ids := slices.Collect(maps.Keys(cfg.Menus))
	slices.Sort(ids)
	return ids
}
