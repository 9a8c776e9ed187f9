package ivr

// Menu events an observer of a Session is told about: the per-menu funnel
// of the metrics and the steps of a call's journey.
const (
	MenuEntered  = "menu"     // the caller arrived in Menu
	MenuOption   = "option"   // Key chose something in Menu (the person key too)
	MenuInvalid  = "invalid"  // Key matched nothing in Menu
	MenuNoInput  = "no_input" // Menu timed out waiting for a key
	MenuHungUp   = "hung_up"  // the call ended while in Menu
	MenuEscalate = "escalate" // Menu handed the caller to a person (Reason), once the prompts before it played
	// MenuClosed: the caller met closed hours (Reason names the
	// schedule): of Menu itself when Queue is empty, else of Queue,
	// asked for from Menu.
	MenuClosed = "closed"
	// MenuKey: a key reached the menu (Key, Via), whatever it did; a digit
	// typed into a collect is reported as 'x'.
	MenuKey = "key"
)

// MenuEvent is one thing that happened in the menu.
type MenuEvent struct {
	Kind   string
	Menu   string // the menu's id
	Key    byte   // for option and invalid; 'x' inside a digit collection is never reported
	Reason string // for escalate; the schedule for closed
	Queue  string // for closed: the queue that was closed
	Via    string // for key: how it arrived
}

// Observe sets a function told of each menu event, on the Session's own
// goroutine, before Run returns. Set it before Run.
func (s *Session) Observe(f func(MenuEvent)) { s.obs = f }

// state is what the observer compares before and after an event.
type state struct {
	menu  *Menu
	phase phase
	tries int
}

func (m *Machine) state() state { return state{menu: m.menu, phase: m.phase, tries: m.totalTries} }

// observeKey reports a key before the machine takes it: in a digit
// collection a digit is data (an account number) and never leaves as it is.
func (s *Session) observeKey(m *Machine, p Press) {
	if s.obs == nil {
		return
	}
	d := p.Digit
	if m.phase == inCollect && d >= '0' && d <= '9' {
		d = 'x'
	}
	s.obs(MenuEvent{Kind: MenuKey, Key: d, Via: p.Via})
}

// observeStart reports the start: closed hours met on the way in, the
// menu entered, or the hand-over a closed start menu made at once.
func (s *Session) observeStart(m *Machine) {
	notes := m.takeNotes()
	if s.obs == nil {
		return
	}
	for _, n := range notes {
		s.obs(n)
	}
	if m.menu != nil {
		s.obs(MenuEvent{Kind: MenuEntered, Menu: m.menu.ID})
	}
	if m.phase == inTransfer {
		s.obs(MenuEvent{Kind: MenuEscalate, Menu: m.menuID(), Reason: m.reason})
	}
}

// observe reports what ev did to m, given the state before it.
func (s *Session) observe(m *Machine, ev Event, before state) {
	notes := m.takeNotes()
	if s.obs == nil {
		return
	}
	name := func(mn *Menu) string {
		if mn == nil {
			return ""
		}
		return mn.ID
	}
	after := m.state()
	for _, n := range notes {
		s.obs(n)
	}
	switch ev := ev.(type) {
	case Key:
		if before.phase == inMenu || before.phase == inInfo {
			kind := MenuOption
			if after.tries > before.tries {
				kind = MenuInvalid
			}
			s.obs(MenuEvent{Kind: kind, Menu: name(before.menu), Key: ev.Digit})
		}
	case Timeout:
		if after.tries > before.tries {
			s.obs(MenuEvent{Kind: MenuNoInput, Menu: name(before.menu)})
		}
	case HungUp:
		if before.phase != inTransfer && before.phase != ended {
			s.obs(MenuEvent{Kind: MenuHungUp, Menu: name(before.menu)})
		}
	}
	if after.menu != before.menu && after.menu != nil {
		s.obs(MenuEvent{Kind: MenuEntered, Menu: after.menu.ID})
	}
	if after.phase == inTransfer && before.phase != inTransfer {
		s.obs(MenuEvent{Kind: MenuEscalate, Menu: name(after.menu), Reason: m.reason})
	}
}
