package redisstore_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// requireAllUnavailable calls every method of st and requires each to fail
// with an error wrapping nihttp.ErrStoreUnavailable (never "no session").
func requireAllUnavailable(t *testing.T, st *redisstore.Store, s *nihttp.Session) {
	t.Helper()
	ctx := context.Background()
	check := func(op string, err error) {
		t.Helper()
		require.ErrorIs(t, err, nihttp.ErrStoreUnavailable, op)
		require.NotErrorIs(t, err, nihttp.ErrNoSession, op)
		require.NotErrorIs(t, err, nihttp.ErrLocked, op)
		require.Regexp(t, "^redisstore: ", err.Error(), op)
	}
	_, err := st.Save(ctx, s, time.Hour)
	check("Save", err)
	got, err := st.Load(ctx, unknownCookie(t))
	check("Load", err)
	require.Nil(t, got)
	check("Delete", st.Delete(ctx, s))
	_, err = st.Save(ctx, s, 0) // deletes
	check("Save with no time left", err)
	unlock, err := st.Lock(ctx, s.ID, time.Minute)
	check("Lock", err)
	require.Nil(t, unlock)
	_, err = st.EndSessions(ctx, s.Subject, "")
	check("EndSessions", err)
	_, err = st.EndSessions(ctx, "", s.SID)
	check("EndSessions by sid", err)
	_, err = st.FirstSeen(ctx, "jti-1", time.Minute)
	check("FirstSeen", err)
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestRedisDown: with go-redis's default options a call to an unreachable
// Redis fails after about 1.7 s of dial retries; the cases run in parallel.
func TestRedisDown(t *testing.T) {
	t.Run("nothing listening", func(t *testing.T) {
		t.Parallel()
		rdb := newClient(t, closedAddr(t))
		requireAllUnavailable(t, redisstore.New(rdb, redisstore.Options{}), storetest.NewSession(t, "user-1", "sid-1"))
	})

	t.Run("stopped while in use", func(t *testing.T) {
		t.Parallel()
		srv := redistest.StartServer(t)
		rdb := newClient(t, srv.Addr)
		st := redisstore.New(rdb, redisstore.Options{})
		s := storetest.NewSession(t, "user-1", "sid-1")
		ctx := context.Background()
		_, err := st.Save(ctx, s, time.Hour)
		require.NoError(t, err)
		unlock, err := st.Lock(ctx, s.ID, time.Minute)
		require.NoError(t, err)

		srv.Stop()
		requireAllUnavailable(t, st, s)
		unlock() // returns although Redis is gone
	})

	t.Run("answers nothing", func(t *testing.T) {
		t.Parallel()
		// A server that accepts connections and never answers: only
		// timeouts end the calls.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { _ = c.Close() })
			}
		}()
		rdb := redis.NewClient(&redis.Options{Addr: l.Addr().String(), ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = rdb.Close() })
		st := redisstore.New(rdb, redisstore.Options{Timeout: 200 * time.Millisecond})
		requireAllUnavailable(t, st, storetest.NewSession(t, "user-1", "sid-1"))
	})
}
