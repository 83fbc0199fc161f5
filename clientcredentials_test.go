package nextidentity_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// ccProvider is a provider whose token endpoint answers the client
// credentials grant with tokens "cc-1", "cc-2", ... living expiresIn seconds;
// before answering it calls during, when set.
func ccProvider(t *testing.T, expiresIn int, during func()) (*testprovider.Provider, *atomic.Int64) {
	t.Helper()
	p := testprovider.New(t)
	var n atomic.Int64
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("grant_type") != "client_credentials" {
			testprovider.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
			return
		}
		if during != nil {
			during()
		}
		i := n.Add(1)
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{
			"access_token": "cc-" + string(rune('0'+i)),
			"token_type":   "Bearer",
			"expires_in":   expiresIn,
			"scope":        r.PostFormValue("scope"),
		})
	})
	return p, &n
}

func TestClientCredentialsRequest(t *testing.T) {
	for _, style := range []nextidentity.AuthStyle{nextidentity.AuthStyleBasic, nextidentity.AuthStyleInParams} {
		p := testprovider.New(t)
		var form map[string][]string
		var user, pass string
		var basic bool
		p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
			require.NoError(t, r.ParseForm())
			form = r.PostForm
			user, pass, basic = r.BasicAuth()
			testprovider.WriteJSON(w, http.StatusOK, map[string]any{
				"access_token":  "cc-token",
				"token_type":    "Bearer",
				"expires_in":    3600,
				"scope":         "orders:read orders:write",
				"refresh_token": "not-for-client-credentials",
				"id_token":      "not.an.idtoken",
			})
		})
		clock := newFakeClock(fixedNow)
		cfg := mkConfig(p)
		cfg.AuthStyle = style
		cfg.Now = clock.Now
		c := mkClient(t, cfg)

		tok, err := c.ClientCredentials(context.Background(), "orders:read", "orders:write")
		require.NoError(t, err)
		require.Equal(t, "cc-token", tok.AccessToken)
		require.Equal(t, "Bearer", tok.TokenType)
		require.Equal(t, fixedNow.Add(time.Hour), tok.Expiry)
		require.Equal(t, "orders:read orders:write", tok.Scope)
		require.Empty(t, tok.RawIDToken, "no ID token is expected, none is kept")
		require.Nil(t, tok.IDToken)
		require.Empty(t, tok.RefreshToken)

		require.Equal(t, []string{"client_credentials"}, form["grant_type"])
		require.Equal(t, []string{"orders:read orders:write"}, form["scope"])
		if style == nextidentity.AuthStyleBasic {
			require.True(t, basic)
			require.Equal(t, p.ClientID, user)
			require.Equal(t, p.Secret, pass)
			require.NotContains(t, form, "client_secret")
		} else {
			require.False(t, basic)
			require.Equal(t, []string{p.Secret}, form["client_secret"])
		}
	}
}

func TestClientCredentialsNoScopesSendsNoScope(t *testing.T) {
	p := testprovider.New(t)
	var hasScope bool
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		_, hasScope = r.PostForm["scope"]
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "a", "token_type": "Bearer", "expires_in": 60})
	})
	_, err := mkClient(t, mkConfig(p)).ClientCredentials(context.Background())
	require.NoError(t, err)
	require.False(t, hasScope)
}

func TestClientCredentialsErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   map[string]any
		want   error
	}{
		{"bad secret", http.StatusUnauthorized, map[string]any{"error": "invalid_client"}, nextidentity.ErrInvalidClient},
		{"scope not allowed", http.StatusBadRequest, map[string]any{"error": "invalid_scope"}, nil},
		{"no access token", http.StatusOK, map[string]any{"token_type": "Bearer"}, nextidentity.ErrMalformedResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testprovider.New(t)
			p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
				testprovider.WriteJSON(w, tc.status, tc.body)
			})
			_, err := mkClient(t, mkConfig(p)).ClientCredentials(context.Background(), "x")
			require.Error(t, err)
			var pe *nextidentity.Error
			require.ErrorAs(t, err, &pe)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			} else {
				require.Equal(t, "invalid_scope", pe.Code)
			}
		})
	}
}

func TestClientCredentialsNeedsSecret(t *testing.T) {
	p := testprovider.New(t)
	cfg := mkConfig(p)
	cfg.ClientSecret = ""
	c := mkClient(t, cfg)
	_, err := c.ClientCredentials(context.Background())
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	_, err = c.ClientCredentialsTokenSource(context.Background()).Token()
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	require.Zero(t, p.Count(testprovider.PathToken))
}

func TestClientCredentialsTokenSourceCachesAndRenews(t *testing.T) {
	p, n := ccProvider(t, 3600, nil)
	clock := newFakeClock(fixedNow)
	cfg := mkConfig(p)
	cfg.Now = clock.Now
	ts := mkClient(t, cfg).ClientCredentialsTokenSource(context.Background(), "a", "b")

	first, err := ts.Token()
	require.NoError(t, err)
	require.Equal(t, "cc-1", first.AccessToken)
	require.Equal(t, fixedNow.Add(time.Hour), first.Expiry)

	clock.Advance(59 * time.Minute)
	tok, err := ts.Token()
	require.NoError(t, err)
	require.Equal(t, "cc-1", tok.AccessToken, "cached while more than 10 s are left")
	require.EqualValues(t, 1, n.Load())

	clock.Advance(55 * time.Second) // 5 s left: renewed before it expires
	tok, err = ts.Token()
	require.NoError(t, err)
	require.Equal(t, "cc-2", tok.AccessToken)
	require.EqualValues(t, 2, n.Load())
}

func TestClientCredentialsTokenSourceOneRequestForAll(t *testing.T) {
	started, release := make(chan struct{}, 16), make(chan struct{})
	p, n := ccProvider(t, 3600, func() { started <- struct{}{}; <-release })
	ts := mkClient(t, mkConfig(p)).ClientCredentialsTokenSource(context.Background())

	const callers = 16
	var wg sync.WaitGroup
	got := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			tok, err := ts.Token()
			errs[i] = err
			if err == nil {
				got[i] = tok.AccessToken
			}
		})
	}
	// Let the callers pile up behind the first request, then answer it.
	<-started
	close(release)
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, "cc-1", got[i])
	}
	require.EqualValues(t, 1, n.Load())
}

func TestClientCredentialsTokenSourceNeverExpired(t *testing.T) {
	clock := newFakeClock(fixedNow)
	// The request takes (on the injected clock) longer than the token lives.
	p, _ := ccProvider(t, 60, func() { clock.Advance(2 * time.Minute) })
	cfg := mkConfig(p)
	cfg.Now = clock.Now
	ts := mkClient(t, cfg).ClientCredentialsTokenSource(context.Background())
	_, err := ts.Token()
	require.ErrorIs(t, err, nextidentity.ErrMalformedResponse)
}

func TestClientCredentialsTokenSourceShortLivedToken(t *testing.T) {
	// A token living less than the renewal margin is handed out once (it has
	// not expired) and renewed on the next call.
	p, n := ccProvider(t, 5, nil)
	clock := newFakeClock(fixedNow)
	cfg := mkConfig(p)
	cfg.Now = clock.Now
	ts := mkClient(t, cfg).ClientCredentialsTokenSource(context.Background())
	for i := 1; i <= 2; i++ {
		tok, err := ts.Token()
		require.NoError(t, err)
		require.True(t, clock.Now().Before(tok.Expiry))
	}
	require.EqualValues(t, 2, n.Load())
}

func TestClientCredentialsTokenSourceDoesNotCacheErrors(t *testing.T) {
	p := testprovider.New(t)
	var fail atomic.Bool
	fail.Store(true)
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			testprovider.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "temporarily_unavailable"})
			return
		}
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "ok", "token_type": "Bearer", "expires_in": 60})
	})
	ts := mkClient(t, mkConfig(p)).ClientCredentialsTokenSource(context.Background())
	_, err := ts.Token()
	require.Error(t, err)
	fail.Store(false)
	tok, err := ts.Token()
	require.NoError(t, err)
	require.Equal(t, "ok", tok.AccessToken)
}

// A back-end service has no redirect URL: New accepts that, the browser
// sign-in refuses it, client credentials work.
func TestServiceClientWithoutRedirectURL(t *testing.T) {
	p, _ := ccProvider(t, 3600, nil)
	cfg := mkConfig(p)
	cfg.RedirectURL = ""
	c := mkClient(t, cfg)
	_, err := c.AuthCodeURL()
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	require.ErrorContains(t, err, "Config.RedirectURL")
	_, err = c.RegisterURL()
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	tok, err := c.ClientCredentials(context.Background())
	require.NoError(t, err)
	require.Equal(t, "cc-1", tok.AccessToken)
}
