package gateway

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/media/dtmf"
)

// summary is the one line logged at the end of every call.
type summary struct {
	callID     string
	caller     string
	codec      string
	duration   time.Duration
	menu       ivr.Summary
	ended      string
	packetsIn  uint64
	packetsOut uint64
	rtp        media.Stats
	tr         *tracker // the journey; nil in tests of the summary alone

	mu      sync.Mutex
	sources map[dtmf.Source]int
}

func (s *summary) addDigit(ev dtmf.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sources == nil {
		s.sources = make(map[dtmf.Source]int)
	}
	s.sources[ev.Source]++
}

func (s *summary) log(log *slog.Logger) {
	s.mu.Lock()
	var src []string
	for k, n := range s.sources {
		src = append(src, k.String()+"="+strconv.Itoa(n))
	}
	s.mu.Unlock()
	log.Info("call summary",
		"duration", s.duration.Round(time.Millisecond).String(),
		"caller", s.caller,
		"codec", s.codec,
		"path", strings.Join(s.menu.Path, ">"),
		"keys", s.menu.Keys,
		"outcome", s.menu.Outcome,
		"ended", s.ended,
		"digit_sources", strings.Join(src, ","),
		"rtp_in", s.packetsIn,
		"rtp_out", s.packetsOut,
	)
}
