package routing

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// TestLibraryLogs: go-redis's lines come out as JSON records of the
// gateway's handler, not plain text, and a burst is cut to one line per
// interval that counts the rest.
func TestLibraryLogs(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	l := newLibLogger(slog.New(slog.NewJSONHandler(&buf, nil)), 10*time.Second, func() time.Time { return now })
	ctx := context.Background()
	for i := range 5 { // a burst: one line
		l.Printf(ctx, "redis: dial failed: attempt %d\n", i)
	}
	now = now.Add(10 * time.Second)
	l.Printf(ctx, "redis: dial failed: attempt %d\n", 5) // the next interval: one more, counting 4

	var recs []map[string]any
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q is not a JSON record: %v", sc.Text(), err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2: %v", len(recs), recs)
	}
	for i, want := range []map[string]any{
		{"level": "WARN", "msg": "redis client", "component": "redis", "detail": "redis: dial failed: attempt 0", "suppressed": 0.0},
		{"detail": "redis: dial failed: attempt 5", "suppressed": 4.0},
	} {
		for k, v := range want {
			if recs[i][k] != v {
				t.Errorf("record %d [%q] = %v, want %v", i, k, recs[i][k], v)
			}
		}
	}
}
