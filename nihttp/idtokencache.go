package nihttp

import (
	"crypto/sha256"
	"slices"
	"sync"

	"github.com/oidc-kit/nextidentity"
)

// idTokenCacheSize bounds the cache of decoded ID tokens: at most this many
// entries of a few KB each (the claims).
const idTokenCacheSize = 1024

// idTokens remembers the ID tokens Session.UnmarshalBinary decoded, keyed
// by the SHA-256 of their binary form (the alg and the claims exactly as
// they verified). A session's encoding changes at every activity write
// (LastSeen), but its ID token only at sign-in and refresh, so the claims'
// JSON, most of the cost of decoding a session, is decoded once per token
// rather than once per encoding: for the cookie store when the cookie
// changed, and for redisstore on every load. An entry is the decode of
// exactly the bytes that name it, so the cache changes no result; entries
// hold copies and lookups return copies.
var idTokens idTokenCache

type idTokenCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*nextidentity.IDToken
}

// decode is IDToken.UnmarshalBinary(b), from the cache when b was decoded
// before.
func (c *idTokenCache) decode(b []byte) (*nextidentity.IDToken, error) {
	k := sha256.Sum256(b)
	c.mu.Lock()
	t, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return cloneIDToken(t), nil
	}
	t = new(nextidentity.IDToken)
	if err := t.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	cp := cloneIDToken(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]*nextidentity.IDToken)
	}
	makeRoom(c.m, k, idTokenCacheSize)
	c.m[k] = cp
	return t, nil
}

// cloneIDToken copies t so that changing the copy (its fields, its
// audience) never changes t. The raw claims are shared: nothing writes to
// them.
func cloneIDToken(t *nextidentity.IDToken) *nextidentity.IDToken {
	cp := *t
	cp.Audience = slices.Clone(t.Audience)
	return &cp
}

// makeRoom deletes an arbitrary entry (Go's map order) of m when it holds
// max entries and k is not one of them, so that adding k keeps m bounded.
func makeRoom[V any](m map[[sha256.Size]byte]V, k [sha256.Size]byte, max int) {
	if _, ok := m[k]; ok || len(m) < max {
		return
	}
	for old := range m {
		delete(m, old)
		return
	}
}
