package registrar

import "time"

// evictOne makes room in a full table of failure states: it forgets the
// entry that matters least, an unlocked one before a locked one; among
// unlocked ones the oldest, among locked ones the one whose lock ends first.
// times gives an entry's lock end and its age mark.
func evictOne[K comparable, V any](m map[K]V, now time.Time, times func(V) (lockedUntil, since time.Time)) {
	var victim K
	var best V
	found := false
	for k, st := range m {
		better := !found
		if !better {
			bu, bs := times(best)
			su, ss := times(st)
			bl, sl := now.Before(bu), now.Before(su)
			switch {
			case bl && !sl:
				better = true
			case bl == sl && !sl:
				better = ss.Before(bs)
			case bl == sl && sl:
				better = su.Before(bu)
			}
		}
		if better {
			victim, best, found = k, st, true
		}
	}
	if found {
		delete(m, victim)
	}
}
