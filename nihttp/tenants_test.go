package nihttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

// sharedSubject is the user's "sub" at both tenants' providers: two
// tenants can issue the same one for different people.
const sharedSubject = "5f0c8a52-0d1e-4c43-9e51-2b8f0c7a9d13"

// tenantApps starts two tenants, "a" and "b", under path prefixes of one
// TLS server, each with its own fake provider and Client, sharing keys and
// store (nil: the cookie store).
func tenantApps(t *testing.T, store nihttp.SessionStore) (ps map[string]*provider, apps map[string]*app) {
	t.Helper()
	var handler http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	key := newKey(t)
	users := []nextidentitytest.User{{Subject: sharedSubject, Email: nextidentitytest.DefaultUserEmail, Password: nextidentitytest.DefaultUserPassword}}
	ps, apps = map[string]*provider{}, map[string]*app{}
	var tenants []nihttp.Tenant
	for _, name := range []string{"a", "b"} {
		base := srv.URL + "/" + name
		p := newProvider(t, users, base)
		cfg := p.Config()
		cfg.RedirectURL, cfg.Now = base+"/callback", p.clock.Now
		client, err := nextidentity.New(context.Background(), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = client.Close() })
		ps[name], apps[name] = p, &app{url: base, client: client}
		tenants = append(tenants, nihttp.Tenant{Name: name, PathPrefix: "/" + name, Config: nihttp.Config{
			Client: client, Keys: [][]byte{key}, Store: store, Now: p.clock.Now,
			BackChannelLogout: store != nil, PostLogoutRedirectURL: base + "/signed-out",
		}})
	}
	ts, err := nihttp.NewTenants(tenants...)
	require.NoError(t, err)
	handler = ts.Handler(func(h *nihttp.Handlers) http.Handler { return (&app{h: h}).routes() })
	for name, a := range apps {
		a.h = ts.Handlers(name)
	}
	return ps, apps
}

// transplant gives to a fresh browser, for app to, the cookies b holds
// whose names start with prefix+from, renamed to to's.
func transplant(b *browser, a *app, prefix, from, to string) *browser {
	other := newBrowser(b.t)
	for _, c := range b.cookies(a) {
		if strings.HasPrefix(c.Name, prefix+from) {
			other.plant(a, &http.Cookie{Name: prefix + to + strings.TrimPrefix(c.Name, prefix+from), Value: c.Value, Path: "/", Secure: true})
		}
	}
	return other
}

// TestTenantsKeepApart: a session, a sign-in's login state or a
// back-channel logout token of tenant A is never accepted by tenant B,
// both ways, with the same keys, with the cookie store and with a shared
// server store, for a subject both providers use.
func TestTenantsKeepApart(t *testing.T) {
	for _, storeName := range []string{"cookies", "shared memory store", "shared Redis store"} {
		for _, pair := range [][2]string{{"a", "b"}, {"b", "a"}} {
			t.Run(storeName+" "+pair[0]+" to "+pair[1], func(t *testing.T) {
				var store nihttp.SessionStore
				switch storeName {
				case "shared memory store":
					store = nihttp.NewMemoryStore()
				case "shared Redis store":
					rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t), DialTimeout: time.Second, MaxRetries: -1})
					t.Cleanup(func() { _ = rdb.Close() })
					store = redisstore.New(rdb, redisstore.Options{})
				}
				ps, apps := tenantApps(t, store)
				from, to := pair[0], pair[1]
				pa, a, b := ps[from], apps[from], apps[to]

				br := newBrowser(t)
				br.signIn(pa, a)
				require.True(t, br.signedIn(a))
				require.False(t, br.signedIn(b))

				// A's session cookie, renamed to B's: no session at B.
				stolen := transplant(br, a, "__Host-nihttp_session-", from, to)
				require.NotEmpty(t, stolen.cookies(b))
				require.False(t, stolen.signedIn(b), "A's session opened at B")

				// A's sign-in finished at B's callback, with A's login
				// state cookie renamed to B's: refused.
				other := newBrowser(t)
				q, err := pa.Login(context.Background(), other.startLogin(a, ""), nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
				require.NoError(t, err)
				other = transplant(other, a, "__Host-nihttp_login-", from, to)
				require.NotEmpty(t, other.cookies(b))
				resp, _ := other.get(b.url + "/callback?" + q.Encode())
				require.Equal(t, http.StatusBadRequest, resp.StatusCode, "A's sign-in finished at B")
				require.False(t, other.signedIn(b))

				if store == nil {
					return
				}
				// A's back-channel logout token: refused by B, accepted by
				// A, and it ends A's session of the shared subject only.
				br.signIn(ps[to], b)
				lt, err := pa.SignLogoutToken(pa.LogoutTokenClaims(nextidentitytest.DefaultClientID, sharedSubject, ""))
				require.NoError(t, err)
				for _, tc := range []struct {
					app    *app
					status int
				}{{b, http.StatusBadRequest}, {a, http.StatusOK}} {
					rec := httptest.NewRecorder()
					req := httptest.NewRequest(http.MethodPost, "/backchannel-logout", strings.NewReader(url.Values{"logout_token": {lt}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					tc.app.h.BackChannelLogout(rec, req)
					require.Equal(t, tc.status, rec.Code, rec.Body.String())
				}
				require.False(t, br.signedIn(a), "A's logout token did not end A's session")
				require.True(t, br.signedIn(b), "A's logout token ended B's session")
			})
		}
	}
}
