package routing

import "context"

// Subscribe returns a channel that receives a signal whenever, on any
// gateway, an agent becomes available or a caller leaves a queue, so waiting
// callers retry at once instead of polling. Signals coalesce (buffer of one)
// and may be lost while Redis is unreachable: keep a slow fallback poll, as
// WaitForAgent does. The channel is closed when ctx ends.
//
// All subscribers of one Store share a single pub/sub connection.
func (s *Store) Subscribe(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.hubMu.Lock()
	s.subs[ch] = struct{}{}
	if s.hubStop == nil {
		hctx, stop := context.WithCancel(context.Background())
		s.hubStop, s.hubDone = stop, make(chan struct{})
		go s.listen(hctx, s.hubDone)
	}
	s.hubMu.Unlock()
	context.AfterFunc(ctx, func() {
		s.hubMu.Lock()
		delete(s.subs, ch)
		s.hubMu.Unlock()
		close(ch)
	})
	return ch
}

// listen relays the pool's events channel to every subscriber. go-redis
// re-subscribes by itself after a reconnect.
func (s *Store) listen(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	ps := s.rdb.Subscribe(ctx, s.prefix+"events")
	defer ps.Close()
	msgs := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-msgs:
			if !ok {
				return
			}
			s.broadcast()
		}
	}
}

func (s *Store) broadcast() {
	s.hubMu.Lock()
	defer s.hubMu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending
		}
	}
}
