package gateway

import (
	"slices"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
	"github.com/ivrgw/ivrgw/prompts"
)

func TestWhisperSummary(t *testing.T) {
	set, err := prompts.Default()
	if err != nil {
		t.Fatal(err)
	}
	f := NewFallback(FallbackConfig{Prompts: set})
	menu := &ivr.Config{DefaultLanguage: "en"}
	tests := []struct {
		name   string
		pop    screenPop
		waited time.Duration
		want   []string
	}{
		{"person key in main", screenPop{Path: "main", Language: "en", Reason: ivr.ReasonCallerRequest, Repeat: 1}, 0,
			[]string{"whisper_caller", "topic_main"}},
		{"spanish repeat caller who struggled in billing", screenPop{Path: "main>billing", Language: "es", Reason: ivr.ReasonMashing, Repeat: 3}, 3*time.Minute + 10*time.Second,
			[]string{"whisper_caller", "topic_billing", "lang_es", "whisper_repeat", "whisper_struggled", "whisper_waited", "num_3", "minutes"}},
		{"a menu without a topic prompt is not named", screenPop{Path: "main>vip", Language: "en"}, 0, nil},
		{"callback", screenPop{Path: "main>tech", Language: "en", Callback: true}, 25 * time.Minute,
			[]string{"callback_agent", "whisper_caller", "topic_tech", "whisper_waited", "num_20", "minutes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lang, got := f.summary(menu, tt.pop, tt.waited)
			if lang != "en" || !slices.Equal(got, tt.want) {
				t.Errorf("summary = %s %v, want en %v", lang, got, tt.want)
			}
		})
	}
}
