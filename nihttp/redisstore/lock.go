package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// unlockScript deletes the lock KEYS[1] only if it still holds this
// holder's token ARGV[1], so a holder whose lock expired cannot release
// the next holder's.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lock implements nihttp.SessionStore across every instance sharing the
// Redis: SET NX PX with a random token. It returns nihttp.ErrLocked at
// once while another caller holds the lock. unlock releases the lock if it
// still holds this caller's token (best effort: if Redis cannot be
// reached, the lock expires after ttl).
func (s *Store) Lock(ctx context.Context, id string, ttl time.Duration) (func(), error) {
	if !validID(id) {
		return nil, errBadID
	}
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	token := base64.RawURLEncoding.EncodeToString(b)
	key := s.lockKey(idHash(id))
	ok, err := do(ctx, s, "taking refresh lock", func(ctx context.Context) (bool, error) {
		ok, err := s.rdb.SetNX(ctx, key, token, ms(ttl)).Result()
		if err != nil {
			return false, unavailable("taking refresh lock", err)
		}
		return ok, nil
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nihttp.ErrLocked
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_, _ = do(context.WithoutCancel(ctx), s, "releasing refresh lock", func(ctx context.Context) (any, error) {
				return unlockScript.Run(ctx, s.rdb, []string{key}, token).Result()
			})
		})
	}, nil
}
