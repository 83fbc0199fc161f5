package redisstore_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// blackHoleTimeout is the store's Timeout in the black-hole tests; every
// call must fail within it and a margin.
const (
	blackHoleTimeout = 300 * time.Millisecond
	blackHoleMargin  = 500 * time.Millisecond
)

// storeCalls are every method of the store, each as one call.
func storeCalls(t *testing.T, st *redisstore.Store, s *nihttp.Session) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"Save":   func(ctx context.Context) error { _, err := st.Save(ctx, s, time.Hour); return err },
		"Load":   func(ctx context.Context) error { _, err := st.Load(ctx, unknownCookie(t)); return err },
		"Delete": func(ctx context.Context) error { return st.Delete(ctx, s) },
		"Lock":   func(ctx context.Context) error { _, err := st.Lock(ctx, s.ID, time.Minute); return err },
		"EndSessions": func(ctx context.Context) error {
			_, err := st.EndSessions(ctx, s.Subject, "")
			return err
		},
		"FirstSeen": func(ctx context.Context) error { _, err := st.FirstSeen(ctx, "jti-1", time.Minute); return err },
		"Ping":      func(ctx context.Context) error { return st.Ping(ctx) },
	}
}

// TestBlackHole: against a Redis that accepts connections and never
// answers, every call fails with ErrStoreUnavailable within the store's
// Timeout (plus a margin), whatever the go-redis client's options:
// go-redis alone waits for its ReadTimeout (5 s by default, forever at -1)
// unless ContextTimeoutEnabled.
func TestBlackHole(t *testing.T) {
	addr := redistest.BlackHole(t)
	for name, tc := range map[string]struct {
		opts   *redis.Options
		direct bool // the client honours deadlines: called without a goroutine
	}{
		"default options":                    {&redis.Options{Addr: addr}, false},
		"no read timeout":                    {&redis.Options{Addr: addr, ReadTimeout: -1, WriteTimeout: -1}, false},
		"context timeout enabled":            {&redis.Options{Addr: addr, ContextTimeoutEnabled: true}, true},
		"context timeout, no read timeout":   {&redis.Options{Addr: addr, ContextTimeoutEnabled: true, ReadTimeout: -1}, true},
		"context timeout, deadlines skipped": {&redis.Options{Addr: addr, ContextTimeoutEnabled: true, ReadTimeout: -2}, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rdb := redis.NewClient(tc.opts)
			t.Cleanup(func() { _ = rdb.Close() })
			st := redisstore.New(rdb, redisstore.Options{Timeout: blackHoleTimeout})
			require.Equal(t, tc.direct, st.Direct())
			s := storetest.NewSession(t, "user-1", "sid-1")
			for op, call := range storeCalls(t, st, s) {
				start := time.Now()
				err := call(context.Background())
				took := time.Since(start)
				require.ErrorIs(t, err, nihttp.ErrStoreUnavailable, op)
				require.NotErrorIs(t, err, nihttp.ErrNoSession, op)
				require.Less(t, took, blackHoleTimeout+blackHoleMargin, op)
			}
		})
	}
}

// TestBlackHoleCluster: the same through a Cluster client, which the
// store calls directly when it has ContextTimeoutEnabled.
func TestBlackHoleCluster(t *testing.T) {
	addr := redistest.BlackHole(t)
	for _, contextTimeout := range []bool{false, true} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", contextTimeout), func(t *testing.T) {
			t.Parallel()
			rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: contextTimeout})
			t.Cleanup(func() { _ = rdb.Close() })
			st := redisstore.New(rdb, redisstore.Options{Timeout: blackHoleTimeout})
			require.Equal(t, contextTimeout, st.Direct())
			for op, call := range storeCalls(t, st, storetest.NewSession(t, "user-1", "sid-1")) {
				start := time.Now()
				err := call(context.Background())
				require.ErrorIs(t, err, nihttp.ErrStoreUnavailable, op)
				require.Less(t, time.Since(start), blackHoleTimeout+blackHoleMargin, op)
			}
		})
	}
}

// TestBlackHoleCallerDeadline: a caller's deadline shorter than Timeout
// ends the call too, and a negative Timeout leaves only the caller's.
func TestBlackHoleCallerDeadline(t *testing.T) {
	addr := redistest.BlackHole(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	for _, timeout := range []time.Duration{time.Hour, -1} {
		st := redisstore.New(rdb, redisstore.Options{Timeout: timeout})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		_, err := st.Load(ctx, unknownCookie(t))
		cancel()
		require.ErrorIs(t, err, nihttp.ErrStoreUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 100*time.Millisecond+blackHoleMargin)
	}
}

// TestBlackHoleBoundsGoroutines: calls the store gave up on keep waiting
// for Redis in the background (go-redis cannot be interrupted), but at most
// MaxStuck of them; past that, calls fail at once without starting more.
func TestBlackHoleBoundsGoroutines(t *testing.T) {
	addr := redistest.BlackHole(t)
	// No read timeout: an abandoned call waits until the client closes.
	rdb := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: -1, WriteTimeout: -1, PoolSize: 4 * redisstore.MaxStuck})
	st := redisstore.New(rdb, redisstore.Options{Timeout: 20 * time.Millisecond})
	before := runtime.NumGoroutine()

	fast := 0
	for range 2 * redisstore.MaxStuck {
		start := time.Now()
		_, err := st.Load(context.Background(), unknownCookie(t))
		require.ErrorIs(t, err, nihttp.ErrStoreUnavailable)
		if strings.Contains(err.Error(), "still waiting") {
			require.Less(t, time.Since(start), 20*time.Millisecond, "a call while MaxStuck are stuck fails at once")
			fast++
		}
	}
	// (go-redis ends the odd call on its own, a dial it gives up on.)
	require.LessOrEqual(t, st.Stuck(), int64(redisstore.MaxStuck))
	require.Greater(t, fast, redisstore.MaxStuck/2, "calls went on waiting past the bound")
	// Each stuck call holds its goroutine, and the black hole one per
	// connection; without the bound there would be twice as many.
	require.LessOrEqual(t, runtime.NumGoroutine()-before, 3*redisstore.MaxStuck)

	// Closing the client ends the stuck calls.
	require.NoError(t, rdb.Close())
	require.Eventually(t, func() bool { return st.Stuck() == 0 }, 5*time.Second, 10*time.Millisecond)
	_, err := st.Load(context.Background(), unknownCookie(t))
	require.ErrorIs(t, err, nihttp.ErrStoreUnavailable)
	require.NotContains(t, err.Error(), "still waiting")
}
