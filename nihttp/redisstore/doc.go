// Package redisstore keeps nihttp sessions in Redis, so that many
// instances of an application share them: a user signs in on one instance
// and is signed in on every other, logout on one ends the session on all,
// and a session's refresh token is redeemed once however many instances
// see its access token expire at the same time.
//
// The session cookie carries only the session ID (Session.ID: at least 128
// random bits); the session itself is JSON in Redis with a time to live
// equal to its remaining life, so a copied cookie is dead once the user
// logs out, and a request in flight on another instance cannot save the
// ended session back. Loading a session is one GET.
//
// The store also implements nextidentity.ReplayCache (FirstSeen), so the
// instances can drop a workflow event or back-channel logout token that
// another instance already handled.
//
// # Keys
//
// With the default KeyPrefix "nihttp:":
//
//	nihttp:s:<session ID>    string: the session as JSON, TTL = its remaining life;
//	                         once ended, "ended" for ten minutes (see Store.Save)
//	nihttp:l:<session ID>    string: the refresh lock's random token, TTL = the lock's
//	nihttp:u:<subject>       set of session IDs of a user
//	nihttp:p:<sid>           set of session IDs of a provider session ("sid")
//	nihttp:replay:<id>       FirstSeen's marker (ReplayKeyPrefix)
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
// treating the user as signed out. A session that is missing, expired or
// cannot be decoded (written by an incompatible version, say) is
// nihttp.ErrNoSession.
//
// Each call (every method, whatever number of commands it sends) ends
// within Options.Timeout or the context's deadline, whichever comes first,
// whatever the client's options: go-redis applies a context's deadline to
// its socket reads only with redis.Options.ContextTimeoutEnabled, and
// otherwise waits its own ReadTimeout (or forever) on a Redis that accepts
// connections and never answers. So the store runs each call's commands in
// a goroutine and stops waiting at the deadline; a call it gave up on goes
// on in the background until go-redis's own timeouts end it. At most 64
// such calls are left waiting: past that, calls fail at once with
// nihttp.ErrStoreUnavailable, without starting more. Set
// ContextTimeoutEnabled (and a ReadTimeout) so that those calls also end
// at the deadline and free their connections. With go-redis's default
// options a call to a Redis that refuses connections fails after about
// 1.7 s of retries; lower MaxRetries and DialTimeout for a faster 503.
//
// Store.Ping (nihttp.Pinger) lets nihttp's Login answer 503 instead of
// sending a browser to the provider while Redis cannot save the session
// the callback would create.
package redisstore
