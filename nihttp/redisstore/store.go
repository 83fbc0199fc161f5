package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// DefaultKeyPrefix is Options.KeyPrefix when it is empty.
const DefaultKeyPrefix = "nihttp:"

// DefaultTimeout is Options.Timeout when it is zero.
const DefaultTimeout = 3 * time.Second

// tombstone is what an ended session's key holds for tombstoneTTL, so that
// a request that loaded the session before it ended cannot save it back. It
// cannot be a session's JSON.
const tombstone = "ended"

// tombstoneTTL is how long an ended session's ID stays refused: longer
// than any request holds a session between loading and saving it.
const tombstoneTTL = 10 * time.Minute

// errEnded is returned by Save for a session that was ended.
var errEnded = fmt.Errorf("redisstore: the session was ended and is not saved again: %w", nihttp.ErrNoSession)

// saveScript stores the session ARGV[1] in KEYS[1] for ARGV[2] ms unless
// the key holds the tombstone ARGV[3]; it returns 1 when it stored it.
var saveScript = redis.NewScript(`
if redis.call('STRLEN', KEYS[1]) == string.len(ARGV[3]) and redis.call('GET', KEYS[1]) == ARGV[3] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// maxIDLen bounds the session IDs the store accepts; the handlers' IDs are
// 22 characters (128 bits, base64url).
const maxIDLen = 128

// Options configure a Store. The zero value works.
type Options struct {
	// KeyPrefix starts every key the store writes (see the package
	// documentation for the layout). Default DefaultKeyPrefix. Give each
	// application sharing a Redis its own prefix.
	KeyPrefix string
	// ReplayKeyPrefix starts the keys FirstSeen writes. Default KeyPrefix
	// followed by "replay:".
	ReplayKeyPrefix string
	// Timeout bounds each call to the store (a Lock's unlock included),
	// as does any deadline of the caller's context, whatever the client's
	// own timeouts and ContextTimeoutEnabled (see the package
	// documentation). Default DefaultTimeout; negative means no bound but
	// the context's.
	Timeout time.Duration
}

// Store is a nihttp.ServerStore and a nextidentity.ReplayCache backed by
// Redis. It is safe for concurrent use.
type Store struct {
	rdb                  redis.UniversalClient
	prefix, replayPrefix string
	timeout              time.Duration
	stuck                atomic.Int64 // calls left waiting for Redis (see do)
	direct               bool         // rdb honours deadlines: no goroutine per call (see do)
}

var (
	_ nihttp.ServerStore       = (*Store)(nil)
	_ nextidentity.ReplayCache = (*Store)(nil)
	_ nihttp.Pinger            = (*Store)(nil)
)

// New returns a Store keeping its data in rdb. The caller keeps ownership
// of rdb (and closes it).
func New(rdb redis.UniversalClient, opts Options) *Store {
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.ReplayKeyPrefix == "" {
		opts.ReplayKeyPrefix = opts.KeyPrefix + "replay:"
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Store{rdb: rdb, prefix: opts.KeyPrefix, replayPrefix: opts.ReplayKeyPrefix, timeout: opts.Timeout,
		direct: honoursDeadlines(rdb)}
}

// The keys of a session, of its refresh lock and of the index sets are
// named by one-way hashes (see seal.go): h is idHash(session ID), hsub and
// hsid are fieldHash of a subject and a sid. The previous version's keys
// (s:, l:, u:, p:) are left to expire.
func (s *Store) sessionKey(h string) string { return s.prefix + "sess:" + h }
func (s *Store) lockKey(h string) string    { return s.prefix + "lock:" + h }
func (s *Store) subjectKey(hsub [hashLen]byte) string {
	return s.prefix + "sub:" + b64.EncodeToString(hsub[:])
}
func (s *Store) sidKey(hsid [hashLen]byte) string {
	return s.prefix + "sid:" + b64.EncodeToString(hsid[:])
}

// bound applies Options.Timeout to ctx.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// unavailable wraps an error from Redis.
func unavailable(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w: %w", op, nihttp.ErrStoreUnavailable, err)
}

// validID reports whether id can be a session ID: 1 to maxIDLen base64url
// characters. Anything else (a cookie value is the client's to choose)
// never reaches Redis.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// errBadID is returned by Save and Lock for an ID validID refuses.
var errBadID = errors.New("redisstore: a session ID must be 1 to 128 base64url characters")

// ms rounds d up to whole milliseconds, at least one: Redis expiries are
// in milliseconds and a positive ttl must not become "no expiry" or an
// error.
func ms(d time.Duration) time.Duration {
	return max(time.Millisecond, (d + time.Millisecond - 1).Truncate(time.Millisecond))
}

// Save implements nihttp.SessionStore: the session is sealed under
// sess.StoreSecret (a new random one when it has none, set on sess) and
// kept for ttl, indexed by its Subject and SID. A ttl that is not positive
// deletes it. The returned cookie value is sess.ID and sess.StoreSecret.
//
// A session that was ended (Delete, EndSessions, or a Save with no time
// left) is not saved again for ten minutes: Save returns an error wrapping
// nihttp.ErrNoSession. So a request on another instance that loaded the
// session just before the user logged out cannot bring it back by saving
// it afterwards. A new sign-in gets a new session ID and is not affected.
func (s *Store) Save(ctx context.Context, sess *nihttp.Session, ttl time.Duration) (string, error) {
	if sess == nil || !validID(sess.ID) {
		return "", errBadID
	}
	if sess.StoreSecret == "" {
		sess.StoreSecret = newSecret()
	}
	secret, ok := decodeSecret(string(sess.StoreSecret))
	if !ok {
		return "", errBadSecret
	}
	value := joinCookie(sess.ID, sess.StoreSecret)
	if ttl <= 0 {
		return value, s.Delete(ctx, sess)
	}
	plain, err := encodeSession(sess)
	if err != nil {
		return "", fmt.Errorf("redisstore: encoding session: %w", err)
	}
	h := idHash(sess.ID)
	key := s.sessionKey(h)
	data := seal(key, secret, fieldHash(subHashDomain, sess.Subject), fieldHash(sidHashDomain, sess.SID), plain)
	ttl = ms(ttl)
	idx := s.indexKeys(sess)
	_, err = do(ctx, s, "saving session", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.save(ctx, key, data, ttl, idx, h)
	})
	if err != nil {
		return "", err
	}
	return value, nil
}

// save is Save's commands: the session data under key and member in the
// index sets idx in one pipeline, then a prune of an index set that has
// grown.
func (s *Store) save(ctx context.Context, key string, data []byte, ttl time.Duration, idx []string, member string) error {
	pipe := s.rdb.Pipeline()
	saved := saveScript.Eval(ctx, pipe, []string{key}, data, ttl.Milliseconds(), tombstone)
	adds := make([]*redis.Cmd, len(idx))
	for i, k := range idx {
		adds[i] = indexAdd.Eval(ctx, pipe, []string{k}, member, ttl.Milliseconds())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("saving session", err)
	}
	if n, _ := saved.Int64(); n != 1 {
		return errEnded
	}
	for i, c := range adds {
		// A new member joined a set that has grown: prune the set.
		if r, err := c.Int64Slice(); err == nil && len(r) == 2 && r[0] == 1 && r[1] > pruneAbove {
			if err := s.prune(ctx, idx[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// indexKeys are the index sets sess belongs to.
func (s *Store) indexKeys(sess *nihttp.Session) []string {
	var keys []string
	if sess.Subject != "" {
		keys = append(keys, s.subjectKey(fieldHash(subHashDomain, sess.Subject)))
	}
	if sess.SID != "" {
		keys = append(keys, s.sidKey(fieldHash(sidHashDomain, sess.SID)))
	}
	return keys
}

// Load implements nihttp.SessionStore with one GET, and opens the sealed
// value with the cookie's secret. A value that cannot be a cookie of this
// store (the previous version's, which carried the session ID alone,
// included) is nihttp.ErrNoSession without asking Redis; so is a stored
// value that does not open with the cookie's secret.
func (s *Store) Load(ctx context.Context, cookieValue string) (*nihttp.Session, error) {
	id, secret, encoded, ok := splitCookie(cookieValue)
	if !ok {
		return nil, nihttp.ErrNoSession
	}
	key := s.sessionKey(idHash(id))
	data, err := do(ctx, s, "loading session", func(ctx context.Context) ([]byte, error) {
		data, err := s.rdb.Get(ctx, key).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, nihttp.ErrNoSession
		}
		if err != nil {
			return nil, unavailable("loading session", err)
		}
		return data, nil
	})
	if err != nil {
		return nil, err
	}
	sess, err := openSession(key, id, secret, data)
	if err != nil {
		return nil, err
	}
	sess.StoreSecret = nihttp.StoreSecret(encoded)
	return sess, nil
}

// Delete implements nihttp.SessionStore: it removes the session and its
// index entries (it needs sess.ID, Subject and SID, not StoreSecret). The session's key keeps a small tombstone for ten minutes
// so that it cannot be saved again (see Save). Deleting a missing session
// is not an error.
func (s *Store) Delete(ctx context.Context, sess *nihttp.Session) error {
	if sess == nil || !validID(sess.ID) {
		return nil // nothing by that ID can exist
	}
	member := idHash(sess.ID)
	key, idx := s.sessionKey(member), s.indexKeys(sess)
	_, err := do(ctx, s, "deleting session", func(ctx context.Context) (struct{}, error) {
		pipe := s.rdb.Pipeline()
		pipe.Set(ctx, key, tombstone, tombstoneTTL)
		for _, k := range idx {
			pipe.SRem(ctx, k, member)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return struct{}{}, unavailable("deleting session", err)
		}
		return struct{}{}, nil
	})
	return err
}

// Ping implements nihttp.Pinger with a PING, so that Login sends no
// browser to the provider while Redis cannot save the session the
// callback would create. An error wraps nihttp.ErrStoreUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	_, err := do(ctx, s, "pinging Redis", func(ctx context.Context) (struct{}, error) {
		if err := s.rdb.Ping(ctx).Err(); err != nil {
			return struct{}{}, unavailable("pinging Redis", err)
		}
		return struct{}{}, nil
	})
	return err
}
