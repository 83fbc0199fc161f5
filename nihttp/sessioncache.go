package nihttp

import (
	"crypto/sha256"
	"hash"
	"sync"
	"time"
)

// sessionCacheSize bounds the cookie store's cache of decoded sessions: at
// most this many entries of a few KB each (a session with its claims).
const sessionCacheSize = 1024

// sessionCache remembers the sessions the cookie store decoded, keyed by
// the SHA-256 of the exact sealed cookie value, so that the requests of a
// signed-in user (whose cookie changes at most once a minute, when its
// activity is recorded) open and decode it once instead of on every
// request. Measured, the decoding (the ID token's claims, JSON) is most of
// a load; see docs/performance.md.
//
// An entry is added only after its value opened with a key and decoded: a
// client cannot plant one, and a value that hits is one that opened, byte
// for byte. Each hit checks the seal's own expiry again; the handlers
// check the session's expiry and idle timeout on every load as before.
// Entries hold copies and hits return copies, so no caller shares a
// session.
type sessionCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]cachedSession
}

type cachedSession struct {
	s       *Session
	expires time.Time // the seal's expiry
}

// get returns a copy of the session cached for value, if any and if its
// seal has not expired at now.
func (c *sessionCache) get(value string, now time.Time) *Session {
	k := cacheKey(value)
	c.mu.Lock()
	e, ok := c.m[k]
	if ok && !now.Before(e.expires) {
		delete(c.m, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return cloneSession(e.s)
}

// put caches a copy of s for value, whose seal expires at expires. When the
// cache is full an arbitrary entry (Go's map order) makes room.
func (c *sessionCache) put(value string, s *Session, expires time.Time) {
	k := cacheKey(value)
	cp := cloneSession(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]cachedSession)
	}
	makeRoom(c.m, k, sessionCacheSize)
	c.m[k] = cachedSession{s: cp, expires: expires}
}

// hashers are pooled SHA-256 states with a buffer to feed them the cookie
// value (a string) through, so that looking a value up allocates nothing.
var hashers = sync.Pool{New: func() any { return &hasher{h: sha256.New()} }}

type hasher struct {
	h   hash.Hash
	buf [512]byte
}

// cacheKey is the SHA-256 of value.
func cacheKey(value string) (k [sha256.Size]byte) {
	hs := hashers.Get().(*hasher)
	defer hashers.Put(hs)
	hs.h.Reset()
	for len(value) > 0 {
		n := copy(hs.buf[:], value)
		hs.h.Write(hs.buf[:n])
		value = value[n:]
	}
	hs.h.Sum(hs.buf[:0])
	copy(k[:], hs.buf[:sha256.Size])
	return k
}

// cloneSession copies s deeply enough that changing the copy (its fields,
// its Token's, its IDToken's, the audience) never changes s. The IDToken's
// raw claims are shared: nothing ever writes to them.
func cloneSession(s *Session) *Session {
	cp := *s
	if s.Token != nil {
		t := *s.Token
		if t.IDToken != nil {
			t.IDToken = cloneIDToken(t.IDToken)
		}
		cp.Token = &t
	}
	return &cp
}
