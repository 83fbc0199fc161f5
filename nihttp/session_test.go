package nihttp_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// stores are the stores every lifecycle test runs on; the Redis store runs
// the same tests in two_instances_test.go.
var stores = []struct {
	name string
	opt  appOption
}{
	{"cookie", func(*nihttp.Config) {}},
	{"memory", func(c *nihttp.Config) { c.Store = nihttp.NewMemoryStore() }},
}

func TestSignInStartsSession(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			p, apps := startApps(t, 1, nil, st.opt)
			a, b := apps[0], newBrowser(t)
			resp := b.finish(p, a, b.startLogin(a, "/private/orders?id=1"),
				nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.Equal(t, "/private/orders?id=1", resp.Header.Get("Location"))

			resp, body := b.get(a.url + "/private/orders?id=1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "hello "+nextidentitytest.DefaultUserEmail, body)
			require.Equal(t, nextidentitytest.DefaultUserSubject, resp.Header.Get("X-Subject"))
			require.GreaterOrEqual(t, len(resp.Header.Get("X-Session")), 22, "session id under 128 bits")

			for _, c := range b.cookies(a) {
				require.True(t, strings.HasPrefix(c.Name, "__Host-"), "cookie %q has no __Host- prefix", c.Name)
			}
		})
	}
}

func TestRequireLoginSignedOut(t *testing.T) {
	_, apps := startApps(t, 1, nil)
	a, b := apps[0], newBrowser(t)
	tests := []struct {
		method   string
		status   int
		location string
	}{
		{http.MethodGet, http.StatusFound, "/login?return_to=" + url.QueryEscape("/private/a?b=c")},
		{http.MethodHead, http.StatusFound, "/login?return_to=" + url.QueryEscape("/private/a?b=c")},
		{http.MethodPost, http.StatusUnauthorized, ""},
		{http.MethodDelete, http.StatusUnauthorized, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			resp, _ := b.do(tc.method, a.url+"/private/a?b=c", nil)
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, tc.location, resp.Header.Get("Location"))
		})
	}
}

func TestSessionTimeouts(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			p, apps := startApps(t, 1, nil, st.opt, func(c *nihttp.Config) {
				c.IdleTimeout = time.Hour
				c.SessionLifetime = 3 * time.Hour
			})
			a, b := apps[0], newBrowser(t)
			b.signIn(p, a)
			signedIn := func() bool {
				resp, _ := b.get(a.url + "/private/x")
				return resp.StatusCode == http.StatusOK
			}
			// Activity every 50 minutes keeps the session past the idle
			// timeout, until the absolute lifetime ends it.
			for range 3 {
				p.clock.Advance(50 * time.Minute)
				require.True(t, signedIn())
			}
			p.clock.Advance(35 * time.Minute) // 3h05 after sign-in
			require.False(t, signedIn(), "session outlived SessionLifetime")

			b.signIn(p, a)
			p.clock.Advance(time.Hour + time.Second)
			require.False(t, signedIn(), "session outlived IdleTimeout")
		})
	}
}

func TestRefreshAfterExpiry(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			p, apps := startApps(t, 1, nil, st.opt)
			a, b := apps[0], newBrowser(t)
			b.signIn(p, a)
			resp, _ := b.get(a.url + "/private/x")
			before := resp.Header.Get("X-Access-Token")
			require.Zero(t, p.Requests(nextidentitytest.EndpointToken)-1, "one token request for the sign-in")

			p.clock.Advance(nextidentitytest.AccessTokenLifetime - 10*time.Second)
			resp, _ = b.get(a.url + "/private/x")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			after := resp.Header.Get("X-Access-Token")
			require.NotEqual(t, before, after, "an access token in its last seconds was not refreshed")
			require.Equal(t, 2, p.Requests(nextidentitytest.EndpointToken))

			// The refreshed session is what later requests get.
			resp, _ = b.get(a.url + "/private/x")
			require.Equal(t, after, resp.Header.Get("X-Access-Token"))
			require.Equal(t, 2, p.Requests(nextidentitytest.EndpointToken))
		})
	}
}

func TestConcurrentRequestsRefreshOnce(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			p, apps := startApps(t, 1, nil, st.opt)
			a, b := apps[0], newBrowser(t)
			b.signIn(p, a)
			p.clock.Advance(2 * time.Hour)
			tokens := make([]string, 20)
			var wg sync.WaitGroup
			for i := range tokens {
				wg.Go(func() {
					resp, _ := b.get(a.url + "/private/x")
					if resp.StatusCode == http.StatusOK {
						tokens[i] = resp.Header.Get("X-Access-Token")
					}
				})
			}
			wg.Wait()
			require.Equal(t, 2, p.Requests(nextidentitytest.EndpointToken), "sign-in + exactly one refresh")
			for _, tok := range tokens {
				require.Equal(t, tokens[0], tok, "every request sees the one refreshed token")
			}
		})
	}
}

func TestRefreshFailures(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		signedIn bool
	}{
		{"invalid_grant ends the session", http.StatusBadRequest, `{"error":"invalid_grant"}`, false},
		{"provider down keeps the old tokens", http.StatusServiceUnavailable, "down", true},
		{"provider 500 keeps the old tokens", http.StatusInternalServerError, `{"error":"server_error"}`, true},
	}
	for _, st := range stores {
		for _, tc := range tests {
			t.Run(st.name+"/"+tc.name, func(t *testing.T) {
				p, apps := startApps(t, 1, nil, st.opt)
				a, b := apps[0], newBrowser(t)
				b.signIn(p, a)
				resp, _ := b.get(a.url + "/private/x")
				old := resp.Header.Get("X-Access-Token")
				p.clock.Advance(2 * time.Hour)
				p.FailNext(nextidentitytest.EndpointToken, 1, tc.status, tc.body)
				resp, _ = b.get(a.url + "/private/x")
				if !tc.signedIn {
					require.Equal(t, http.StatusFound, resp.StatusCode)
					require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/login?"))
					resp, _ = b.get(a.url + "/private/x")
					require.Equal(t, http.StatusFound, resp.StatusCode, "the ended session came back")
					return
				}
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.Equal(t, old, resp.Header.Get("X-Access-Token"))
				// The next request, with the provider back, refreshes.
				resp, _ = b.get(a.url + "/private/x")
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.NotEqual(t, old, resp.Header.Get("X-Access-Token"))
			})
		}
	}
}

func TestRefreshNow(t *testing.T) {
	p, apps := startApps(t, 1, nil)
	a, b := apps[0], newBrowser(t)
	b.signIn(p, a)
	resp, _ := b.get(a.url + "/private/x")
	old := resp.Header.Get("X-Access-Token")
	resp, body := b.do(http.MethodPost, a.url+"/refresh", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEqual(t, old, body)
	resp, _ = b.get(a.url + "/private/x")
	require.Equal(t, body, resp.Header.Get("X-Access-Token"))
}
