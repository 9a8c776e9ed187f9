package gateway

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/journey"
)

// Whisper: before the bridge the agent alone hears a short summary of the
// caller, built from prompt clips of the menu's default language (the
// agents' language):
//
//	callback_agent                  "Callback. Calling the customer now." (callbacks)
//	whisper_caller, topic_<menu>    "Caller from" "Billing."
//	lang_<caller's language>        "Speaks Spanish."
//	whisper_repeat                  "Repeat caller."
//	whisper_struggled               "Had trouble with the menu."
//	whisper_waited, num_N, minutes  "Waited" "three" "minutes" (N up to 20)
//
// Each part is said only when it applies and its clips exist: an operator
// names a menu for agents by adding topic_<menu id> to the prompts. The
// agent skips the rest with any key (RFC 4733 or SIP INFO); that key is not
// passed to the caller.

// struggled are the reasons that say the caller had trouble with the menu.
var struggled = map[string]bool{
	ivr.ReasonMaxTries: true, ivr.ReasonMashing: true, ivr.ReasonSameInvalid: true,
	ivr.ReasonRepeats: true, ivr.ReasonMenuTime: true,
}

// summary names the whisper's clips for pop (the screen pop of the INVITE).
func (f *Fallback) summary(menu *ivr.Config, pop screenPop, waited time.Duration) (lang string, names []string) {
	if f.cfg.Prompts == nil {
		return "", nil
	}
	lang = f.cfg.Prompts.DefaultLanguage()
	if menu != nil && menu.DefaultLanguage != "" {
		lang = menu.DefaultLanguage
	}
	has := func(name string) bool { return f.cfg.Prompts.Has(lang, name) }
	if pop.Callback {
		names = append(names, "callback_agent")
	}
	if last := lastMenu(pop.Path); last != "" && has("topic_"+last) {
		names = append(names, "whisper_caller", "topic_"+last)
	}
	if pop.Language != "" && pop.Language != lang && has("lang_"+pop.Language) {
		names = append(names, "lang_"+pop.Language)
	}
	if pop.Repeat > 1 {
		names = append(names, "whisper_repeat")
	}
	if struggled[pop.Reason] {
		names = append(names, "whisper_struggled")
	}
	if mins := int(waited / time.Minute); mins >= 1 {
		names = append(names, "whisper_waited", numberPrompt(mins), "minutes")
	}
	kept := names[:0]
	for _, n := range names {
		if has(n) {
			kept = append(kept, n)
		}
	}
	return lang, kept
}

// lastMenu is the menu the caller was in: the last of "main>billing".
func lastMenu(path string) string { return path[strings.LastIndexByte(path, '>')+1:] }

// whisper plays the summary to the agent on the dialed leg, paced, and
// returns when it is over, the agent pressed a key, or either side hung up.
func (f *Fallback) whisper(ctx context.Context, note func(journey.Step), al *dialedLeg, lang string, names []string, log *slog.Logger) {
	if len(names) == 0 || f.cfg.Pacer == nil {
		return
	}
	clips := f.clips(lang, names)
	f.cfg.Pacer.Add(al.stream)
	defer f.cfg.Pacer.Remove(al.stream)
	pb := al.stream.Play(clips...)
	defer al.stream.StopPlayback()
	started := time.Now()
	how := "heard"
	select {
	case <-pb.Done():
	case ev := <-al.stream.Events():
		how = "skipped by " + string(ev.Digit)
	case ev := <-al.out.Digits():
		how = "skipped by " + string(ev.Digit)
	case <-al.out.Done():
		how = "agent hung up"
	case <-ctx.Done():
		how = "caller hung up"
	}
	if note != nil {
		note(journey.Step{Kind: journey.StepWhisper, Prompt: strings.Join(names, " "), Reason: how})
	}
	log.Info("whisper to agent", "clips", len(clips), "outcome", how, "ms", time.Since(started).Milliseconds())
}
