package ivr

import (
	"fmt"
	"strings"
	"time"
)

// Catalog tells the loader which prompts exist, per language.
// prompts.Set satisfies it.
type Catalog interface {
	Has(lang, name string) bool
}

// Defaults applied when the menu file leaves a setting out.
const (
	DefaultPersonKey         = '0'
	DefaultPersonQueue       = "default"
	DefaultNoInputTimeout    = 5 * time.Second
	DefaultInterDigitTimeout = 3 * time.Second
	DefaultMaxTries          = 3
	DefaultStart             = "main"
	// DefaultMaxPressesToPerson is how many key presses a menu may be
	// from a transfer through its own options (settings.max_presses_to_person).
	DefaultMaxPressesToPerson = 2

	// MaxTimeout bounds every configured timeout: a caller left in
	// silence for longer than this believes the line is dead.
	MaxTimeout = 60 * time.Second

	// DefaultMaxMenuTime is settings.max_menu_time: after this long in
	// the menu a caller is handed to a person (reason menu_time).
	DefaultMaxMenuTime = 5 * time.Minute
	// MaxMenuTimeLimit bounds max_menu_time.
	MaxMenuTimeLimit = time.Hour
)

// DefaultFrustration is what settings.frustration is when the file leaves
// it (or a part of it) out: every detector on.
var DefaultFrustration = Frustration{
	Priority: 10, MashKeys: 6, MashWithin: 3 * time.Second,
	SameInvalid: true, Repeats: 3, Greeting: true,
}

// Config is a validated menu file. It is immutable once returned by Parse:
// calls in progress share it, and a reload swaps in a new one.
type Config struct {
	File              string
	Languages         []string
	DefaultLanguage   string
	Start             string
	Welcome           []string // played once, before the start menu
	NoInputTimeout    time.Duration
	InterDigitTimeout time.Duration
	// MaxTries is the call's failure budget: invalid or silent tries over
	// the whole call, across menus. A menu's own MaxTries may only be
	// tighter, and counts tries in one visit.
	MaxTries int
	// MaxMenuTime caps the time in the menu; then a person (menu_time).
	MaxMenuTime time.Duration
	Frustration Frustration
	Person      Person
	Prompts     SystemPrompts
	// MaxPressesToPerson bounds Distances: a menu further from a
	// transfer than this is refused.
	MaxPressesToPerson int
	Menus              map[string]*Menu
	// Location is settings.timezone: the zone of hours that name none.
	Location *time.Location
	// Schedules are the top-level hours by name; Queues the hours of
	// queues by queue name. A queue not in Queues is always open.
	Schedules map[string]*Schedule
	Queues    map[string]*Hours
}

// Frustration says how the menu spots a caller who struggles. Each
// detector hands the caller to the person queue at Priority, with its own
// reason; the max_tries and menu_time hand-overs use Priority too.
type Frustration struct {
	Priority    int           // 0-100, for every hand-over of a struggling caller
	MashKeys    int           // this many keys ...
	MashWithin  time.Duration // ... within this long: key mashing (0 keys: off)
	SameInvalid bool          // the same invalid key twice in one menu
	Repeats     int           // "repeat" chosen this many times in a call (0: off)
	Greeting    bool          // the person key while the welcome plays
}

// Person is the key that reaches a human from every menu.
type Person struct {
	Key      byte
	Queue    string
	Priority int
}

// SystemPrompts are the prompt names the machine plays on its own.
// There is no hold or "unavailable" prompt here: what the caller hears
// during a hand-over, including that nobody can be reached, belongs to
// the Channel's Transfer (the gateway's router), which knows why.
type SystemPrompts struct {
	Invalid      string
	NoInput      string
	TooManyTries string
	Goodbye      string
}

// Menu is one menu with its defaults resolved.
type Menu struct {
	ID             string
	Prompt         []string // the full prompt
	Short          []string // the re-prompt; empty means use Prompt
	NoInputTimeout time.Duration
	MaxTries       int
	Options        map[byte]*Option
	Hours          *Hours // nil: always open
}

// Kind says what an option does.
type Kind uint8

// Option kinds, one per action of the menu file.
const (
	KindMenu Kind = iota + 1
	KindPlay
	KindBack
	KindRepeat
	KindHangup
	KindTransfer
	KindLanguage
	KindCollect
)

var kindNames = [...]string{"", "menu", "play", "back", "repeat", "hangup", "transfer", "language", "collect"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Option is what one key does. Only the fields of its Kind are set.
type Option struct {
	Kind     Kind
	Menu     string   // KindMenu
	Prompts  []string // KindPlay
	Queue    string   // KindTransfer
	Priority int      // KindTransfer
	Language string   // KindLanguage
	Collect  *Collect // KindCollect
}

// Collect is a multi-digit entry such as an account number.
type Collect struct {
	Name              string   // key in Transfer.Digits
	Prompt            []string // asks for the digits
	Done              []string // played after a complete entry, before Then
	MinDigits         int
	MaxDigits         int
	Terminator        byte // '#' or 0 for none
	InterDigitTimeout time.Duration
	Then              *Option // never a collect
}

// Problem is one thing wrong with a menu file, at the node that is wrong.
type Problem struct {
	File      string
	Line, Col int
	Msg       string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Problems is every problem found in one menu file, in file order.
// It is the error Parse and Load return; use errors.As to get it.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
