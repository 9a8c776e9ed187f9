package ivr

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	// The zone database is embedded: a container or a minimal host
	// without /usr/share/zoneinfo must read Europe/Berlin the same way.
	_ "time/tzdata"

	"github.com/goccy/go-yaml/ast"
)

// Schedule is a named set of opening hours in one IANA time zone: a
// weekly pattern, and holidays that replace it for a whole local day.
//
// Hours are wall-clock hours in the zone, so a schedule open 08:00-18:00
// opens at 08:00 local time on the days clocks change too. On the day
// clocks go back, an hour that happens twice is in a span both times; on
// the day they go forward, the skipped hour is never reached.
type Schedule struct {
	Name     string
	Location *time.Location
	Week     [7][]Span       // by time.Weekday; a day without spans is closed
	Holidays map[Date][]Span // a holiday without spans is closed all day
}

// Span is an opening span of one local day, in minutes after midnight:
// open from From (inclusive) to To (exclusive); To may be 24*60.
type Span struct{ From, To int }

func (s Span) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", s.From/60, s.From%60, s.To/60, s.To%60)
}

// Date is a calendar day, without a zone: a holiday is a day in the
// schedule's own zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Open reports whether t falls in an opening span, read in the
// schedule's zone.
func (s *Schedule) Open(t time.Time) bool {
	lt := t.In(s.Location)
	spans, holiday := s.Holidays[Date{lt.Year(), lt.Month(), lt.Day()}]
	if !holiday {
		spans = s.Week[lt.Weekday()]
	}
	m := lt.Hour()*60 + lt.Minute()
	for _, sp := range spans {
		if m >= sp.From && m < sp.To {
			return true
		}
	}
	return false
}

// Hours is a schedule bound to a menu or a queue, with what happens to a
// caller who arrives outside it.
type Hours struct {
	Schedule *Schedule
	Closed   Closed
}

// Closed is what runs outside a schedule: Say is played first (it may be
// empty), then Then. Then is one of:
//   - KindMenu: go to that menu (its own hours apply);
//   - KindTransfer: hand the caller to that queue instead (its own hours apply);
//   - KindHangup: goodbye, then hang up;
//   - KindRepeat (queues only, the default): stay in the menu the caller
//     is in and offer it again.
type Closed struct {
	Say  []string
	Then *Option
}

// open reports whether h lets a caller in at t; no hours means always.
func (h *Hours) open(t time.Time) bool {
	return h == nil || h.Schedule == nil || h.Schedule.Open(t)
}

var (
	dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	spanRE   = regexp.MustCompile(`^(\d{2}):(\d{2})-(\d{2}):(\d{2})$`)
	dateRE   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// days reads a day key of open: a day (mon), a range of days in week
// order (mon-fri, fri-mon wraps over the weekend), or daily.
func days(key string) ([]time.Weekday, bool) {
	if key == "daily" {
		return []time.Weekday{0, 1, 2, 3, 4, 5, 6}, true
	}
	from, to, isRange := strings.Cut(key, "-")
	a := slices.Index(dayNames, from)
	if a < 0 {
		return nil, false
	}
	if !isRange {
		return []time.Weekday{time.Weekday(a)}, true
	}
	b := slices.Index(dayNames, to)
	if b < 0 || b == a {
		return nil, false
	}
	var out []time.Weekday
	for d := a; ; d = (d + 1) % 7 {
		out = append(out, time.Weekday(d))
		if d == b {
			return out, true
		}
	}
}

// hoursSection reads the top-level hours: name -> schedule.
func (w *walker) hoursSection(n ast.Node, cfg *Config) {
	w.mapping(n, "hours", nil, func(name string, k, v ast.Node) {
		if !menuRE.MatchString(name) {
			w.at(k, "hours name %q must be 1-64 letters, digits, '_' or '-'", name)
			return
		}
		s := &Schedule{Name: name, Holidays: map[Date][]Span{}}
		var zoneNode ast.Node
		seen := w.mapping(v, "hours "+strconv.Quote(name), []string{"timezone", "open", "holidays"}, func(key string, _, v ast.Node) {
			switch key {
			case "timezone":
				zoneNode = v
				s.Location = w.zone(v)
			case "open":
				w.week(v, s)
			case "holidays":
				w.holidays(v, s)
			}
		})
		if seen == nil {
			return
		}
		if zoneNode == nil {
			w.pendingZones = append(w.pendingZones, zoneRef{s, k})
		}
		if _, ok := seen["open"]; !ok {
			w.at(k, "hours %q: missing required key \"open\" (such as mon-fri: 08:00-18:00)", name)
		} else if never(s) {
			w.at(k, "hours %q: is never open (every day is closed)", name)
		}
		cfg.Schedules[name] = s
	})
}

type zoneRef struct {
	s    *Schedule
	node ast.Node
}

func never(s *Schedule) bool {
	for _, d := range s.Week {
		if len(d) > 0 {
			return false
		}
	}
	for _, h := range s.Holidays {
		if len(h) > 0 {
			return false
		}
	}
	return true
}

// zone reads an IANA zone name such as Europe/Berlin.
func (w *walker) zone(n ast.Node) *time.Location {
	name, ok := w.str(n, "timezone")
	if !ok {
		return nil
	}
	// "Local" and "" are what LoadLocation takes for the host's zone: a
	// menu must mean the same wherever it runs.
	if name == "" || name == "Local" {
		w.at(n, "timezone: want an IANA zone name such as Europe/Berlin or UTC, got %q", name)
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		w.at(n, "timezone: %q is not an IANA time zone (such as Europe/Berlin, America/New_York or UTC)", name)
		return nil
	}
	return loc
}

// week reads open: day key -> span or list of spans.
func (w *walker) week(n ast.Node, s *Schedule) {
	var set [7]ast.Node
	w.mapping(n, "open", nil, func(key string, k, v ast.Node) {
		ds, ok := days(key)
		if !ok {
			w.at(k, "open: %q is not a day (mon, tue, wed, thu, fri, sat, sun), a range such as mon-fri, or daily", key)
			return
		}
		spans, ok := w.spans(v, "open "+key)
		if !ok {
			return
		}
		for _, d := range ds {
			if set[d] != nil {
				w.at(k, "open: %s is already given at line %d", dayNames[d], set[d].GetToken().Position.Line)
				return
			}
		}
		for _, d := range ds {
			set[d] = k
			s.Week[d] = spans
		}
	})
}

// spans reads "08:00-18:00" or a list of them, sorted and not
// overlapping.
func (w *walker) spans(n ast.Node, what string) ([]Span, bool) {
	var nodes []ast.Node
	if seq, ok := n.(*ast.SequenceNode); ok {
		nodes = seq.Values
		if len(nodes) == 0 {
			w.at(n, "%s: want at least one span such as 08:00-18:00", what)
			return nil, false
		}
	} else {
		nodes = []ast.Node{n}
	}
	var out []Span
	good := true
	for _, e := range nodes {
		sp, ok := w.span(e, what)
		if !ok {
			good = false
			continue
		}
		for _, o := range out {
			if sp.From < o.To && o.From < sp.To {
				w.at(e, "%s: %s overlaps %s", what, sp, o)
				good = false
			}
		}
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b Span) int { return a.From - b.From })
	return out, good
}

func (w *walker) span(n ast.Node, what string) (Span, bool) {
	s, ok := n.(*ast.StringNode)
	if !ok {
		w.at(n, "%s: want a span such as 08:00-18:00, got %s", what, describe(n))
		return Span{}, false
	}
	m := spanRE.FindStringSubmatch(s.Value)
	if m == nil {
		w.at(n, "%s: want a span such as 08:00-18:00 (24-hour, two digits each), got %q", what, s.Value)
		return Span{}, false
	}
	num := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	h1, m1, h2, m2 := num(1), num(2), num(3), num(4)
	from, to := h1*60+m1, h2*60+m2
	switch {
	case h1 > 23 || m1 > 59 || m2 > 59 || h2 > 24 || to > 24*60:
		w.at(n, "%s: %q is not a time of day (00:00 to 24:00)", what, s.Value)
		return Span{}, false
	case to <= from:
		w.at(n, "%s: %q ends before it starts; a span past midnight is two spans (22:00-24:00 one day, 00:00-06:00 the next)", what, s.Value)
		return Span{}, false
	}
	return Span{From: from, To: to}, true
}

// holidays reads a list of dates (closed all day) or {date, open} for a
// day with its own hours.
func (w *walker) holidays(n ast.Node, s *Schedule) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		w.at(n, "holidays: want a list of dates such as [2026-12-25], got %s", describe(n))
		return
	}
	at := map[Date]ast.Node{}
	for _, e := range seq.Values {
		var (
			d     Date
			spans []Span
			node  ast.Node = e
		)
		if _, isMap := e.(*ast.MappingNode); isMap || isMappingValue(e) {
			var dateNode ast.Node
			good := true
			seen := w.mapping(e, "holiday", []string{"date", "open"}, func(key string, _, v ast.Node) {
				switch key {
				case "date":
					dateNode = v
					var ok bool
					if d, ok = w.date(v); !ok {
						good = false
					}
				case "open":
					var ok bool
					if spans, ok = w.spans(v, "holiday open"); !ok {
						good = false
					}
				}
			})
			if seen == nil || !good {
				continue
			}
			if dateNode == nil {
				w.at(e, "holiday: missing required key \"date\"")
				continue
			}
			node = dateNode
		} else {
			var ok bool
			if d, ok = w.date(e); !ok {
				continue
			}
		}
		if first, dup := at[d]; dup {
			w.at(node, "holidays: %s is listed twice (first at line %d)", d, first.GetToken().Position.Line)
			continue
		}
		at[d] = node
		s.Holidays[d] = spans
	}
}

func isMappingValue(n ast.Node) bool {
	_, ok := n.(*ast.MappingValueNode)
	return ok
}

func (w *walker) date(n ast.Node) (Date, bool) {
	s, ok := n.(*ast.StringNode)
	if !ok {
		w.at(n, "holiday: want a date such as 2026-12-25, got %s", describe(n))
		return Date{}, false
	}
	t, err := time.Parse(time.DateOnly, s.Value)
	if !dateRE.MatchString(s.Value) || err != nil {
		w.at(n, "holiday: %q is not a date such as 2026-12-25", s.Value)
		return Date{}, false
	}
	return Date{t.Year(), t.Month(), t.Day()}, true
}

// hoursRef is a menu's or queue's hours: name, written at node, checked
// once every schedule is known.
type hoursRef struct {
	h    *Hours
	name string
	node ast.Node
}

// closedBlock reads closed: {say: [...], then: ACTION}. forQueue allows
// then: repeat, the default for a queue.
func (w *walker) closedBlock(k, n ast.Node, forQueue bool) (Closed, bool) {
	var c Closed
	good := true
	var thenNode ast.Node
	seen := w.mapping(n, "closed", []string{"say", "then"}, func(key string, _, v ast.Node) {
		switch key {
		case "say":
			var ok bool
			c.Say, ok = w.promptList(v, "say")
			good = good && ok
		case "then":
			thenNode = v
			c.Then = w.action(v, true)
			if c.Then == nil {
				good = false
				return
			}
			switch c.Then.Kind {
			case KindMenu, KindTransfer, KindHangup:
			case KindRepeat:
				if !forQueue {
					w.at(v, "closed: then: repeat is for a queue's hours; a closed menu goes to another menu, a transfer or hangup")
					good = false
				}
			default:
				want := "{menu: ID}, transfer, {transfer: {...}} or hangup"
				if forQueue {
					want = "repeat (the default), " + want
				}
				w.at(v, "closed: then: %s cannot follow closed hours; want %s", c.Then.Kind, want)
				good = false
			}
		}
	})
	if seen == nil {
		return c, false
	}
	if _, ok := seen["then"]; ok && c.Then == nil {
		return c, false // reported by action
	}
	if thenNode == nil {
		if !forQueue {
			w.at(k, "closed: missing required key \"then\" (where a caller goes when the menu is closed: {menu: ID}, a transfer or hangup)")
			return c, false
		}
		c.Then = &Option{Kind: KindRepeat}
	}
	if forQueue && c.Then.Kind == KindRepeat && len(c.Say) == 0 {
		w.at(k, "closed: a closed queue that offers the menu again must say why first (say: [prompt])")
		good = false
	}
	return c, good
}

// queuesSection reads the top-level queues: name -> {hours, closed}.
func (w *walker) queuesSection(n ast.Node, cfg *Config) {
	w.mapping(n, "queues", nil, func(name string, k, v ast.Node) {
		if !nameRE.MatchString(name) {
			w.at(k, "queue %q must be 1-64 letters, digits, '_', '-' or '.'", name)
			return
		}
		h := &Hours{}
		if w.hoursOf(k, v, "queue "+strconv.Quote(name), h, true) {
			cfg.Queues[name] = h
			w.queueKeys = append(w.queueKeys, ref{name, k})
		}
	})
}

// hoursOf reads the hours and closed keys of a queue (the whole mapping
// v) into h. Menus read the same two keys among their own (menuHours).
func (w *walker) hoursOf(k, v ast.Node, what string, h *Hours, forQueue bool) bool {
	good := true
	var closedNode, hoursNode ast.Node
	seen := w.mapping(v, what, []string{"hours", "closed"}, func(key string, kk, v ast.Node) {
		switch key {
		case "hours":
			hoursNode = v
		case "closed":
			closedNode = kk
			var ok bool
			h.Closed, ok = w.closedBlock(kk, v, forQueue)
			good = good && ok
		}
	})
	if seen == nil {
		return false
	}
	return w.bindHours(k, what, h, hoursNode, closedNode, forQueue) && good
}

// bindHours checks that hours and closed come together and remembers the
// schedule name for the check once every schedule is read.
func (w *walker) bindHours(k ast.Node, what string, h *Hours, hoursNode, closedNode ast.Node, forQueue bool) bool {
	switch {
	case hoursNode == nil && closedNode == nil:
		if forQueue {
			w.at(k, "%s: want hours (a name from the top-level hours)", what)
			return false
		}
		return true
	case hoursNode == nil:
		w.at(closedNode, "%s: closed without hours (name the schedule it follows: hours: office)", what)
		return false
	}
	name, ok := w.str(hoursNode, "hours")
	if !ok {
		return false
	}
	if closedNode == nil {
		if !forQueue {
			w.at(hoursNode, "%s: hours without closed (say where a caller goes outside them: closed: {then: hangup})", what)
			return false
		}
		// A queue without closed offers the menu again after saying so:
		// it must have something to say.
		w.at(hoursNode, "%s: hours without closed (say what a caller hears outside them: closed: {say: [office_closed]})", what)
		return false
	}
	w.hoursRefs = append(w.hoursRefs, hoursRef{h, name, hoursNode})
	return true
}

// checkHours binds schedule names, fills in default zones and refuses
// closed chains that go round in a circle.
func (w *walker) checkHours(cfg *Config) {
	for _, z := range w.pendingZones {
		if cfg.Location == nil {
			w.at(z.node, "hours %q: missing timezone (an IANA name such as Europe/Berlin, here or as settings.timezone)", z.s.Name)
			continue
		}
		z.s.Location = cfg.Location
	}
	used := map[string]bool{}
	for _, r := range w.hoursRefs {
		s, ok := cfg.Schedules[r.name]
		if !ok {
			w.at(r.node, "hours %q does not exist (define it under the top-level hours)", r.name)
			continue
		}
		used[r.name] = true
		r.h.Schedule = s
	}
	for _, r := range w.queueKeys {
		if !w.queueUsed(cfg, r.name) {
			w.at(r.node, "queue %q has hours but no transfer goes to it (nor the person key)", r.name)
		}
	}
}

func (w *walker) queueUsed(cfg *Config, q string) bool {
	if cfg.Person.Queue == q {
		return true
	}
	for _, t := range w.transfers {
		if t.opt.Queue == q {
			return true
		}
	}
	return false
}

// closedLoops reports a chain of closed actions that comes back to where
// it started (menu a closed -> menu b closed -> menu a): at some hour of
// some day a caller would go round it for ever.
func (w *walker) closedLoops(cfg *Config) {
	type node struct{ kind, name string }
	next := func(n node) (node, bool) {
		var h *Hours
		if n.kind == "menu" {
			if m := cfg.Menus[n.name]; m != nil {
				h = m.Hours
			}
		} else {
			h = cfg.Queues[n.name]
		}
		if h == nil || h.Schedule == nil || h.Closed.Then == nil {
			return node{}, false
		}
		switch t := h.Closed.Then; t.Kind {
		case KindMenu:
			return node{"menu", t.Menu}, true
		case KindTransfer:
			return node{"queue", t.Queue}, true
		}
		return node{}, false
	}
	reported := map[node]bool{}
	report := func(start node, at ast.Node) {
		if reported[start] {
			return // on a circle already reported from its first member
		}
		seen := map[node]bool{start: true}
		chain := []string{start.kind + " " + start.name}
		for n, ok := next(start); ok; n, ok = next(n) {
			chain = append(chain, n.kind+" "+n.name)
			if n == start {
				for m := range seen {
					reported[m] = true
				}
				w.at(at, "closed hours go round in a circle: %s; end the chain in a menu or queue without hours, or hangup", strings.Join(chain, " -> "))
				return
			}
			if seen[n] {
				return // a loop further on, reported from its own start
			}
			seen[n] = true
		}
	}
	for _, id := range w.menuOrder {
		report(node{"menu", id}, w.menuKeys[id])
	}
	for _, r := range w.queueKeys {
		report(node{"queue", r.name}, r.node)
	}
}
