package ivr

import "slices"

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
	for _, r := range w.menuRefs {
		if _, ok := w.menuKeys[r.name]; !ok {
			w.at(r.node, "menu %q does not exist", r.name)
		}
	}
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
	if w.incomplete {
		return
	}
	// A menu nobody can reach is almost always a typo in a menu: target
	// elsewhere; reject it rather than ship a dead branch.
	reached := map[string]bool{cfg.Start: true}
	queue := []string{cfg.Start}
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
			if o.Kind == KindMenu && !reached[o.Menu] {
				reached[o.Menu] = true
				queue = append(queue, o.Menu)
			}
		}
	}
	for _, id := range w.menuOrder {
		if !reached[id] {
			w.at(w.menuKeys[id], "menu %q is not reachable from the start menu %q", id, cfg.Start)
		}
	}
}
