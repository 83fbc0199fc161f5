package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// TestDemo runs the program as a user would with -demo, for both token
// formats, and checks every answer of the walk-through.
func TestDemo(t *testing.T) {
	for _, format := range []string{"jwt", "opaque"} {
		t.Run(format, func(t *testing.T) {
			out := &lockedBuffer{}
			ctx, cancel := context.WithCancel(t.Context())
			ready := make(chan [2]string, 1)
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"-demo", "-addr", "127.0.0.1:0", "-format", format}, func(string) string { return "" }, out, ready)
			}()
			base := (<-ready)[0]
			// The demo's calls done, the API keeps serving the printed curl
			// commands until it is stopped.
			require.Eventually(t, func() bool { return strings.Contains(out.String(), "keeps running") }, 20*time.Second, 10*time.Millisecond)
			resp, err := http.Get(base + "/orders")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			cancel()
			require.NoError(t, <-done)
			for _, want := range []string{
				"orders-sync: POST /orders -> 201 Created",
				`"created_by":"orders-sync"`,
				"orders-sync: GET /orders -> 200 OK",
				"orders-report: GET /orders -> 200 OK",
				"orders-report (no orders:write): POST /orders -> 403 Forbidden",
				`error="insufficient_scope", scope="orders:write"`,
				"anonymous (no token): GET /orders -> 401 Unauthorized",
				"curl -s -u orders-sync:sync-secret -d grant_type=client_credentials",
			} {
				require.Contains(t, out.String(), want)
			}
		})
	}
}

// lockedBuffer is a strings.Builder safe for the writer (run) and the
// reader (the test) at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// apiEnv is the embedded provider, the API under httptest and a service
// client.
type apiEnv struct {
	provider *nextidentitytest.Server
	api      *httptest.Server
	svc      *nextidentity.Client
}

func newAPIEnv(t *testing.T, format string) *apiEnv {
	t.Helper()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{
		{ID: apiClientID, Secret: apiSecret},
		{ID: syncClientID, Secret: syncSecret, Scopes: []string{"orders:read", "orders:write"}, AccessTokenFormat: format},
	}})
	t.Cleanup(provider.Close)
	cfg := provider.ClientConfig(apiClientID)
	cfg.Audience = nextidentitytest.DefaultAccessTokenAudience
	cfg.IntrospectionCacheTTL = -1 // see revocations at once
	c, err := nextidentity.New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	srv := httptest.NewServer((&api{}).routes(c, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	svc, err := nextidentity.New(t.Context(), provider.ClientConfig(syncClientID))
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	return &apiEnv{provider: provider, api: srv, svc: svc}
}

func (e *apiEnv) get(t *testing.T, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.api.URL+"/orders", nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp
}

func TestRevokedTokenIsRefused(t *testing.T) {
	e := newAPIEnv(t, "opaque")
	tok, err := e.svc.ClientCredentials(t.Context(), "orders:read")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, e.get(t, tok.AccessToken).StatusCode)
	require.NoError(t, e.svc.Revoke(t.Context(), tok))
	resp := e.get(t, tok.AccessToken)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`)
}

func TestProviderDownIs503(t *testing.T) {
	e := newAPIEnv(t, "opaque")
	tok, err := e.svc.ClientCredentials(t.Context(), "orders:read")
	require.NoError(t, err)
	e.provider.Close()
	require.Equal(t, http.StatusServiceUnavailable, e.get(t, tok.AccessToken).StatusCode)
}

func TestJWTFromAnotherIssuerIsRefused(t *testing.T) {
	e := newAPIEnv(t, "jwt")
	other := newAPIEnv(t, "jwt")
	tok, err := other.svc.ClientCredentials(t.Context(), "orders:read")
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, e.get(t, tok.AccessToken).StatusCode)
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"NEXTIDENTITY_ISSUER": "https://id.example.com"}
	getenv := func(k string) string { return env[k] }
	_, err := configFromEnv(getenv)
	require.ErrorContains(t, err, "NEXTIDENTITY_CLIENT_ID and NEXTIDENTITY_AUDIENCE")
	env["NEXTIDENTITY_CLIENT_ID"], env["NEXTIDENTITY_AUDIENCE"] = "api", "https://api.example.com"
	cfg, err := configFromEnv(getenv)
	require.NoError(t, err)
	require.Equal(t, "https://api.example.com", cfg.Audience)

	err = run(context.Background(), []string{"-demo"}, getenv, io.Discard, nil)
	require.ErrorContains(t, err, "-demo needs the embedded provider")
}
