package gateway

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
)

// screenPop is what the agent's phone shows of a caller before answering:
// the X-IVR headers of the INVITE.
type screenPop struct {
	Path     string // menus visited, "main>billing"
	Keys     string // keys that chose or missed a menu option, in order
	Reason   string // why they went to a person (ivr.Reason*)
	Wait     int    // whole seconds queued before this INVITE
	Language string
	Repeat   int // recent calls from this number (0: none known)
	Queue    string
	Digits   string // collected entries, "name=value;..." sorted by name
	Callback bool   // the gateway is calling back a caller who booked it
}

// screenPopOrder is the order the headers go on the wire: a phone that
// lists them as they come shows the same screen every time.
var screenPopOrder = []string{"X-IVR-Path", "X-IVR-Keys", "X-IVR-Reason", "X-IVR-Wait",
	"X-IVR-Language", "X-IVR-Repeat", "X-IVR-Queue", "X-IVR-Digits"}

// callbackPopOrder is screenPopOrder for a callback's agent leg, which also
// says X-IVR-Callback: yes.
var callbackPopOrder = append(slices.Clip(screenPopOrder), "X-IVR-Callback")

func (f *Fallback) screenPop(leg *Leg, t ivr.Transfer, queue string, waited time.Duration) screenPop {
	p := screenPop{Path: strings.Join(t.Path, ">"), Reason: t.Reason, Wait: int(waited / time.Second),
		Language: t.Lang, Repeat: leg.RepeatCalls, Queue: queue, Digits: digitsHeader(t.Digits)}
	if leg.MenuKeys != nil {
		p.Keys = leg.MenuKeys()
	}
	if p.Language == "" {
		if leg.Menu != nil && leg.Menu.DefaultLanguage != "" {
			p.Language = leg.Menu.DefaultLanguage
		} else if f.cfg.Prompts != nil {
			p.Language = f.cfg.Prompts.DefaultLanguage()
		}
	}
	return p
}

// headers are the screen pop as SIP headers, named as in screenPopOrder.
func (p screenPop) headers() map[string]string {
	h := map[string]string{
		"X-IVR-Path":     p.Path,
		"X-IVR-Keys":     p.Keys,
		"X-IVR-Reason":   p.Reason,
		"X-IVR-Wait":     strconv.Itoa(p.Wait),
		"X-IVR-Language": p.Language,
		"X-IVR-Repeat":   strconv.Itoa(p.Repeat),
		"X-IVR-Queue":    p.Queue,
		"X-IVR-Digits":   p.Digits,
	}
	if p.Callback {
		h["X-IVR-Callback"] = "yes"
	}
	return h
}

func digitsHeader(d map[string]string) string {
	parts := make([]string, 0, len(d))
	for k, v := range d {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ";")
}
