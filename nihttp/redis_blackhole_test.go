package nihttp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// TestRedisBlackHole: a Redis that accepts connections and never answers,
// reached through a client with go-redis's default options (which ignore
// context deadlines): RequireLogin answers 503 within the store's Timeout
// and a margin, and /login answers 503 instead of sending the browser to
// the provider for a session the callback could not save.
func TestRedisBlackHole(t *testing.T) {
	const timeout = 300 * time.Millisecond
	hole := redistest.BlackHole(t)
	p, apps := startApps(t, 1, nil, func(c *nihttp.Config) {
		rdb := redis.NewClient(&redis.Options{Addr: hole})
		t.Cleanup(func() { _ = rdb.Close() })
		c.Store = redisstore.New(rdb, redisstore.Options{Timeout: timeout})
	})
	a := apps[0]

	// A session cookie as the store writes it (on a Redis that works).
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	value, err := redisstore.New(rdb, redisstore.Options{}).Save(context.Background(), storetest.NewSession(t, "user-1", "sid-1"), time.Hour)
	require.NoError(t, err)
	br := newBrowser(t)
	br.plant(a, &http.Cookie{Name: sessionCookie, Value: value, Path: "/", Secure: true})

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		start := time.Now()
		resp, body := br.do(method, a.url+"/private/x", nil)
		require.Less(t, time.Since(start), timeout+500*time.Millisecond, method)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
		require.Empty(t, resp.Header.Get("Location"))
	}

	start := time.Now()
	resp, body := br.get(a.url + "/login")
	require.Less(t, time.Since(start), timeout+500*time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.Empty(t, resp.Header.Get("Location"))
	for _, c := range resp.Cookies() {
		require.False(t, strings.HasPrefix(c.Name, loginPrefix) && c.MaxAge >= 0, "a sign-in was started: %s", c.Name)
	}
	require.Zero(t, p.Requests(nextidentitytest.EndpointAuthorize))
}
