package nextidentity_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

func TestNewRejectsBadConfig(t *testing.T) {
	ok := nextidentity.Config{
		Issuer:                "https://id.example.com",
		ClientID:              "c",
		RedirectURL:           "https://app.example.com/cb",
		AuthorizationEndpoint: "https://id.example.com/authorize",
		TokenEndpoint:         "https://id.example.com/token",
		UserInfoEndpoint:      "https://id.example.com/userinfo",
		JWKSURL:               "https://id.example.com/jwks",
	}
	for _, tc := range []struct {
		name  string
		edit  func(*nextidentity.Config)
		field string
	}{
		{"no issuer", func(c *nextidentity.Config) { c.Issuer = "" }, "Issuer"},
		{"http issuer", func(c *nextidentity.Config) { c.Issuer = "http://id.example.com" }, "Issuer"},
		{"relative issuer", func(c *nextidentity.Config) { c.Issuer = "id.example.com" }, "Issuer"},
		{"issuer with query", func(c *nextidentity.Config) { c.Issuer = "https://id.example.com?x=1" }, "Issuer"},
		{"no client id", func(c *nextidentity.Config) { c.ClientID = "" }, "ClientID"},
		{"relative redirect", func(c *nextidentity.Config) { c.RedirectURL = "/cb" }, "RedirectURL"},
		{"bad userinfo method", func(c *nextidentity.Config) { c.UserInfoMethod = "PUT" }, "UserInfoMethod"},
		{"bad auth style", func(c *nextidentity.Config) { c.AuthStyle = 7 }, "AuthStyle"},
		{"unknown alg", func(c *nextidentity.Config) { c.SigningAlgs = []string{"RS256", "none"} }, "SigningAlgs"},
		{"HS without secret", func(c *nextidentity.Config) { c.SigningAlgs = []string{"HS256"} }, "SigningAlgs"},
		{"bad token endpoint", func(c *nextidentity.Config) { c.TokenEndpoint = "ftp://x/token" }, "TokenEndpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := nextidentity.New(context.Background(), cfg)
			require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
			require.Contains(t, err.Error(), "Config."+tc.field)
		})
	}
	c, err := nextidentity.New(context.Background(), ok)
	require.NoError(t, err, "the base config is valid and makes no request")
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close twice")
}

// TestNewReportsEveryConfigError: one call names every bad field, each
// joined error matching ErrInvalidConfig.
func TestNewReportsEveryConfigError(t *testing.T) {
	_, err := nextidentity.New(context.Background(), nextidentity.Config{
		Issuer:         "http://id.example.com",
		RedirectURL:    "/cb",
		UserInfoMethod: "PUT",
		AuthStyle:      7,
	})
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	for _, field := range []string{"Issuer", "ClientID", "RedirectURL", "UserInfoMethod", "AuthStyle"} {
		require.Contains(t, err.Error(), "Config."+field+" ")
	}
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "errors.Join of every problem")
	require.Len(t, joined.Unwrap(), 5)
	for _, e := range joined.Unwrap() {
		require.ErrorIs(t, e, nextidentity.ErrInvalidConfig)
	}

	// Fields checked after discovery are reported together too.
	_, err = nextidentity.New(context.Background(), nextidentity.Config{
		Issuer:                "https://id.example.com",
		ClientID:              "c",
		RedirectURL:           "https://app.example.com/cb",
		SigningAlgs:           []string{"none", "HS256"},
		AuthorizationEndpoint: "https://id.example.com/authorize",
		TokenEndpoint:         "ftp://id.example.com/token",
		UserInfoEndpoint:      "https://id.example.com/userinfo",
		JWKSURL:               "https://id.example.com/jwks",
	})
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	require.Contains(t, err.Error(), "Config.TokenEndpoint ")
	require.Contains(t, err.Error(), `unsupported algorithm "none"`)
	require.Contains(t, err.Error(), "lists HS256 but ClientSecret is empty")
}

func TestNewAllowsHTTPOnlyOnLoopback(t *testing.T) {
	for _, host := range []string{"localhost", "127.0.0.1", "[::1]"} {
		cfg := nextidentity.Config{
			Issuer: "http://" + host + ":1", ClientID: "c", RedirectURL: "http://localhost/cb",
			AuthorizationEndpoint: "http://x/a", TokenEndpoint: "http://x/t", UserInfoEndpoint: "http://x/u", JWKSURL: "http://x/j",
		}
		c, err := nextidentity.New(context.Background(), cfg)
		require.NoError(t, err, host)
		require.NoError(t, c.Close())
	}
}

func TestDiscovery(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, mkConfig(p))
	require.EqualValues(t, 1, p.Count(testprovider.PathDiscovery))
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ar.URL, p.URL+"/authorize?"), ar.URL)
	require.True(t, strings.HasPrefix(c.LogoutURL(nextidentity.LogoutRequest{}), p.URL+"/endsession?"))
}

func TestDiscoverySkippedWhenEndpointsSet(t *testing.T) {
	p := testprovider.New(t)
	cfg := mkConfig(p)
	cfg.AuthorizationEndpoint = p.URL + "/authorize"
	cfg.TokenEndpoint = p.URL + "/token"
	cfg.UserInfoEndpoint = p.URL + "/userinfo"
	cfg.JWKSURL = p.URL + "/jwks"
	mkClient(t, cfg)
	require.Zero(t, p.Count(testprovider.PathDiscovery))
}

func TestDiscoveryIssuerMustMatchExactly(t *testing.T) {
	p := testprovider.New(t)
	for _, tc := range []struct{ name, served, configured string }{
		{"trailing slash served", p.URL + "/", p.URL},
		{"trailing slash configured", p.URL, p.URL + "/"},
		{"other host", "https://evil.example.com", p.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
				d := p.Discovery()
				d["issuer"] = tc.served
				testprovider.WriteJSON(w, http.StatusOK, d)
			})
			cfg := mkConfig(p)
			cfg.Issuer = tc.configured
			_, err := nextidentity.New(context.Background(), cfg)
			require.ErrorIs(t, err, nextidentity.ErrIssuerMismatch)
		})
	}
	t.Run("trailing slash on both", func(t *testing.T) {
		p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
			require.Equal(t, "/.well-known/openid-configuration", r.URL.Path, "no double slash")
			d := p.Discovery()
			d["issuer"] = p.URL + "/"
			testprovider.WriteJSON(w, http.StatusOK, d)
		})
		cfg := mkConfig(p)
		cfg.Issuer = p.URL + "/"
		mkClient(t, cfg)
	})
}

func TestDiscoveryErrors(t *testing.T) {
	p := testprovider.New(t)
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"not found", http.StatusNotFound, "<html>nope</html>", nextidentity.ErrMalformedResponse},
		{"not json", http.StatusOK, "<html>hi</html>", nextidentity.ErrMalformedResponse},
		{"stat error on 200", http.StatusOK, `{"stat":"error","error":"invalid_request"}`, nextidentity.ErrInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			_, err := nextidentity.New(context.Background(), mkConfig(p))
			require.ErrorIs(t, err, tc.want)
			var pe *nextidentity.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tc.status, pe.StatusCode)
			require.Equal(t, "discovery", pe.Endpoint)
			require.ErrorIs(t, err, nextidentity.ErrProvider)
			require.Contains(t, err.Error(), p.URL+"/.well-known/openid-configuration", "names the URL fetched")
		})
	}
	t.Run("missing endpoint", func(t *testing.T) {
		p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
			d := p.Discovery()
			delete(d, "token_endpoint")
			testprovider.WriteJSON(w, http.StatusOK, d)
		})
		_, err := nextidentity.New(context.Background(), mkConfig(p))
		require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
		require.Contains(t, err.Error(), "TokenEndpoint")
	})
	t.Run("context deadline", func(t *testing.T) {
		p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := nextidentity.New(ctx, mkConfig(p))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Contains(t, err.Error(), p.URL+"/.well-known/openid-configuration", "names the URL fetched")
	})
}

func TestLoggerNeverLogsSecrets(t *testing.T) {
	p := testprovider.New(t)
	var buf bytes.Buffer
	cfg := mkConfig(p)
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := mkClient(t, cfg)
	now := time.Now()
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	claims := p.Claims(now, ar.Nonce)
	idt := testprovider.Sign("RS256", p.RSA, claims, nil)
	p.Handle(testprovider.PathToken, testprovider.TokenResponse(idt))
	p.Handle(testprovider.PathUserInfo, func(w http.ResponseWriter, r *http.Request) {
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{"sub": claims["sub"]})
	})
	cb := map[string][]string{"code": {"the-secret-code"}, "state": {ar.State}}
	tok, err := c.Exchange(context.Background(), cb, ar)
	require.NoError(t, err)
	_, err = c.UserInfo(context.Background(), tok)
	require.NoError(t, err)
	logs := buf.String()
	for _, endpoint := range []string{"endpoint=discovery", "endpoint=token", "endpoint=userinfo", "endpoint=jwks"} {
		require.Contains(t, logs, endpoint)
	}
	require.Contains(t, logs, "status=200")
	for _, secret := range []string{p.Secret, "the-secret-code", ar.CodeVerifier, tok.AccessToken, tok.RefreshToken, idt[:40], ar.Nonce, ar.State} {
		require.NotContains(t, logs, secret)
	}
}
