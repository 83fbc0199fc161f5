package redisstore

import "github.com/oidc-kit/nextidentity/nihttp"

// MaxStuck is maxStuck, for the tests of the bound on abandoned calls.
const MaxStuck = maxStuck

// Stuck is how many calls the store gave up on are still running.
func (s *Store) Stuck() int64 { return s.stuck.Load() }

// SessionKey, LockKey, SubjectKey and SIDKey name the keys of session id,
// of its refresh lock, and of the index sets of a subject and a sid, for
// KeyPrefix prefix. Member is session id's member in an index set.
func SessionKey(prefix, id string) string { return (&Store{prefix: prefix}).sessionKey(idHash(id)) }
func LockKey(prefix, id string) string    { return (&Store{prefix: prefix}).lockKey(idHash(id)) }
func SubjectKey(prefix, sub string) string {
	return (&Store{prefix: prefix}).subjectKey(fieldHash(subHashDomain, sub))
}
func SIDKey(prefix, sid string) string {
	return (&Store{prefix: prefix}).sidKey(fieldHash(sidHashDomain, sid))
}
func Member(id string) string { return idHash(id) }

// CookieOf is the cookie value of a session Save or Load returned.
func CookieOf(s *nihttp.Session) string { return joinCookie(s.ID, s.StoreSecret) }

// Direct reports whether the store calls its client on the caller's
// goroutine (the client honours deadlines).
func (s *Store) Direct() bool { return s.direct }
