package routing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Epoch returns the store's epoch: a random marker written once into an
// empty store and kept for as long as the data is. A different epoch than
// last time (or one this call had to create) means the store lost its data
// since, a restart without persistence or a flush, and each gateway must
// write back what it holds: bindings, skills, claims.
func (s *Store) Epoch(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	key := s.prefix + "epoch"
	v, err := s.rdb.Get(ctx, key).Result()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, redis.Nil) {
		return "", s.fail(ctx, "epoch", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	fresh := hex.EncodeToString(b[:])
	// SETNX: two gateways noticing at once agree on one epoch.
	if _, err := s.rdb.SetNX(ctx, key, fresh, 0).Result(); err != nil {
		return "", s.fail(ctx, "epoch", err)
	}
	if v, err = s.rdb.Get(ctx, key).Result(); err != nil {
		return "", s.fail(ctx, "epoch", fmt.Errorf("read back: %w", err))
	}
	return v, nil
}
