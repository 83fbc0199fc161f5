package nextidentity

import (
	"context"
	"sync"
	"time"

	"github.com/oidc-kit/nextidentity/internal/keys"
)

// Defaults of the access token cache, used when the Config fields are zero.
const (
	DefaultAccessTokenCacheSize  = 10000
	DefaultIntrospectionCacheTTL = 30 * time.Second
)

// sweepEvery is the least time between two scans for expired entries of a
// full cache.
const sweepEvery = time.Second

// tokenCache holds accepted access tokens, keyed by the whole token string.
// It is bounded: when full, expired entries go first, then arbitrary ones.
// A nil *tokenCache caches nothing.
type tokenCache struct {
	max int
	now func() time.Time

	mu        sync.RWMutex
	m         map[string]cacheEntry
	lastSweep time.Time
}

type cacheEntry struct {
	at    *AccessToken
	until time.Time // the entry is dropped at this time
	key   *cacheKey // the JWKS key that verified a JWT; nil for introspection
}

// cacheKey names the JWKS key that verified a cached JWT, so a hit can
// check that the provider still publishes it.
type cacheKey struct {
	key      *keys.Key
	kid, alg string
}

func newTokenCache(size int, now func() time.Time) *tokenCache {
	switch {
	case size < 0:
		return nil
	case size == 0:
		size = DefaultAccessTokenCacheSize
	}
	return &tokenCache{max: size, now: now, m: make(map[string]cacheEntry)}
}

// get returns a copy of the cached token for raw when its entry is still
// live and, for a JWT, its key is still published. It never fetches more
// than the key lookup of a verification would.
func (tc *tokenCache) get(ctx context.Context, c *Client, raw string) (*AccessToken, bool) {
	if tc == nil {
		return nil, false
	}
	tc.mu.RLock()
	e, ok := tc.m[raw]
	tc.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if !tc.now().Before(e.until) || (e.key != nil && !c.keyPublished(ctx, e.key)) {
		tc.drop(raw)
		return nil, false
	}
	at := *e.at
	return &at, true
}

// keyPublished reports whether k is still among the keys the provider
// publishes for its kid and alg. A JWKS refresh builds new keys, so after a
// refresh each cached JWT is verified once more against the new set.
func (c *Client) keyPublished(ctx context.Context, k *cacheKey) bool {
	p := c.loaded()
	if p == nil || p.keys == nil {
		return false
	}
	cands, err := p.keys.Candidates(ctx, k.kid, k.alg)
	if err != nil {
		return false
	}
	for _, cand := range cands {
		if cand == k.key {
			return true
		}
	}
	return false
}

// put caches at for raw until until.
func (tc *tokenCache) put(raw string, at *AccessToken, until time.Time, key *cacheKey) {
	if tc == nil {
		return
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if _, ok := tc.m[raw]; !ok && len(tc.m) >= tc.max {
		now := tc.now()
		if now.Sub(tc.lastSweep) >= sweepEvery {
			tc.lastSweep = now
			for k, e := range tc.m {
				if !e.until.After(now) {
					delete(tc.m, k)
				}
			}
		}
		for k := range tc.m {
			if len(tc.m) < tc.max {
				break
			}
			delete(tc.m, k)
		}
	}
	cp := *at // the caller may change at
	tc.m[raw] = cacheEntry{at: &cp, until: until, key: key}
}

// drop removes raw's entry, if any.
func (tc *tokenCache) drop(raw string) {
	if tc == nil || raw == "" {
		return
	}
	tc.mu.Lock()
	delete(tc.m, raw)
	tc.mu.Unlock()
}

// len is the number of entries, for tests.
func (tc *tokenCache) len() int {
	if tc == nil {
		return 0
	}
	tc.mu.RLock()
	defer tc.mu.RUnlock()
	return len(tc.m)
}
