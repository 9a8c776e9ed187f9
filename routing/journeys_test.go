package routing

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/journey"
)

// TestJourneyStream: journeys land in the pool's stream, newest first,
// capped near MaxLen; a full queue drops instead of blocking the call.
func TestJourneyStream(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		s := newStore(t, b, Options{})
		js := s.Journeys(50)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { js.Run(ctx, slog.New(slog.DiscardHandler)); close(done) }()
		const n = 300
		for i := range n {
			r := journey.NewRecorder(fmt.Sprintf("call-%03d", i), "alice", time.Unix(0, 0), nil)
			r.Add(journey.Step{Kind: journey.StepKey, Key: "0", Method: "rfc4733"})
			js.Record(r.Finish("remote_bye", "caller", nil))
			if i%64 == 63 { // let the writer keep up: this test is about the cap, not the queue
				waitWritten(t, js, uint64(i+1))
			}
		}
		waitWritten(t, js, n)
		cancel()
		<-done
		got, err := js.ReadJourneys(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		// MAXLEN ~ trims whole nodes: at least 50 kept, far fewer than 300.
		if len(got) < 50 || len(got) >= n {
			t.Errorf("stream holds %d journeys, want >= 50 and < %d (capped)", len(got), n)
		}
		if len(got) > 0 && (got[0].CallID != "call-299" || got[0].Steps[0].Method != "rfc4733") {
			t.Errorf("newest = %+v, want call-299 with its key step", got[0])
		}
	})
}

func TestJourneyStreamNeverBlocks(t *testing.T) {
	s := newStore(t, newMini(t), Options{})
	js := s.Journeys(10) // Run is never started: the queue fills
	j := journey.NewRecorder("c", "", time.Now(), nil).Finish("remote_bye", "caller", nil)
	for range 1000 {
		js.Record(j)
	}
	if _, dropped, _ := js.Stats(); dropped != 1000-256 {
		t.Errorf("dropped = %d, want %d", dropped, 1000-256)
	}
}

func waitWritten(t *testing.T, js *JourneyStream, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, _, f := js.Stats()
		if w+f >= n {
			if f > 0 {
				t.Fatalf("%d writes failed", f)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("written %d of %d after 10 s", w, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
