package gateway

import (
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/ivr"
)

func TestTrackable(t *testing.T) {
	tests := []struct {
		user string
		want bool
	}{
		{"5550123", true},
		{"+4930123456", true},
		{"", false},
		{"anonymous", false},
		{"Anonymous", false},
		{"unknown", false},
		{"restricted", false},
		{"private", false},
		{"+", false},
		{"555+0123", false},
		{"alice", false},
		{"555 0123", false},
		{"5550123\r\nX: y", false},
		{"123456789012345678901234567890123", false}, // 33 digits
	}
	for _, tt := range tests {
		if got := trackable(tt.user); got != tt.want {
			t.Errorf("trackable(%q) = %v, want %v", tt.user, got, tt.want)
		}
	}
}

func TestPersonOpen(t *testing.T) {
	// open 09:00-17:00 every day, UTC
	var week [7][]ivr.Span
	for d := range week {
		week[d] = []ivr.Span{{From: 9 * 60, To: 17 * 60}}
	}
	office := &ivr.Hours{Schedule: &ivr.Schedule{Name: "office", Location: time.UTC, Week: week}}
	noon := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	night := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	cfg := func(menuHours, queueHours *ivr.Hours) *ivr.Config {
		c := &ivr.Config{Start: "main", Person: ivr.Person{Queue: "support"},
			Menus: map[string]*ivr.Menu{"main": {ID: "main", Hours: menuHours}}}
		if queueHours != nil {
			c.Queues = map[string]*ivr.Hours{"support": queueHours}
		}
		return c
	}
	tests := []struct {
		name string
		cfg  *ivr.Config
		at   time.Time
		want bool
	}{
		{"no hours", cfg(nil, nil), night, true},
		{"queue open", cfg(nil, office), noon, true},
		{"queue closed", cfg(nil, office), night, false},
		{"start menu closed", cfg(office, nil), night, false},
		{"both open", cfg(office, office), noon, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := personOpen(tt.cfg, tt.at); got != tt.want {
				t.Errorf("personOpen(%s, %v) = %v, want %v", tt.name, tt.at.Format("15:04"), got, tt.want)
			}
		})
	}
}
