package nihttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// offlineTenantClient is a Client for configuration tests: a fake provider
// started once.
func offlineTenantClient(t *testing.T) *nextidentity.Client {
	t.Helper()
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	t.Cleanup(srv.Close)
	c, err := nextidentity.New(context.Background(), srv.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestNewTenantsRefuses(t *testing.T) {
	c := offlineTenantClient(t)
	key := newKey(t)
	ok := func(name, host, prefix string) nihttp.Tenant {
		return nihttp.Tenant{Name: name, Host: host, PathPrefix: prefix, Config: nihttp.Config{Client: c, Keys: [][]byte{key}}}
	}
	tests := []struct {
		name    string
		tenants []nihttp.Tenant
		want    string
	}{
		{"none", nil, "at least one tenant"},
		{"empty name", []nihttp.Tenant{ok("", "a.example", "")}, `tenant name ""`},
		{"upper case", []nihttp.Tenant{ok("EU", "a.example", "")}, `tenant name "EU"`},
		{"underscore", []nihttp.Tenant{ok("e_u", "a.example", "")}, `tenant name "e_u"`},
		{"too long", []nihttp.Tenant{ok("abcdefghijklmnopqrstuvwxyz0123456", "a.example", "")}, "tenant name"},
		{"twice", []nihttp.Tenant{ok("eu", "a.example", ""), ok("eu", "b.example", "")}, `tenant "eu" is listed twice`},
		{"no host, no prefix", []nihttp.Tenant{ok("eu", "", "")}, "needs a Host or a PathPrefix"},
		{"relative prefix", []nihttp.Tenant{ok("eu", "", "eu")}, "is not a path"},
		{"prefix with a query", []nihttp.Tenant{ok("eu", "", "/eu?x")}, "is not a path"},
		{"prefix to clean", []nihttp.Tenant{ok("eu", "", "/x/../eu")}, "is not a path"},
		{"same requests", []nihttp.Tenant{ok("eu", "A.example", "/x/"), ok("us", "a.example", "/x")}, `tenants "eu" and "us" serve the same requests`},
		{"another Config.Tenant", []nihttp.Tenant{{Name: "eu", Host: "a.example", Config: nihttp.Config{Client: c, Keys: [][]byte{key}, Tenant: "us"}}}, `its Config.Tenant is "us"`},
		{"bad Config", []nihttp.Tenant{{Name: "eu", Host: "a.example", Config: nihttp.Config{Client: c}}}, `tenant "eu": nihttp: Config.Keys`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := nihttp.NewTenants(tc.tenants...)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, ts)
		})
	}
	_, err := nihttp.New(nihttp.Config{Client: c, Keys: [][]byte{key}, Tenant: "Not_A_Name"})
	require.ErrorContains(t, err, `Config.Tenant "Not_A_Name"`)
}

// TestTenantsRouting: a request goes to the tenant of its host (any case,
// any port) or path prefix, the most specific first; the prefix is stripped
// for the tenant's routes and put back on the handlers' redirects.
func TestTenantsRouting(t *testing.T) {
	c := offlineTenantClient(t)
	key := newKey(t)
	tenant := func(name, host, prefix string) nihttp.Tenant {
		return nihttp.Tenant{Name: name, Host: host, PathPrefix: prefix, Config: nihttp.Config{Client: c, Keys: [][]byte{key}}}
	}
	ts, err := nihttp.NewTenants(
		tenant("brand-a", "a.example.com", ""),
		tenant("brand-a-eu", "a.example.com", "/eu"),
		tenant("eu", "", "/eu"),
		tenant("eu-west", "", "/eu/west/"),
	)
	require.NoError(t, err)
	routes := func(h *nihttp.Handlers) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /login", h.Login)
		mux.Handle("GET /orders", h.RequireLogin(http.NotFoundHandler()))
		mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(h.Tenant() + " " + r.URL.Path))
		})
		return mux
	}
	handler := ts.Handler(routes)
	tests := []struct {
		host, path string
		status     int
		body       string // or Location for a redirect
	}{
		{"a.example.com", "/who", 200, "brand-a /who"},
		{"A.Example.COM:8443", "/who", 200, "brand-a /who"},
		{"a.example.com", "/eu/who", 200, "brand-a-eu /who"},
		{"a.example.com", "/europe/who", 200, "brand-a /europe/who"},
		{"b.example.com", "/eu/who", 200, "eu /who"},
		{"b.example.com", "/eu/west/who", 200, "eu-west /who"},
		{"b.example.com", "/eu/westward/who", 200, "eu /westward/who"},
		{"b.example.com", "/who", 404, ""},
		{"b.example.com", "/eu", 301, "/eu/"},
		{"b.example.com", "/eu/west?x=1", 301, "/eu/west/?x=1"},
		// The handlers' redirects carry the prefix.
		{"b.example.com", "/eu/west/orders?id=7", 302, "/eu/west/login?return_to=%2Forders%3Fid%3D7"},
		{"a.example.com", "/orders", 302, "/login?return_to=%2Forders"},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Host = tc.host
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		require.Equal(t, tc.status, rec.Code, "%s%s", tc.host, tc.path)
		switch tc.status {
		case 200:
			require.Equal(t, tc.body, rec.Body.String())
		case 301, 302:
			require.Equal(t, tc.body, rec.Header().Get("Location"), "%s%s", tc.host, tc.path)
		}
		if h := ts.Match(req); tc.status == 404 {
			require.Nil(t, h)
		} else {
			require.NotNil(t, h)
		}
	}
	require.Equal(t, "eu-west", ts.Handlers("eu-west").Tenant())
	require.Nil(t, ts.Handlers("nope"))
}

// TestTenantCookieNames: each tenant's cookies have names of their own, so
// tenants under path prefixes of one host (where every cookie is sent to
// every tenant) do not overwrite each other's.
func TestTenantCookieNames(t *testing.T) {
	c := offlineTenantClient(t)
	h, err := nihttp.New(nihttp.Config{Client: c, Keys: [][]byte{newKey(t)}, Tenant: "eu"})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.Login(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	var names []string
	for _, ck := range rec.Result().Cookies() {
		names = append(names, ck.Name)
	}
	require.Len(t, names, 2)
	require.Equal(t, "__Host-nihttp_login-eu-loop", names[0])
	require.Regexp(t, `^__Host-nihttp_login-eu_[A-Za-z0-9_-]+$`, names[1])
	require.Equal(t, "eu", h.Tenant())
}

// TestTenantKeysDiffer: with the same Keys, what one tenant seals does not
// open at another tenant nor at handlers without a tenant, even under the
// same name: the keys are derived per tenant.
func TestTenantKeysDiffer(t *testing.T) {
	c := offlineTenantClient(t)
	key := newKey(t)
	handlers := map[string]*nihttp.Handlers{}
	for _, name := range []string{"a", "b", ""} {
		h, err := nihttp.New(nihttp.Config{Client: c, Keys: [][]byte{key}, Tenant: name})
		require.NoError(t, err)
		handlers[name] = h
	}
	sealed, err := handlers["a"].SealForTest("__Host-same-name", map[string]int{"v": 1}, time.Minute)
	require.NoError(t, err)
	var v map[string]int
	require.NoError(t, handlers["a"].OpenForTest("__Host-same-name", sealed, &v))
	require.ErrorIs(t, handlers["b"].OpenForTest("__Host-same-name", sealed, &v), nihttp.ErrTampered)
	require.ErrorIs(t, handlers[""].OpenForTest("__Host-same-name", sealed, &v), nihttp.ErrTampered)
}
