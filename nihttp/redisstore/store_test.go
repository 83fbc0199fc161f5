package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

var prefixes atomic.Int64

// uniquePrefix gives each store of a test binary its own keys, so cases can
// share one Redis.
func uniquePrefix() string {
	return fmt.Sprintf("t%d:", prefixes.Add(1))
}

// unknownCookie is a well-formed cookie value of a session that does not
// exist, so that Load asks Redis.
func unknownCookie(t testing.TB) string {
	return storetest.NewID(t) + "." + strings.Repeat("A", 43)
}

func newClient(t testing.TB, addr string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// newStore returns a store with its own prefix on a fresh Redis, and the
// client under it.
func newStore(t testing.TB) (*redisstore.Store, *redis.Client, string) {
	rdb := newClient(t, redistest.Start(t))
	prefix := uniquePrefix()
	return redisstore.New(rdb, redisstore.Options{KeyPrefix: prefix}), rdb, prefix
}

func TestConformance(t *testing.T) {
	rdb := newClient(t, redistest.Start(t))
	storetest.Run(t, func(*testing.T) nihttp.ServerStore {
		return redisstore.New(rdb, redisstore.Options{KeyPrefix: uniquePrefix()})
	})
}

func TestClusterConformance(t *testing.T) {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{redistest.StartCluster(t)}})
	t.Cleanup(func() { _ = rdb.Close() })
	storetest.Run(t, func(*testing.T) nihttp.ServerStore {
		return redisstore.New(rdb, redisstore.Options{KeyPrefix: uniquePrefix()})
	})
}

func TestSentinelConformance(t *testing.T) {
	primary := redistest.Start(t)
	// Through redis.NewUniversalClient, which makes a failover client when
	// given a MasterName.
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		MasterName: "mymaster",
		Addrs:      []string{redistest.StartSentinel(t, primary, "mymaster")},
	})
	t.Cleanup(func() { _ = rdb.Close() })
	t.Run("suite", func(t *testing.T) { // returns when its parallel cases are done
		storetest.Run(t, func(*testing.T) nihttp.ServerStore {
			return redisstore.New(rdb, redisstore.Options{KeyPrefix: uniquePrefix()})
		})
	})
	// The client was given only the Sentinel's address: the sessions went
	// to the primary the Sentinel named.
	n, err := newClient(t, primary).DBSize(context.Background()).Result()
	require.NoError(t, err)
	require.Positive(t, n)
}

func TestUniversalClientConformance(t *testing.T) {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{redistest.Start(t)}})
	t.Cleanup(func() { _ = rdb.Close() })
	storetest.Run(t, func(*testing.T) nihttp.ServerStore {
		return redisstore.New(rdb, redisstore.Options{KeyPrefix: uniquePrefix()})
	})
}

func TestKeysAndTTLs(t *testing.T) {
	ctx := context.Background()
	st, rdb, p := newStore(t)
	a := storetest.NewSession(t, "user-1", "sid-1")
	b := storetest.NewSession(t, "user-1", "sid-2")

	pttl := func(key string) time.Duration {
		t.Helper()
		d, err := rdb.PTTL(ctx, key).Result()
		require.NoError(t, err)
		return d
	}
	requireNear := func(want, got time.Duration) {
		t.Helper()
		require.LessOrEqual(t, got, want)
		require.Greater(t, got, want-time.Minute, "want about %v, got %v", want, got)
	}

	_, err := st.Save(ctx, a, 90*time.Minute)
	require.NoError(t, err)
	requireNear(90*time.Minute, pttl(redisstore.SessionKey(p, a.ID)))
	requireNear(90*time.Minute, pttl(redisstore.SubjectKey(p, "user-1")))
	requireNear(90*time.Minute, pttl(redisstore.SIDKey(p, "sid-1")))
	require.Equal(t, time.Duration(-2), pttl(redisstore.LockKey(p, a.ID)), "no lock until Lock")

	// A shorter-lived member does not shorten the index...
	_, err = st.Save(ctx, b, 10*time.Minute)
	require.NoError(t, err)
	requireNear(10*time.Minute, pttl(redisstore.SessionKey(p, b.ID)))
	requireNear(90*time.Minute, pttl(redisstore.SubjectKey(p, "user-1")))
	requireNear(10*time.Minute, pttl(redisstore.SIDKey(p, "sid-2")))
	// ...and a longer-lived one lengthens it.
	_, err = st.Save(ctx, b, 3*time.Hour)
	require.NoError(t, err)
	requireNear(3*time.Hour, pttl(redisstore.SessionKey(p, b.ID)))
	requireNear(3*time.Hour, pttl(redisstore.SubjectKey(p, "user-1")))
	requireNear(3*time.Hour, pttl(redisstore.SIDKey(p, "sid-2")))
	// Replacing a session sets its TTL anew, shorter included.
	_, err = st.Save(ctx, a, 5*time.Minute)
	require.NoError(t, err)
	requireNear(5*time.Minute, pttl(redisstore.SessionKey(p, a.ID)))

	members, err := rdb.SMembers(ctx, redisstore.SubjectKey(p, "user-1")).Result()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{redisstore.Member(a.ID), redisstore.Member(b.ID)}, members)

	// A sub-millisecond TTL still expires (it is not "no expiry").
	_, err = st.Save(ctx, a, time.Microsecond)
	require.NoError(t, err)
	require.LessOrEqual(t, pttl(redisstore.SessionKey(p, a.ID)), time.Millisecond)

	unlock, err := st.Lock(ctx, b.ID, 30*time.Second)
	require.NoError(t, err)
	requireNear(30*time.Second, pttl(redisstore.LockKey(p, b.ID)))
	unlock()
	require.Equal(t, time.Duration(-2), pttl(redisstore.LockKey(p, b.ID)), "unlock deletes the lock")

	// Delete removes the session and its index entries; the key keeps a
	// tombstone for ten minutes.
	require.NoError(t, st.Delete(ctx, b))
	requireNear(10*time.Minute, pttl(redisstore.SessionKey(p, b.ID)))
	isMember, err := rdb.SIsMember(ctx, redisstore.SIDKey(p, "sid-2"), redisstore.Member(b.ID)).Result()
	require.NoError(t, err)
	require.False(t, isMember)
}

func TestDefaultPrefixAndPrefixesSeparateApps(t *testing.T) {
	ctx := context.Background()
	rdb := newClient(t, redistest.Start(t))
	def := redisstore.New(rdb, redisstore.Options{})
	other := redisstore.New(rdb, redisstore.Options{KeyPrefix: "app2:"})

	s := storetest.NewSession(t, "user-1", "sid-1")
	_, err := def.Save(ctx, s, time.Hour)
	require.NoError(t, err)
	n, err := rdb.Exists(ctx, redisstore.SessionKey("nihttp:", s.ID), redisstore.SubjectKey("nihttp:", "user-1"), redisstore.SIDKey("nihttp:", "sid-1")).Result()
	require.NoError(t, err)
	require.Equal(t, int64(3), n)

	_, err = other.Load(ctx, redisstore.CookieOf(s))
	require.ErrorIs(t, err, nihttp.ErrNoSession)
	ended, err := other.EndSessions(ctx, "user-1", "")
	require.NoError(t, err)
	require.Zero(t, ended)
	_, err = def.Load(ctx, redisstore.CookieOf(s))
	require.NoError(t, err)

	first, err := def.FirstSeen(ctx, "jti-1", time.Minute)
	require.NoError(t, err)
	require.True(t, first)
	n, err = rdb.Exists(ctx, "nihttp:replay:jti-1").Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	first, err = other.FirstSeen(ctx, "jti-1", time.Minute)
	require.NoError(t, err)
	require.True(t, first, "another prefix is another application")
}

func TestEndSessionsSkipsStaleIndexEntries(t *testing.T) {
	ctx := context.Background()
	st, rdb, p := newStore(t)
	s := storetest.NewSession(t, "user-1", "sid-1")
	_, err := st.Save(ctx, s, time.Hour)
	require.NoError(t, err)
	// The same session saved with another subject and sid leaves stale
	// entries in the first ones' indexes.
	moved := *s
	moved.Subject, moved.SID = "user-2", "sid-2"
	_, err = st.Save(ctx, &moved, time.Hour)
	require.NoError(t, err)

	for _, tc := range []struct{ subject, sid string }{{"user-1", ""}, {"", "sid-1"}, {"user-1", "sid-1"}} {
		n, err := st.EndSessions(ctx, tc.subject, tc.sid)
		require.NoError(t, err)
		require.Zero(t, n, "%+v", tc)
	}
	_, err = st.Load(ctx, redisstore.CookieOf(s))
	require.NoError(t, err, "a stale index entry does not end the session")
	for _, key := range []string{redisstore.SubjectKey(p, "user-1"), redisstore.SIDKey(p, "sid-1")} {
		n, err := rdb.SCard(ctx, key).Result()
		require.NoError(t, err)
		require.Zero(t, n, "stale entries are pruned from %s", key)
	}

	// By sid, with a subject that does not match: kept, and kept indexed.
	n, err := st.EndSessions(ctx, "user-1", "sid-2")
	require.NoError(t, err)
	require.Zero(t, n)
	isMember, err := rdb.SIsMember(ctx, redisstore.SIDKey(p, "sid-2"), redisstore.Member(s.ID)).Result()
	require.NoError(t, err)
	require.True(t, isMember)

	// Ending by sid also removes the session from its subject's index.
	n, err = st.EndSessions(ctx, "", "sid-2")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	card, err := rdb.SCard(ctx, redisstore.SubjectKey(p, "user-2")).Result()
	require.NoError(t, err)
	require.Zero(t, card)
}

func TestIndexPrunedWhenItGrows(t *testing.T) {
	ctx := context.Background()
	st, rdb, p := newStore(t)
	var sessions []*nihttp.Session
	for range 17 {
		s := storetest.NewSession(t, "user-1", "")
		_, err := st.Save(ctx, s, time.Hour)
		require.NoError(t, err)
		sessions = append(sessions, s)
	}
	// Ten sessions expire (their keys vanish; the index keeps them).
	for _, s := range sessions[:10] {
		require.NoError(t, rdb.Del(ctx, redisstore.SessionKey(p, s.ID)).Err())
	}
	card, err := rdb.SCard(ctx, redisstore.SubjectKey(p, "user-1")).Result()
	require.NoError(t, err)
	require.Equal(t, int64(17), card)

	// Replacing a live session does not prune; a new session does.
	_, err = st.Save(ctx, sessions[16], time.Hour)
	require.NoError(t, err)
	card, err = rdb.SCard(ctx, redisstore.SubjectKey(p, "user-1")).Result()
	require.NoError(t, err)
	require.Equal(t, int64(17), card)
	_, err = st.Save(ctx, storetest.NewSession(t, "user-1", ""), time.Hour)
	require.NoError(t, err)
	card, err = rdb.SCard(ctx, redisstore.SubjectKey(p, "user-1")).Result()
	require.NoError(t, err)
	require.Equal(t, int64(8), card)

	n, err := st.EndSessions(ctx, "user-1", "")
	require.NoError(t, err)
	require.Equal(t, 8, n)
}

func TestBadIDs(t *testing.T) {
	ctx := context.Background()
	st, _, _ := newStore(t)
	for _, id := range []string{"", "has space", "a/b", "{tag}", string(make([]byte, 129))} {
		s := storetest.NewSession(t, "user-1", "")
		s.ID = id
		_, err := st.Save(ctx, s, time.Hour)
		require.ErrorContains(t, err, "redisstore: a session ID must be", "%q", id)
		_, err = st.Lock(ctx, id, time.Second)
		require.ErrorContains(t, err, "redisstore: a session ID must be", "%q", id)
		require.NoError(t, st.Delete(ctx, s))
	}
	_, err := st.Save(ctx, nil, time.Hour)
	require.Error(t, err)
}

// TestEndedSessionIsNotSavedBack: a request that loaded a session before
// it ended (logout on another instance, EndSessions) cannot revive it by
// saving it afterwards.
func TestEndedSessionIsNotSavedBack(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	prefix := uniquePrefix()
	a := redisstore.New(newClient(t, addr), redisstore.Options{KeyPrefix: prefix}) // instance A
	b := redisstore.New(newClient(t, addr), redisstore.Options{KeyPrefix: prefix}) // instance B

	for _, tc := range []struct {
		name string
		end  func(s *nihttp.Session) error
	}{
		{"Delete", func(s *nihttp.Session) error { return b.Delete(ctx, s) }},
		{"Save with no time left", func(s *nihttp.Session) error { _, err := b.Save(ctx, s, 0); return err }},
		{"EndSessions by subject", func(s *nihttp.Session) error { _, err := b.EndSessions(ctx, s.Subject, ""); return err }},
		{"EndSessions by sid", func(s *nihttp.Session) error { _, err := b.EndSessions(ctx, "", s.SID); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.NewSession(t, "user-"+tc.name, "sid-"+tc.name)
			_, err := a.Save(ctx, s, time.Hour)
			require.NoError(t, err)
			inFlight, err := a.Load(ctx, redisstore.CookieOf(s)) // a request on A is under way
			require.NoError(t, err)

			require.NoError(t, tc.end(s)) // the user logs out on B

			inFlight.LastSeen = inFlight.LastSeen.Add(time.Minute)
			_, err = a.Save(ctx, inFlight, time.Hour)
			require.ErrorIs(t, err, nihttp.ErrNoSession)
			require.ErrorContains(t, err, "redisstore: the session was ended")
			_, err = b.Load(ctx, redisstore.CookieOf(s))
			require.ErrorIs(t, err, nihttp.ErrNoSession)
			n, err := b.EndSessions(ctx, s.Subject, "")
			require.NoError(t, err)
			require.Zero(t, n)

			// Signing in again makes a new session, which works.
			again := storetest.NewSession(t, s.Subject, s.SID)
			_, err = a.Save(ctx, again, time.Hour)
			require.NoError(t, err)
			_, err = b.Load(ctx, redisstore.CookieOf(again))
			require.NoError(t, err)
		})
	}
}
