package ivr

import (
	"errors"
	"maps"
	"slices"
	"time"
)

// TimerID names one timer. Every StartTimer gets a new id, so a Timeout
// that was already on its way when its timer was cancelled is recognised
// as stale and ignored.
type TimerID uint64

// Event is what happens to a call: Key, Timeout, PromptDone, HungUp,
// TransferFailed, MenuTimeUp.
type Event interface{ event() }

// Key is one DTMF digit from the caller: 0-9, *, # (A-D are treated as
// invalid choices).
type Key struct{ Digit byte }

// Timeout reports that the timer ID ran out.
type Timeout struct{ ID TimerID }

// PromptDone reports that the last Play finished (and was not stopped).
type PromptDone struct{}

// HungUp reports that the call ended under the menu (caller hung up,
// media timeout, drain). docs/design.md calls it Hangup; it is renamed
// because Hangup is the action.
type HungUp struct{}

// TransferFailed reports that the Transfer action did not hand the caller
// over; Err is what Channel.Transfer returned. Not in docs/design.md: the
// machine, not the runner, decides what the caller hears next.
type TransferFailed struct{ Err error }

// Errors a Channel's Transfer may wrap to tell the menu what happened.
// Any other error means nobody could take the call and the caller has
// been told so.
var (
	// ErrBackToMenu: the caller left the queue for the menu (a key while
	// waiting). The menu is offered again; no failure is counted.
	ErrBackToMenu = errors.New("ivr: caller returned to the menu")
	// ErrEndCall: the Channel has already said goodbye (e.g. the queue's
	// maximum wait). The menu hangs up without another prompt.
	ErrEndCall = errors.New("ivr: call over after transfer")
)

// MenuTimeUp reports that the call has been in the menu for
// settings.max_menu_time (the Session's own timer, beside the machine's).
type MenuTimeUp struct{}

func (MenuTimeUp) event()     {}
func (Key) event()            {}
func (Timeout) event()        {}
func (PromptDone) event()     {}
func (HungUp) event()         {}
func (TransferFailed) event() {}

// Action is what the machine asks the runner to do.
type Action interface{ action() }

// Play plays prompts in order. A key during an interruptible Play barges
// in: the machine answers it with StopPlayback first.
type Play struct {
	Lang          string
	Prompts       []string
	Interruptible bool
}

// StopPlayback stops the current Play; no PromptDone follows for it.
type StopPlayback struct{}

// StartTimer starts the machine's one timer. The machine never has two
// timers running: it cancels one before it starts the next.
type StartTimer struct {
	ID    TimerID
	After time.Duration
}

// CancelTimer stops the timer ID.
type CancelTimer struct{ ID TimerID }

// Transfer hands the caller to a person: routing takes over. It is also
// the argument of Channel.Transfer.
type Transfer struct {
	Queue    string
	Priority int
	Reason   string            // ReasonCallerRequest, ReasonMaxTries, ReasonMenuOption
	Digits   map[string]string // collected entries by Collect.Name
	Path     []string          // menus visited
	Lang     string
}

// Hangup ends the call after its goodbye prompt has played.
type Hangup struct{ Reason string }

// SetLanguage reports that the caller switched languages; later Plays
// carry the new language.
type SetLanguage struct{ Lang string }

func (Play) action()         {}
func (StopPlayback) action() {}
func (StartTimer) action()   {}
func (CancelTimer) action()  {}
func (Transfer) action()     {}
func (Hangup) action()       {}
func (SetLanguage) action()  {}

// Reasons carried by Transfer and Hangup, and in Summary.Outcome.
const (
	ReasonCallerRequest  = "caller_request"  // the person key
	ReasonMaxTries       = "max_tries"       // too many invalid or silent tries
	ReasonMenuOption     = "menu_option"     // an option said transfer or hangup
	ReasonTransferFailed = "transfer_failed" // nobody could take the call
	ReasonClosed         = "closed"          // outside a menu's or queue's hours
	// Frustration: a caller who struggles goes to a person first.
	ReasonMashing       = "key_mashing"        // many keys within a short time
	ReasonSameInvalid   = "same_invalid_key"   // the same invalid key twice in one menu
	ReasonRepeats       = "repeat_loop"        // "repeat" again and again
	ReasonGreeting      = "person_in_greeting" // the person key during the welcome
	ReasonMenuTime      = "menu_time"          // over settings.max_menu_time in the menu
	OutcomeCallerHangup = "caller_hangup"      // the call ended inside the menu
)

// Summary is what a call did in the menu, for the call-end log line.
// Keys holds menu choices as pressed; digits typed into a collect are
// shown as 'x' so an account number never reaches a log.
type Summary struct {
	Path    []string
	Keys    string
	Outcome string // "transfer:<reason>", "hangup:<reason>", "caller_hangup", "" while running
	Tries   int    // failed attempts (invalid or no input) over the whole call
}

type phase uint8

const (
	inMenu     phase = iota // menu prompt playing, or waiting for a key
	inInfo                  // a play: message; the menu's keys still work
	inCollect               // collecting digits
	inFinal                 // a prompt that cannot be interrupted, then pending
	inTransfer              // Transfer emitted, waiting to hear if it failed
	ended
)

// A caller going round in circles must not grow the back stack or the
// summary without end: these bound them.
const (
	maxHistory = 16
	maxPath    = 64
	maxKeys    = 256
)

// Machine is the menu state machine of one call. It is synchronous: no
// timers, no goroutines, no I/O. It reads the time of day only through its
// clock, for opening hours (SetClock). It is not safe for concurrent use;
// the Session owns it.
type Machine struct {
	cfg     *Config
	now     func() time.Time
	notes   []MenuEvent // closed hours met, for the observer
	lang    string
	menu    *Menu
	history []*Menu
	phase   phase
	playing bool
	timer   TimerID // the running timer, 0 if none
	gen     TimerID
	tries   int // failures at the current menu or collect

	collect *Collect
	buf     []byte
	digits  map[string]string

	pending  Action // sent when the inFinal prompt ends
	reason   string // of the pending or last Transfer
	failures int    // transfers that failed

	path       []string
	keys       []byte
	outcome    string
	totalTries int // the call's failures, against settings.max_tries

	// Frustration detectors (settings.frustration).
	greeting bool        // the welcome is playing
	keyTimes []time.Time // the last MashKeys menu keys
	invalid  [256]bool   // invalid keys pressed in this menu visit
	repeats  int         // "repeat" chosen in the call
}

// NewMachine returns a machine for one call on cfg, which must come from
// Parse (it is not validated again).
func NewMachine(cfg *Config) *Machine {
	return &Machine{cfg: cfg, now: time.Now, lang: cfg.DefaultLanguage, digits: map[string]string{}}
}

// SetClock sets where the machine reads the time for opening hours
// (time.Now by default). Tests set it to stand at a chosen instant.
func (m *Machine) SetClock(now func() time.Time) {
	if now != nil {
		m.now = now
	}
}

// Start plays the welcome, then the start menu. The welcome plays on its
// own: a key during it is a choice in the start menu, and the person key
// during it is a caller who will not wait (ReasonGreeting).
func (m *Machine) Start() []Action {
	start := m.cfg.Menus[m.cfg.Start]
	if len(m.cfg.Welcome) == 0 || !start.Hours.open(m.now()) {
		return m.goTo(start, m.cfg.Welcome)
	}
	m.enter(start, nil)
	m.greeting = true
	return []Action{m.play(m.cfg.Welcome, true)}
}

// takeNotes hands the observer the closed hours met since the last call.
func (m *Machine) takeNotes() []MenuEvent {
	n := m.notes
	m.notes = nil
	return n
}

// maxClosedHops bounds a chain of closed menus and queues at run time;
// the validator already refuses chains that go round in a circle.
const maxClosedHops = 16

// goTo enters menu, unless it is outside its hours: then its closed
// action runs instead (say, then another menu, a transfer or hangup).
func (m *Machine) goTo(menu *Menu, prefix []string) []Action {
	for range maxClosedHops {
		if menu.Hours.open(m.now()) {
			return m.enter(menu, prefix)
		}
		c := menu.Hours.Closed
		m.notes = append(m.notes, MenuEvent{Kind: MenuClosed, Menu: menu.ID, Reason: menu.Hours.Schedule.Name})
		prefix = join(prefix, c.Say)
		switch c.Then.Kind {
		case KindMenu:
			menu = m.cfg.Menus[c.Then.Menu]
			continue
		case KindTransfer:
			return m.transfer(c.Then.Queue, c.Then.Priority, ReasonClosed, prefix)
		}
		break
	}
	return m.closedGoodbye(prefix)
}

// closedGoodbye ends a call that met closed hours with nowhere to go.
func (m *Machine) closedGoodbye(prefix []string) []Action {
	return m.final(join(prefix, []string{m.cfg.Prompts.Goodbye}), Hangup{Reason: ReasonClosed}, "hangup:"+ReasonClosed)
}

// Handle feeds one event and returns the actions it causes, in order.
func (m *Machine) Handle(ev Event) []Action {
	switch ev := ev.(type) {
	case Key:
		return m.key(ev.Digit)
	case Timeout:
		if ev.ID == 0 || ev.ID != m.timer {
			return nil // stale: cancelled, or superseded by a newer timer
		}
		m.timer = 0
		return m.timeout()
	case PromptDone:
		if !m.playing {
			return nil
		}
		m.playing = false
		return m.promptDone()
	case HungUp:
		return m.hungUp()
	case TransferFailed:
		return m.transferFailed(ev.Err)
	case MenuTimeUp:
		return m.menuTimeUp()
	}
	return nil
}

// Summary reports the call so far.
func (m *Machine) Summary() Summary {
	return Summary{Path: slices.Clone(m.path), Keys: string(m.keys), Outcome: m.outcome, Tries: m.totalTries}
}

// play hands out its own copy of the prompt list: the Config is shared by
// every call and must stay read-only.
func (m *Machine) play(prompts []string, interruptible bool) Action {
	m.playing = true
	return Play{Lang: m.lang, Prompts: slices.Clone(prompts), Interruptible: interruptible}
}

func (m *Machine) record(d byte) {
	if len(m.keys) < maxKeys {
		m.keys = append(m.keys, d)
	}
}

func (m *Machine) startTimer(d time.Duration) []Action {
	m.gen++
	m.timer = m.gen
	return []Action{StartTimer{ID: m.gen, After: d}}
}

func join(a, b []string) []string {
	return append(slices.Clone(a), b...)
}

// enter offers menu with its full prompt, after prefix.
func (m *Machine) enter(menu *Menu, prefix []string) []Action {
	m.menu = menu
	m.tries = 0
	m.invalid = [256]bool{}
	m.phase = inMenu
	if len(m.path) < maxPath {
		m.path = append(m.path, menu.ID)
	}
	return []Action{m.play(join(prefix, menu.Prompt), true)}
}

// reprompt is the prompt for the next attempt at the current menu: the
// short one, except on the last attempt, where a caller who has failed
// so far hears the full list once more. Without a short prompt it is
// always the full one.
func (m *Machine) reprompt() []string {
	if len(m.menu.Short) == 0 || m.triesLeft() <= 1 {
		return m.menu.Prompt
	}
	return m.menu.Short
}

// triesLeft is how many more failures the caller may make: the menu's
// own limit for this visit or the call's budget, whichever is nearer.
func (m *Machine) triesLeft() int {
	return min(m.menu.MaxTries-m.tries, m.cfg.MaxTries-m.totalTries)
}

func (m *Machine) key(d byte) []Action {
	switch m.phase {
	case inFinal, inTransfer, ended:
		return nil // the call is being handed over; keys mean nothing now
	}
	greeting := m.greeting
	m.greeting = false
	var acts []Action
	if m.playing {
		// Barge-in: a caller who knows the menu need not hear it out.
		acts = append(acts, StopPlayback{})
		m.playing = false
	}
	if m.timer != 0 {
		acts = append(acts, CancelTimer{ID: m.timer})
		m.timer = 0
	}
	if m.phase == inCollect {
		return append(acts, m.collectKey(d)...)
	}
	m.record(d)
	m.phase = inMenu
	return append(acts, m.choose(d, greeting)...)
}

// choose answers a key in the menu. Before the option itself, the
// frustration detectors: a caller who struggles goes to a person first.
func (m *Machine) choose(d byte, greeting bool) []Action {
	f := m.cfg.Frustration
	if d == m.cfg.Person.Key {
		if greeting && f.Greeting {
			return m.struggle(ReasonGreeting, nil)
		}
		return m.transfer(m.cfg.Person.Queue, m.cfg.Person.Priority, ReasonCallerRequest, nil)
	}
	if m.mashing() {
		return m.struggle(ReasonMashing, []string{m.cfg.Prompts.TooManyTries})
	}
	o, ok := m.menu.Options[d]
	if !ok {
		if f.SameInvalid && m.invalid[d] {
			m.tries++
			m.totalTries++
			return m.struggle(ReasonSameInvalid, []string{m.cfg.Prompts.Invalid, m.cfg.Prompts.TooManyTries})
		}
		m.invalid[d] = true
		return m.fail(m.cfg.Prompts.Invalid)
	}
	m.tries = 0
	if o.Kind == KindRepeat {
		m.repeats++
		if f.Repeats > 0 && m.repeats >= f.Repeats {
			return m.struggle(ReasonRepeats, []string{m.cfg.Prompts.TooManyTries})
		}
	}
	return m.do(o, nil)
}

// mashing notes a menu key's time and reports whether the last MashKeys
// keys came within MashWithin.
func (m *Machine) mashing() bool {
	f := m.cfg.Frustration
	if f.MashKeys < 2 {
		return false
	}
	if len(m.keyTimes) == f.MashKeys {
		m.keyTimes = append(m.keyTimes[:0], m.keyTimes[1:]...)
	}
	now := m.now()
	m.keyTimes = append(m.keyTimes, now)
	return len(m.keyTimes) == f.MashKeys && now.Sub(m.keyTimes[0]) <= f.MashWithin
}

// struggle hands a caller who struggles to the person queue at the
// frustration priority, after prompts.
func (m *Machine) struggle(reason string, prompts []string) []Action {
	m.collect = nil
	return m.transfer(m.cfg.Person.Queue, m.cfg.Frustration.Priority, reason, prompts)
}

// menuTimeUp: the call has been in the menu for max_menu_time.
func (m *Machine) menuTimeUp() []Action {
	switch m.phase {
	case inFinal, inTransfer, ended:
		return nil // already on its way out, or with the router
	}
	var acts []Action
	if m.playing {
		acts = append(acts, StopPlayback{})
		m.playing = false
	}
	if m.timer != 0 {
		acts = append(acts, CancelTimer{ID: m.timer})
		m.timer = 0
	}
	m.greeting = false
	return append(acts, m.struggle(ReasonMenuTime, []string{m.cfg.Prompts.TooManyTries})...)
}

// do carries out option o, playing prefix first.
func (m *Machine) do(o *Option, prefix []string) []Action {
	switch o.Kind {
	case KindMenu:
		m.history = append(m.history, m.menu)
		if len(m.history) > maxHistory {
			m.history = m.history[1:]
		}
		return m.goTo(m.cfg.Menus[o.Menu], prefix)
	case KindPlay:
		m.phase = inInfo
		return []Action{m.play(join(prefix, o.Prompts), true)}
	case KindBack:
		if n := len(m.history); n > 0 {
			prev := m.history[n-1]
			m.history = m.history[:n-1]
			return m.goTo(prev, prefix)
		}
		// back at the start menu has nowhere to go: offer it again.
		return []Action{m.play(join(prefix, m.menu.Prompt), true)}
	case KindRepeat:
		return []Action{m.play(join(prefix, m.menu.Prompt), true)}
	case KindHangup:
		return m.final(join(prefix, []string{m.cfg.Prompts.Goodbye}), Hangup{Reason: ReasonMenuOption}, "hangup:"+ReasonMenuOption)
	case KindTransfer:
		return m.transfer(o.Queue, o.Priority, ReasonMenuOption, prefix)
	case KindLanguage:
		m.lang = o.Language
		return []Action{SetLanguage{Lang: o.Language}, m.play(join(prefix, m.menu.Prompt), true)}
	case KindCollect:
		m.phase = inCollect
		m.collect = o.Collect
		m.buf = m.buf[:0]
		m.tries = 0
		return []Action{m.play(join(prefix, o.Collect.Prompt), true)}
	}
	return nil
}

// fail counts an invalid or silent attempt against the menu's limit and
// the call's budget. When either is spent the caller goes to a person:
// never hung up on, never looped for ever, and a caller bouncing between
// menus does not start afresh in each.
func (m *Machine) fail(errPrompt string) []Action {
	m.tries++
	m.totalTries++
	if m.triesLeft() <= 0 {
		return m.struggle(ReasonMaxTries, []string{errPrompt, m.cfg.Prompts.TooManyTries})
	}
	if m.phase == inCollect {
		m.buf = m.buf[:0]
		return []Action{m.play(join([]string{errPrompt}, m.collect.Prompt), true)}
	}
	m.phase = inMenu
	return []Action{m.play(join([]string{errPrompt}, m.reprompt()), true)}
}

// transfer hands the caller over, after prompts if there are any. The
// hold prompt itself is the Channel's to play (see SystemPrompts).
//
// A queue outside its hours is not queued for: its closed action runs
// (say, then another queue, a menu, the menu again, or hangup), so a
// caller never waits for nobody. A caller sent to a person because the
// menu failed them is let go after the message rather than offered a
// menu again: that could loop for ever.
func (m *Machine) transfer(queue string, prio int, reason string, prompts []string) []Action {
	for hops := 0; ; hops++ {
		h := m.cfg.Queues[queue]
		if h.open(m.now()) {
			break
		}
		m.notes = append(m.notes, MenuEvent{Kind: MenuClosed, Menu: m.menuID(), Queue: queue, Reason: h.Schedule.Name})
		prompts = join(prompts, h.Closed.Say)
		t := h.Closed.Then
		if t.Kind != KindTransfer {
			// Nobody takes the call now: no "let me connect you".
			prompts = slices.DeleteFunc(prompts, func(p string) bool { return p == m.cfg.Prompts.TooManyTries })
		}
		switch {
		case t.Kind == KindTransfer && hops < maxClosedHops:
			// The caller keeps their place in line: the overflow's own
			// priority only ever raises it.
			queue, prio = t.Queue, max(prio, t.Priority)
			continue
		case t.Kind != KindMenu && t.Kind != KindRepeat, reason == ReasonMaxTries, m.menu == nil && t.Kind == KindRepeat:
			return m.closedGoodbye(prompts)
		case t.Kind == KindMenu:
			if m.menu != nil {
				m.history = append(m.history, m.menu)
				if len(m.history) > maxHistory {
					m.history = m.history[1:]
				}
			}
			m.phase = inMenu
			return m.goTo(m.cfg.Menus[t.Menu], prompts)
		}
		// repeat: the menu the caller is in, again, after the message.
		m.phase = inMenu
		m.tries = 0
		return []Action{m.play(join(prompts, m.reprompt()), true)}
	}
	m.reason = reason
	t := Transfer{
		Queue: queue, Priority: prio, Reason: reason,
		Digits: maps.Clone(m.digits), Path: slices.Clone(m.path), Lang: m.lang,
	}
	if len(prompts) == 0 {
		m.phase = inTransfer
		m.outcome = "transfer:" + reason
		return []Action{t}
	}
	return m.final(prompts, t, "transfer:"+reason)
}

// final plays prompts to the end, then sends a (Transfer or Hangup).
func (m *Machine) final(prompts []string, a Action, outcome string) []Action {
	m.phase = inFinal
	m.pending = a
	m.outcome = outcome
	return []Action{m.play(prompts, false)}
}

func (m *Machine) menuID() string {
	if m.menu == nil {
		return ""
	}
	return m.menu.ID
}

func (m *Machine) promptDone() []Action {
	switch m.phase {
	case inMenu:
		if m.greeting {
			m.greeting = false
			return []Action{m.play(m.menu.Prompt, true)}
		}
		// The no-input timer starts when the prompt ends, not when it
		// starts: a long prompt must not eat the caller's time to answer.
		return m.startTimer(m.menu.NoInputTimeout)
	case inInfo:
		m.phase = inMenu
		return []Action{m.play(m.reprompt(), true)}
	case inCollect:
		if len(m.buf) > 0 {
			return m.startTimer(m.collect.InterDigitTimeout)
		}
		return m.startTimer(m.menu.NoInputTimeout)
	case inFinal:
		a := m.pending
		m.pending = nil
		m.phase = ended
		if _, ok := a.(Transfer); ok {
			m.phase = inTransfer
		}
		return []Action{a}
	}
	return nil
}

func (m *Machine) timeout() []Action {
	switch m.phase {
	case inMenu:
		return m.fail(m.cfg.Prompts.NoInput)
	case inCollect:
		if len(m.buf) == 0 {
			return m.fail(m.cfg.Prompts.NoInput)
		}
		// The caller stopped typing: take what is there.
		return m.collectEnd()
	}
	return nil
}

func (m *Machine) collectKey(d byte) []Action {
	c := m.collect
	switch {
	case d == '*':
		// * abandons the entry and offers the menu again.
		m.record(d)
		m.collect = nil
		m.phase = inMenu
		m.tries = 0
		return []Action{m.play(m.reprompt(), true)}
	case c.Terminator != 0 && d == c.Terminator:
		m.record(d)
		return m.collectEnd()
	case d < '0' || d > '9':
		m.record(d)
		return m.fail(m.cfg.Prompts.Invalid)
	}
	m.record('x')
	m.buf = append(m.buf, d)
	if len(m.buf) >= c.MaxDigits {
		return m.collectEnd()
	}
	return m.startTimer(c.InterDigitTimeout)
}

func (m *Machine) collectEnd() []Action {
	c := m.collect
	if len(m.buf) == 1 && m.buf[0] == m.cfg.Person.Key && c.MinDigits > 1 {
		// The person key alone is no entry (it is shorter than any): the
		// caller asked for a person, as they would anywhere else.
		m.buf = m.buf[:0]
		m.collect = nil
		m.phase = inMenu
		return m.transfer(m.cfg.Person.Queue, m.cfg.Person.Priority, ReasonCallerRequest, nil)
	}
	if len(m.buf) < c.MinDigits {
		return m.fail(m.cfg.Prompts.Invalid)
	}
	m.digits[c.Name] = string(m.buf)
	m.buf = m.buf[:0]
	m.collect = nil
	m.phase = inMenu
	m.tries = 0
	return m.do(c.Then, c.Done)
}

// transferFailed decides what follows a hand-over that did not happen.
// The Channel has already told the caller why (see SystemPrompts).
func (m *Machine) transferFailed(err error) []Action {
	if m.phase != inTransfer {
		return nil
	}
	switch {
	case m.menu == nil && !errors.Is(err, ErrEndCall):
		// The start menu was closed and sent the caller straight to a
		// queue: there is no menu to go back to.
		return m.final([]string{m.cfg.Prompts.Goodbye}, Hangup{Reason: ReasonTransferFailed}, "hangup:"+ReasonTransferFailed)
	case errors.Is(err, ErrBackToMenu):
		// The caller left the queue on purpose: the menu, as on entry.
		m.outcome = ""
		m.phase = inMenu
		m.tries = 0
		return []Action{m.play(m.menu.Prompt, true)}
	case errors.Is(err, ErrEndCall):
		m.phase = ended
		m.outcome = "hangup:" + ReasonTransferFailed
		return []Action{Hangup{Reason: ReasonTransferFailed}}
	}
	m.failures++
	// A caller sent to a person because the menu failed them, or whose
	// second transfer failed too, is let go politely: offering the menu
	// again would loop for ever.
	if m.reason == ReasonMaxTries || m.failures >= 2 {
		return m.final([]string{m.cfg.Prompts.Goodbye}, Hangup{Reason: ReasonTransferFailed}, "hangup:"+ReasonTransferFailed)
	}
	m.outcome = ""
	m.phase = inMenu
	m.tries = 0
	return []Action{m.play(m.reprompt(), true)}
}

func (m *Machine) hungUp() []Action {
	var acts []Action
	if m.timer != 0 {
		acts = append(acts, CancelTimer{ID: m.timer})
		m.timer = 0
	}
	_, hangingUp := m.pending.(Hangup)
	switch {
	case m.phase == inTransfer, m.phase == ended, m.phase == inFinal && hangingUp:
		// The menu had already decided how the call ends; keep that.
	default:
		m.outcome = OutcomeCallerHangup
	}
	m.pending = nil
	m.phase = ended
	m.playing = false
	return acts
}
