package nihttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// A user's refresh token is not an access token: RequireBearer, checking
// opaque tokens at the fake's introspection endpoint, refuses
// "Bearer <refresh token>" with 401 and serves the access token of the same
// sign-in, whether the API introspects as a client of its own or as the
// very client the refresh token was issued to.
func TestRequireBearerRefusesRefreshToken(t *testing.T) {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{
		nextidentitytest.DefaultClient(),
		{ID: "orders-api", Secret: "api-secret"},
	}})
	t.Cleanup(srv.Close)
	newClient := func(id string) *nextidentity.Client {
		cfg := srv.ClientConfig(id)
		cfg.Audience = nextidentitytest.DefaultAccessTokenAudience
		c, err := nextidentity.New(t.Context(), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	web := newClient(nextidentitytest.DefaultClientID)
	ar, err := web.AuthCodeURL(nextidentity.WithOfflineAccess())
	require.NoError(t, err)
	cb, err := srv.Login(t.Context(), ar.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	tok, err := web.Exchange(t.Context(), cb, ar)
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)

	for _, id := range []string{"orders-api", nextidentitytest.DefaultClientID} {
		t.Run(id, func(t *testing.T) {
			var refused []error
			api := httptest.NewServer(nihttp.RequireBearerWith(newClient(id), nihttp.BearerOptions{
				OnError: func(_ *http.Request, _ int, err error) { refused = append(refused, err) },
			})(okHandler))
			t.Cleanup(api.Close)
			call := func(token string) int {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, api.URL, nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				_ = resp.Body.Close()
				return resp.StatusCode
			}
			require.Equal(t, http.StatusUnauthorized, call(tok.RefreshToken))
			require.Len(t, refused, 1)
			require.ErrorIs(t, refused[0], nextidentity.ErrInvalidAccessToken)
			require.Equal(t, http.StatusOK, call(tok.AccessToken))
		})
	}
}
