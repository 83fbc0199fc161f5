package nihttp_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// An app started with nextidentity.Config.LazyDiscovery while the provider
// is down answers 503 on /login, the callback and its readiness probe, and
// signs users in once the provider is up, without a restart.

// lazyApp is an app whose client was created with LazyDiscovery for a
// provider at providerAddr, where nothing need listen yet.
func lazyApp(t *testing.T, providerAddr string, clk *clock, opts ...appOption) *app {
	t.Helper()
	return lazyAppWith(t, providerAddr, clk, nil, opts...)
}

// lazyAppWith is lazyApp with edit applied to the client's Config.
func lazyAppWith(t *testing.T, providerAddr string, clk *clock, edit func(*nextidentity.Config), opts ...appOption) *app {
	t.Helper()
	a := &app{}
	a.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.routes().ServeHTTP(w, r)
	}))
	a.ts.StartTLS()
	t.Cleanup(a.ts.Close)
	a.url = a.ts.URL
	ccfg := nextidentity.Config{
		Issuer:        "http://" + providerAddr,
		ClientID:      nextidentitytest.DefaultClientID,
		ClientSecret:  nextidentitytest.DefaultClientSecret,
		RedirectURL:   a.url + "/callback",
		Now:           clk.Now,
		LazyDiscovery: true,
	}
	if edit != nil {
		edit(&ccfg)
	}
	client, err := nextidentity.New(t.Context(), ccfg)
	require.NoError(t, err, "New makes no request")
	t.Cleanup(func() { _ = client.Close() })
	cfg := nihttp.Config{Client: client, Keys: [][]byte{newKey(t)}, Now: clk.Now, Store: nihttp.NewMemoryStore()}
	for _, o := range opts {
		o(&cfg)
	}
	a.h, err = nihttp.New(cfg)
	require.NoError(t, err)
	a.client = client
	return a
}

// providerAt starts a fake provider on addr that knows a's callback.
func providerAt(t *testing.T, addr string, clk *clock, a *app) *provider {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := nextidentitytest.NewServer(nextidentitytest.Options{
		Clients: []nextidentitytest.Client{{
			ID: nextidentitytest.DefaultClientID, Secret: nextidentitytest.DefaultClientSecret,
			RedirectURIs: []string{a.url + "/callback"},
		}},
		Now:      clk.Now,
		Listener: ln,
	})
	t.Cleanup(srv.Close)
	return &provider{Server: srv, clock: clk}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func readyz(t *testing.T, a *app) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.h.ReadyHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

func TestLazyProviderDownThenUp(t *testing.T) {
	addr, clk := freeAddr(t), newClock()
	a := lazyApp(t, addr, clk)
	b := newBrowser(t)

	resp, body := b.get(a.url + "/login")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, body, "sign-in service is unavailable")
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.True(t, secs >= 1 && secs <= 30, "Retry-After %d", secs)
	for _, c := range b.cookies(a) {
		require.NotContains(t, c.Name, "loop", "a refused login does not count towards the loop guard")
	}

	// The callback too, before it spends the login cookie.
	resp, _ = b.get(a.url + "/callback?code=c&state=s")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	err = a.h.Ready(t.Context())
	require.ErrorIs(t, err, nextidentity.ErrProviderUnavailable)
	require.NotErrorIs(t, err, nihttp.ErrStoreUnavailable)
	code, text := readyz(t, a)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "provider unavailable\n", text)

	// The provider comes up where the issuer says.
	p := providerAt(t, addr, clk, a)
	srv := p.Server

	clk.Advance(nextidentity.MaxDiscoveryBackoff) // past the backoff
	code, text = readyz(t, a)
	require.Equal(t, http.StatusOK, code, text)
	require.NoError(t, a.h.Ready(t.Context()))

	b.signIn(p, a)
	resp, body = b.get(a.url + "/private/page")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "hello "+nextidentitytest.DefaultUserEmail, body)
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointDiscovery))
}

// TestLazyProviderAnswers503: a provider that is up but answers 503 is
// unavailable too, and found again once it recovers.
func TestLazyProviderAnswers503(t *testing.T) {
	clk := newClock()
	srv := nextidentitytest.NewServer(nextidentitytest.Options{Now: clk.Now})
	t.Cleanup(srv.Close)
	a := lazyApp(t, srv.URL[len("http://"):], clk)
	srv.FailNext(nextidentitytest.EndpointDiscovery, 1, http.StatusServiceUnavailable, "<h1>maintenance</h1>")

	b := newBrowser(t)
	resp, _ := b.get(a.url + "/login")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	resp, _ = b.get(a.url + "/login")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "in the backoff")
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointDiscovery))

	clk.Advance(time.Second)
	resp, _ = b.get(a.url + "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, 2, srv.Requests(nextidentitytest.EndpointDiscovery))
}

func TestStatusCodeProviderUnavailable(t *testing.T) {
	err := &nextidentity.ProviderUnavailableError{Err: &nextidentity.Error{Code: "server_error", StatusCode: 503}}
	require.Equal(t, http.StatusServiceUnavailable, nihttp.StatusCode(err), "not 502: the provider error is only the cause")
	require.Contains(t, nihttp.UserMessage(err), "sign-in service is unavailable")
	require.Contains(t, nihttp.UserMessage(nihttp.ErrStoreUnavailable), "Sessions are unavailable")
}

// TestReadyStore: Ready and ReadyHandler check a Redis store, which fails
// while Redis is down.
func TestReadyStore(t *testing.T) {
	rs := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	_, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.Store = redisstore.New(rdb, redisstore.Options{}) })
	a := apps[0]
	require.NoError(t, a.h.Ready(t.Context()))
	code, text := readyz(t, a)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ready\n", text)

	rs.Stop()
	err := a.h.Ready(t.Context())
	require.ErrorIs(t, err, nihttp.ErrStoreUnavailable)
	require.NotErrorIs(t, err, nextidentity.ErrProviderUnavailable)
	code, text = readyz(t, a)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "session store unavailable\n", text)
}

// pingStore is a store with a Ping method.
type pingStore struct {
	*nihttp.MemoryStore
	err error
}

func (s pingStore) Ping(context.Context) error { return s.err }

func TestReadyUsesPing(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{{"up", nil}, {"down", net.ErrClosed}} {
		t.Run(tc.name, func(t *testing.T) {
			_, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.Store = pingStore{nihttp.NewMemoryStore(), tc.err} })
			err := apps[0].h.Ready(t.Context())
			if tc.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, nihttp.ErrStoreUnavailable)
			require.ErrorIs(t, err, tc.err)
		})
	}
}

// TestLazyBackChannelLogout: a logout token that cannot be checked because
// the provider is unavailable gets 503 (the provider retries), not 400.
func TestLazyBackChannelLogout(t *testing.T) {
	addr, clk := freeAddr(t), newClock()
	a := lazyApp(t, addr, clk, func(c *nihttp.Config) { c.BackChannelLogout = true })
	w := postLogoutToken(a.h, http.MethodPost, url.Values{"logout_token": {"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln"}})
	require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), "temporarily_unavailable")

	p := providerAt(t, addr, clk, a)
	clk.Advance(nextidentity.MaxDiscoveryBackoff)
	w = postLogoutToken(a.h, http.MethodPost, url.Values{"logout_token": {logoutToken(t, p, nil)}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}
