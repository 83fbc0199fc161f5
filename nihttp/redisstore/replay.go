package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// maxReplayIDLen is the longest id FirstSeen puts in a key as it is;
// longer ones are hashed.
const maxReplayIDLen = 200

var errReplayArgs = errors.New("redisstore: FirstSeen needs a non-empty id and a positive ttl")

// FirstSeen implements nextidentity.ReplayCache across every instance
// sharing the Redis: SET NX PX under Options.ReplayKeyPrefix. Of two
// concurrent calls with the same id, on any instances, exactly one reports
// true. Errors from Redis wrap nihttp.ErrStoreUnavailable.
func (s *Store) FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if id == "" || ttl <= 0 {
		return false, errReplayArgs
	}
	key := s.replayPrefix + id
	if len(id) > maxReplayIDLen {
		sum := sha256.Sum256([]byte(id))
		key = s.replayPrefix + "#" + hex.EncodeToString(sum[:])
	}
	return do(ctx, s, "recording replay id", func(ctx context.Context) (bool, error) {
		first, err := s.rdb.SetNX(ctx, key, 1, ms(ttl)).Result()
		if err != nil {
			return false, unavailable("recording replay id", err)
		}
		return first, nil
	})
}
