// Package redisstore keeps nihttp sessions in Redis, so that many
// instances of an application share them: a user signs in on one instance
// and is signed in on every other, logout on one ends the session on all,
// and a session's refresh token is redeemed once however many instances
// see its access token expire at the same time.
//
// Loading a session is one GET. Each session has a time to live equal to
// its remaining life, so a copied cookie is dead once the user logs out,
// and a request in flight on another instance cannot save the ended
// session back.
//
// The store also implements nextidentity.ReplayCache (FirstSeen), so the
// instances can drop a workflow event or back-channel logout token that
// another instance already handled.
//
// # What Redis holds
//
// Whoever reads Redis (a replica, a backup, MONITOR, a shared cache, a
// misconfigured ACL) must not be able to sign in as a user or use the
// user's tokens. So, as oauth2-proxy's Redis sessions do, the session
// cookie carries the session ID and a secret of the session's own,
// "<Session.ID>.<secret>" (the secret is 256 random bits, base64url, made
// by the first Save and kept in Session.StoreSecret), and Redis holds
// neither:
//
//   - a session's keys are named by a one-way hash of its ID (SHA-256),
//   - its value is the session sealed with AES-256-GCM under a key derived
//     from the secret (HKDF-SHA256's expand step), with the key's name as additional
//     data so that a value moved to another key does not open,
//   - the indexes by subject and by provider session ("sid") that
//     back-channel logout and EndSessions need are named by SHA-256 hashes
//     of the subject and the sid, and their members are the sessions'
//     hashed IDs, which open nothing and are not cookie values; the two
//     hashes are also in clear in the sealed value's header, for the
//     script that ends a session after checking it belongs to the index.
//
// A dump of Redis thus shows which sessions exist, when they expire, how
// many sessions a (hashed) user has, and who has one when the reader can
// guess a subject or sid and hash it; it shows no token, claim, email,
// subject, session ID or cookie value. The refresh lock's key is named by
// the hashed ID too and holds a random token.
//
// Session.ID is not a credential: it can reach logs (nihttp's own logs do
// not carry it) and opens nothing without the secret.
//
// # Sessions of the previous version
//
// The previous version kept each session as clear JSON under
// "<prefix>s:<ID>" and its cookie carried the ID alone. Such a cookie has
// no secret, so Load answers nihttp.ErrNoSession without asking Redis: the
// user signs in again (the sessions are ended, not migrated). The old
// keys (<prefix>s:*, l:*, u:* and p:*, which the current version never
// writes) expire with their TTL; delete them at once to take their clear
// tokens out of Redis sooner. Deploy the new version to every instance at
// once: an instance still running the old one does not accept the new
// cookies either.
//
// # Keys
//
// With the default KeyPrefix "nihttp:", where h(x) is a SHA-256 hash of x
// (base64url):
//
//	nihttp:sess:<h(session ID)>   string: the sealed session, TTL = its remaining life;
//	                              once ended, "ended" for ten minutes (see Store.Save)
//	nihttp:lock:<h(session ID)>   string: the refresh lock's random token, TTL = the lock's
//	nihttp:sub:<h(subject)>       set of h(session ID) of a user's sessions
//	nihttp:sid:<h(sid)>           set of h(session ID) of a provider session's
//	nihttp:replay:<id>            FirstSeen's marker (ReplayKeyPrefix)
//
// The two index sets expire no earlier than their longest-lived member.
// Members whose session has expired are pruned lazily: by EndSessions, and
// when a new session joins a set that has grown past a few members.
//
// # Cluster and Sentinel
//
// New takes a redis.UniversalClient: a *redis.Client (one server, or a
// Sentinel-managed primary through redis.NewFailoverClient), a
// *redis.ClusterClient, or whatever redis.NewUniversalClient returns. Every
// command and every Lua script the store sends touches exactly one key, so
// no operation can span two hash slots and the key layout needs no hash
// tags; the few pipelines it sends are split per node by go-redis. The
// store's tests run the conformance suite against one server, against a
// one-node Redis Cluster (which rejects any command or script whose keys
// span slots, as every Cluster does), and through redis.NewUniversalClient
// given a MasterName and only a Sentinel's address. Failover itself (a
// replica promoted while the store is in use) is go-redis's and Redis's
// business and is not tested here: the store keeps no connection state of
// its own. Replication to replicas is asynchronous, so a session saved just
// before a failover can be lost (the user signs in again).
//
// # Errors
//
// Every failure to reach Redis, or an error answer from it, wraps
// nihttp.ErrStoreUnavailable, on which nihttp answers 503 instead of
// treating the user as signed out. A session that is missing, expired, or
// whose stored value does not open with the cookie's secret (or a cookie
// of the previous version) is nihttp.ErrNoSession.
//
// Each call (every method, whatever number of commands it sends) ends
// within Options.Timeout or the context's deadline, whichever comes first,
// whatever the client's options. go-redis applies a context's deadline to
// its dials, socket reads and writes only with
// redis.Options.ContextTimeoutEnabled; otherwise it waits its own
// ReadTimeout (or forever) on a Redis that accepts connections and never
// answers. So with a client that has ContextTimeoutEnabled (a *redis.Client
// or *redis.ClusterClient, socket deadlines not disabled with -2) the
// store calls go-redis directly; with any other it runs each call's
// commands in a goroutine and stops waiting at the deadline, and a call it
// gave up on goes on in the background until go-redis's own timeouts end
// it. At most 64 such calls are left waiting: past that, calls fail at
// once with nihttp.ErrStoreUnavailable, without starting more. Set
// ContextTimeoutEnabled: calls then cost no goroutine hand-off (which on a
// busy machine can cost more than the round trip), and a call given up on
// frees its connection at once. With go-redis's default options a call to
// a Redis that refuses connections fails after about 1.7 s of retries;
// lower MaxRetries and DialTimeout for a faster 503.
//
// Store.Ping (nihttp.Pinger) lets nihttp's Login answer 503 instead of
// sending a browser to the provider while Redis cannot save the session
// the callback would create.
package redisstore
