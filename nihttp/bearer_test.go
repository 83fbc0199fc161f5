package nihttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
	"github.com/oidc-kit/nextidentity/nihttp"
)

const bearerAudience = "https://api.example.com"

var bearerNow = time.Unix(1700000000, 0)

// bearerEnv is a provider, a resource server's client of it and tokens.
type bearerEnv struct {
	p *testprovider.Provider
	c *nextidentity.Client
}

func newBearerEnv(t *testing.T) *bearerEnv {
	t.Helper()
	p := testprovider.New(t)
	c, err := nextidentity.New(context.Background(), nextidentity.Config{
		Issuer:       p.Issuer,
		ClientID:     p.ClientID,
		ClientSecret: p.Secret,
		RedirectURL:  "http://127.0.0.1:9999/callback",
		Audience:     bearerAudience,
		Now:          func() time.Time { return bearerNow },
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &bearerEnv{p: p, c: c}
}

// token is a JWT access token with scope, edited by edit when not nil.
func (e *bearerEnv) token(scope string, edit func(map[string]any)) string {
	cl := map[string]any{
		"iss":       e.p.Issuer,
		"sub":       "service-a",
		"aud":       bearerAudience,
		"client_id": "service-a",
		"scope":     scope,
		"iat":       bearerNow.Unix(),
		"exp":       bearerNow.Add(time.Hour).Unix(),
	}
	if edit != nil {
		edit(cl)
	}
	return testprovider.Sign("RS256", e.p.RSA, cl, map[string]any{"typ": "at+jwt"})
}

// okHandler answers 200 with the verified token's subject.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	at := nihttp.AccessTokenFrom(r.Context())
	if at == nil {
		http.Error(w, "no token in context", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write([]byte("hello " + at.Subject))
})

func TestRequireBearer(t *testing.T) {
	e := newBearerEnv(t)
	valid := e.token("orders:read orders:write", nil)
	realm := `Bearer realm="` + bearerAudience + `"`
	tests := []struct {
		name     string
		url      string
		headers  []string // Authorization values
		status   int
		wwwAuth  string
		wantBody string
	}{
		{"valid", "/orders", []string{"Bearer " + valid}, http.StatusOK, "", "hello service-a"},
		{"scheme is case-insensitive", "/orders", []string{"bearer " + valid}, http.StatusOK, "", "hello service-a"},
		{"no header", "/orders", nil, http.StatusUnauthorized, realm, ""},
		{"token only in the query string", "/orders?access_token=" + valid, nil, http.StatusUnauthorized, realm, ""},
		{"other scheme", "/orders", []string{"Basic Y2xpZW50OnNlY3JldA=="}, http.StatusUnauthorized, realm, ""},
		{"two Authorization headers", "/orders", []string{"Bearer " + valid, "Bearer " + valid}, http.StatusBadRequest, realm + `, error="invalid_request"`, ""},
		{"malformed token", "/orders", []string{"Bearer a b"}, http.StatusBadRequest, realm + `, error="invalid_request"`, ""},
		{"empty token", "/orders", []string{"Bearer "}, http.StatusBadRequest, realm + `, error="invalid_request"`, ""},
		{"forged token", "/orders", []string{"Bearer " + valid[:len(valid)-4] + "AAAA"}, http.StatusUnauthorized, realm + `, error="invalid_token"`, ""},
		{"expired token", "/orders", []string{"Bearer " + e.token("orders:read orders:write", func(m map[string]any) { m["exp"] = bearerNow.Add(-time.Hour).Unix() })}, http.StatusUnauthorized, realm + `, error="invalid_token"`, ""},
		{"token for another API", "/orders", []string{"Bearer " + e.token("orders:read orders:write", func(m map[string]any) { m["aud"] = "https://other.example.com" })}, http.StatusUnauthorized, realm + `, error="invalid_token"`, ""},
		{"ID token", "/orders", []string{"Bearer " + testprovider.Sign("RS256", e.p.RSA, e.p.Claims(bearerNow, "n"), nil)}, http.StatusUnauthorized, realm + `, error="invalid_token"`, ""},
		{"opaque token, no introspection", "/orders", []string{"Bearer opaque-123"}, http.StatusUnauthorized, realm + `, error="invalid_token"`, ""},
		{"missing scope", "/orders", []string{"Bearer " + e.token("orders:read", nil)}, http.StatusForbidden, realm + `, error="insufficient_scope", scope="orders:read orders:write"`, ""},
	}
	h := nihttp.RequireBearer(e.c, "orders:read", "orders:write")(okHandler)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.url, nil)
			for _, v := range tc.headers {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, tc.wwwAuth, rec.Header().Get("WWW-Authenticate"))
			require.Empty(t, rec.Header().Get("Location"), "never a redirect")
			if tc.status == http.StatusOK {
				require.Equal(t, tc.wantBody, rec.Body.String())
			} else {
				// Nothing that helps an attacker: the status text only.
				require.Equal(t, http.StatusText(tc.status)+"\n", rec.Body.String())
				require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestRequireBearerProviderUnreachable(t *testing.T) {
	e := newBearerEnv(t)
	e.p.Handle(testprovider.PathJWKS, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	var got error
	h := nihttp.RequireBearerWith(e.c, nihttp.BearerOptions{
		OnError: func(_ *http.Request, status int, err error) { got = err },
	})(okHandler)
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header.Set("Authorization", "Bearer "+e.token("", nil))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Empty(t, rec.Header().Get("WWW-Authenticate"))
	require.ErrorIs(t, got, nextidentity.ErrProviderUnreachable)
}

func TestRequireBearerOptions(t *testing.T) {
	e := newBearerEnv(t)
	var statuses []int
	var errs []error
	h := nihttp.RequireBearerWith(e.c, nihttp.BearerOptions{
		Scopes: []string{"admin"},
		Realm:  `my "api"`,
		OnError: func(_ *http.Request, status int, err error) {
			statuses = append(statuses, status)
			errs = append(errs, err)
		},
	})(okHandler)
	for _, auth := range []string{"", "Bearer " + e.token("orders:read", nil), "Bearer " + e.token("admin", nil)} {
		req := httptest.NewRequest(http.MethodGet, "/admin", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			require.Contains(t, rec.Header().Get("WWW-Authenticate"), `Bearer realm="my \"api\""`)
		}
	}
	require.Equal(t, []int{http.StatusUnauthorized, http.StatusForbidden}, statuses)
	require.True(t, errors.Is(errs[1], nextidentity.ErrInsufficientScope))
}

func TestAccessTokenFromOutsideRequireBearer(t *testing.T) {
	require.Nil(t, nihttp.AccessTokenFrom(context.Background()))
}

// An opaque token goes to the introspection endpoint: active is served,
// inactive is 401, the endpoint refusing this client (a server-side
// misconfiguration, not the caller's fault) is 500, the endpoint down 503.
func TestRequireBearerOpaqueTokens(t *testing.T) {
	tests := []struct {
		name   string
		status int
		answer map[string]any
		want   int
	}{
		{"active", http.StatusOK, map[string]any{"active": true, "client_id": "svc", "scope": "orders:read", "aud": bearerAudience}, http.StatusOK},
		{"inactive", http.StatusOK, map[string]any{"active": false}, http.StatusUnauthorized},
		{"client refused", http.StatusUnauthorized, map[string]any{"error": "invalid_client"}, http.StatusInternalServerError},
		{"endpoint down", http.StatusBadGateway, map[string]any{"error": "bad_gateway"}, http.StatusServiceUnavailable},
		{"garbage answer", http.StatusOK, map[string]any{"unexpected": true}, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testprovider.New(t)
			p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
				d := p.Discovery()
				d["introspection_endpoint"] = p.URL + "/introspect"
				testprovider.WriteJSON(w, http.StatusOK, d)
			})
			p.Handle("/introspect", func(w http.ResponseWriter, r *http.Request) {
				testprovider.WriteJSON(w, tc.status, tc.answer)
			})
			c, err := nextidentity.New(context.Background(), nextidentity.Config{
				Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.Secret, Audience: bearerAudience,
			})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			req := httptest.NewRequest(http.MethodGet, "/orders", nil)
			req.Header.Set("Authorization", "Bearer opaque-token-1")
			rec := httptest.NewRecorder()
			nihttp.RequireBearer(c, "orders:read")(okHandler).ServeHTTP(rec, req)
			require.Equal(t, tc.want, rec.Code)
			if tc.want == http.StatusOK {
				require.Equal(t, "hello ", rec.Body.String(), "no sub in the answer")
			} else {
				require.Equal(t, http.StatusText(tc.want)+"\n", rec.Body.String())
			}
		})
	}
}
