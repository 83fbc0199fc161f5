package nihttp_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// commandCounter counts the commands a go-redis client sends.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// startRedisApps starts n app instances, each with its own Client and its
// own Redis client, on one Redis.
func startRedisApps(t *testing.T, addr string, n int, opts ...appOption) (*provider, []*app, []*commandCounter) {
	t.Helper()
	counters := make([]*commandCounter, n)
	next := 0
	withStore := func(c *nihttp.Config) {
		rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
		t.Cleanup(func() { _ = rdb.Close() })
		counters[next] = &commandCounter{}
		rdb.AddHook(counters[next])
		next++
		c.Store = redisstore.New(rdb, redisstore.Options{})
	}
	p, apps := startApps(t, n, nil, append([]appOption{withStore}, opts...)...)
	return p, apps, counters
}

// TestRedisTwoInstances: sign in on A and use B; logout on B ends the
// session on A, even for a copy of the cookie.
func TestRedisTwoInstances(t *testing.T) {
	p, apps, _ := startRedisApps(t, redistest.Start(t), 2)
	a, b := apps[0], apps[1]
	br := newBrowser(t)
	br.signIn(p, a)
	resp, _ := br.get(a.url + "/private/x")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := resp.Header.Get("X-Session")

	// The same browser on instance B (cookies ignore ports).
	resp, body := br.get(b.url + "/private/x")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, id, resp.Header.Get("X-Session"))

	// The cookie carries the session ID and a secret: the ID (which the
	// application may log) is not the cookie value.
	for _, c := range br.cookies(a) {
		if strings.HasPrefix(c.Name, "__Host-"+nihttp.DefaultSessionCookieName) {
			require.NotEqual(t, id, c.Value)
			require.True(t, strings.HasPrefix(c.Value, id+"."))
			require.GreaterOrEqual(t, len(c.Value), len(id)+1+43)
		}
	}

	thief := newBrowser(t)
	br.copyCookies(a, thief)
	resp, _ = thief.get(a.url + "/private/x")
	require.Equal(t, http.StatusOK, resp.StatusCode, "the copy works while the session lives")

	require.Equal(t, http.StatusSeeOther, br.logout(b).StatusCode)
	resp, _ = thief.get(a.url + "/private/x")
	require.Equal(t, http.StatusFound, resp.StatusCode, "a copied cookie outlived logout")
	resp, _ = br.get(a.url + "/private/x")
	require.Equal(t, http.StatusFound, resp.StatusCode)
}

// TestRedisRefreshOnceAcrossInstances: 20 concurrent requests across two
// instances after the access token expired cause exactly one refresh.
func TestRedisRefreshOnceAcrossInstances(t *testing.T) {
	p, apps, _ := startRedisApps(t, redistest.Start(t), 2)
	br := newBrowser(t)
	br.signIn(p, apps[0])
	require.Equal(t, 1, p.Requests(nextidentitytest.EndpointToken))
	p.clock.Advance(2 * time.Hour)

	tokens := make([]string, 20)
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Go(func() {
			resp, _ := br.get(apps[i%2].url + "/private/x")
			if resp.StatusCode == http.StatusOK {
				tokens[i] = resp.Header.Get("X-Access-Token")
			}
		})
	}
	wg.Wait()
	require.Equal(t, 2, p.Requests(nextidentitytest.EndpointToken), "sign-in + exactly one refresh")
	for _, tok := range tokens {
		require.NotEmpty(t, tok)
		require.Equal(t, tokens[0], tok, "every request sees the one refreshed token")
	}
}

// TestRedisOneRoundTripPerRequest: a request whose session needs no
// refresh and no touch costs exactly one Redis command.
func TestRedisOneRoundTripPerRequest(t *testing.T) {
	p, apps, counters := startRedisApps(t, redistest.Start(t), 1)
	br := newBrowser(t)
	br.signIn(p, apps[0])
	// One request to warm the connection (go-redis greets a new connection
	// with HELLO and CLIENT SETINFO), then count.
	resp, _ := br.get(apps[0].url + "/private/x")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for i := range 10 {
		before := counters[0].n.Load()
		resp, _ := br.get(apps[0].url + "/private/x")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, int64(1), counters[0].n.Load()-before, "request %d", i)
	}
}

// TestRedisDownIsNotSignedOut: with Redis unreachable, RequireLogin
// answers 503 and never redirects to the provider.
func TestRedisDownIsNotSignedOut(t *testing.T) {
	srv := redistest.StartServer(t)
	p, apps, _ := startRedisApps(t, srv.Addr, 1)
	br := newBrowser(t)
	br.signIn(p, apps[0])
	authorizations := p.Requests(nextidentitytest.EndpointAuthorize)
	srv.Stop()

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		resp, body := br.do(method, apps[0].url+"/private/x", nil)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
		require.Empty(t, resp.Header.Get("Location"))
		require.Contains(t, body, "Sessions are unavailable")
	}
	resp := br.logout(apps[0])
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "logout cannot pretend to end a session it cannot reach")
	require.Equal(t, authorizations, p.Requests(nextidentitytest.EndpointAuthorize))
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestRedisUnreachableAtSignIn: /login answers 503 and sends no browser
// to the provider; a Redis lost between login and callback fails the
// callback with 503, and no session cookie is set.
func TestRedisUnreachableAtSignIn(t *testing.T) {
	p, apps, _ := startRedisApps(t, closedAddr(t), 1)
	br := newBrowser(t)
	resp, body := br.get(apps[0].url + "/login")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.Empty(t, resp.Header.Get("Location"))
	require.Zero(t, p.Requests(nextidentitytest.EndpointAuthorize))

	srv := redistest.StartServer(t)
	p, apps, _ = startRedisApps(t, srv.Addr, 1)
	authURL := br.startLogin(apps[0], "")
	srv.Stop()
	resp = br.finish(p, apps[0], authURL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	for _, c := range resp.Cookies() {
		require.False(t, strings.HasPrefix(c.Name, "__Host-"+nihttp.DefaultSessionCookieName) && c.MaxAge > 0)
	}
}

// TestRedisBackChannelLogoutOnTwoInstances: the user is signed out at the
// provider; its logout token reaches one instance and the user's sessions
// end on both.
func TestRedisBackChannelLogoutOnTwoInstances(t *testing.T) {
	addr := redistest.Start(t)
	withStore := func(c *nihttp.Config) {
		rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
		t.Cleanup(func() { _ = rdb.Close() })
		c.Store = redisstore.New(rdb, redisstore.Options{})
		c.BackChannelLogout = true
	}
	p, apps := startAppsWith(t, 2, nil, true, withStore)
	laptop, phone := newBrowser(t), newBrowser(t)
	laptop.signIn(p, apps[0])
	phone.signIn(p, apps[1])
	for _, b := range []*browser{laptop, phone} {
		for _, a := range apps {
			resp, _ := b.get(a.url + "/private/x")
			require.Equal(t, http.StatusOK, resp.StatusCode)
		}
	}

	require.NoError(t, p.EndSession(context.Background(), nextidentitytest.DefaultUserSubject))
	deliveries := p.LogoutDeliveries()
	require.NotEmpty(t, deliveries)
	for _, d := range deliveries {
		require.NoError(t, d.Err)
		require.Equal(t, http.StatusOK, d.StatusCode)
	}
	for _, b := range []*browser{laptop, phone} {
		for _, a := range apps {
			resp, _ := b.get(a.url + "/private/x")
			require.Equal(t, http.StatusFound, resp.StatusCode, "a session outlived back-channel logout")
		}
	}

	// The same token again is a replay (across instances too when their
	// Clients share a ReplayCache, such as the Redis store).
	w := postLogoutToken(apps[0].h, http.MethodPost, url.Values{"logout_token": {deliveries[0].LogoutToken}})
	require.Equal(t, http.StatusBadRequest, w.Code)
}
