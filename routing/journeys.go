package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/ivrgw/ivrgw/journey"
)

// JourneyStream appends each finished call's journey to a Redis stream
// capped near MaxLen entries (XADD MAXLEN ~), so that every gateway of a
// pool writes to one place and the stream never grows without end. A call
// never waits for Redis: Record queues the journey and Run writes it; when
// the queue is full (Redis slow or down) the journey is dropped and
// counted, and the JSON-lines file still has it.
type JourneyStream struct {
	s      *Store
	key    string
	maxLen int64
	q      chan *journey.Journey

	written atomic.Uint64
	dropped atomic.Uint64
	failed  atomic.Uint64
}

// Journeys returns the stream sink on the pool's key "journeys" (inside the
// pool's hash tag), capped near maxLen entries.
func (s *Store) Journeys(maxLen int64) *JourneyStream {
	if maxLen <= 0 {
		maxLen = 10000
	}
	return &JourneyStream{s: s, key: s.prefix + "journeys", maxLen: maxLen, q: make(chan *journey.Journey, 256)}
}

// Key is the stream's Redis key.
func (js *JourneyStream) Key() string { return js.key }

// Record implements journey.Sink without blocking.
func (js *JourneyStream) Record(j *journey.Journey) {
	select {
	case js.q <- j:
	default:
		js.dropped.Add(1)
	}
}

// Run writes queued journeys until ctx ends, then what is still queued
// (each bounded by the store's OpTimeout).
func (js *JourneyStream) Run(ctx context.Context, log *slog.Logger) {
	for {
		select {
		case j := <-js.q:
			js.write(context.WithoutCancel(ctx), j, log)
		case <-ctx.Done():
			for {
				select {
				case j := <-js.q:
					js.write(context.WithoutCancel(ctx), j, log)
				default:
					return
				}
			}
		}
	}
}

func (js *JourneyStream) write(ctx context.Context, j *journey.Journey, log *slog.Logger) {
	b, err := json.Marshal(j)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, js.s.opts.OpTimeout)
	defer cancel()
	err = js.s.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: js.key, MaxLen: js.maxLen, Approx: true,
		Values: []any{"call_id", j.CallID, "journey", b},
	}).Err()
	if err != nil {
		if js.failed.Add(1) == 1 {
			log.Warn("journey not written to redis", "call_id", j.CallID, "err", js.s.fail(ctx, "xadd", err))
		}
		return
	}
	js.written.Add(1)
}

// Stats are the sink's counters: written, dropped (queue full), failed.
func (js *JourneyStream) Stats() (written, dropped, failed uint64) {
	return js.written.Load(), js.dropped.Load(), js.failed.Load()
}

// ReadJourneys returns the last n journeys of the stream, newest first.
func (js *JourneyStream) ReadJourneys(ctx context.Context, n int64) ([]journey.Journey, error) {
	ctx, cancel := context.WithTimeout(ctx, js.s.opts.OpTimeout)
	defer cancel()
	msgs, err := js.s.rdb.XRevRangeN(ctx, js.key, "+", "-", n).Result()
	if err != nil {
		return nil, js.s.fail(ctx, "xrevrange", err)
	}
	out := make([]journey.Journey, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["journey"].(string)
		var j journey.Journey
		if err := json.Unmarshal([]byte(raw), &j); err != nil {
			return nil, fmt.Errorf("journey %s: %w", m.ID, err)
		}
		out = append(out, j)
	}
	return out, nil
}
