// Package ivr is the voice menu: it loads and validates the menu file
// (YAML, strict, every problem reported as file:line:col) and runs the
// menu state machine for one call.
//
// The Machine is pure and synchronous: events in (keys, timeouts, prompt
// ends), actions out (play, start a timer, transfer, hang up). The Session
// turns those actions into calls on a Channel and into timers, so timing
// is tested with testing/synctest and no sleeps.
//
// ivr imports only the standard library and github.com/goccy/go-yaml. It
// must not import network code (net, sipgo, pion, go-redis) nor any other
// package of this module: the gateway implements Channel for a live call.
package ivr
