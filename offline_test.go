package nextidentity_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// WithOfflineAccess adds the offline_access scope where discovery lists it;
// ClientCredentials refuses a grant discovery does not list.

func authQuery(t *testing.T, c *nextidentity.Client, opts ...nextidentity.AuthOption) url.Values {
	t.Helper()
	ar, err := c.AuthCodeURL(opts...)
	require.NoError(t, err)
	u, err := url.Parse(ar.URL)
	require.NoError(t, err)
	return u.Query()
}

func TestWithOfflineAccessScope(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scopes any // scopes_supported; nil leaves it out
		want   bool
	}{
		{"listed", []string{"openid", "offline_access"}, true},
		{"not listed", []string{"openid", "profile"}, false},
		{"no scopes_supported", nil, false},
		{"malformed member", "offline_access", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testprovider.New(t)
			doc := p.Discovery()
			if tc.scopes != nil {
				doc["scopes_supported"] = tc.scopes
			}
			p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
				testprovider.WriteJSON(w, http.StatusOK, doc)
			})
			c, err := nextidentity.New(t.Context(), mkConfig(p))
			require.NoError(t, err, "a malformed advisory member does not fail discovery")
			defer c.Close()

			q := authQuery(t, c, nextidentity.WithOfflineAccess())
			require.Equal(t, "offline", q.Get("access_type"), "kept for Next Identity")
			require.Equal(t, tc.want, strings.Contains(" "+q.Get("scope")+" ", " offline_access "), q.Get("scope"))
			require.NotContains(t, authQuery(t, c).Get("scope"), "offline_access", "only when asked")

			// Once only, even when the app lists it too.
			q = authQuery(t, c, nextidentity.WithOfflineAccess(), nextidentity.WithScopes("offline_access"))
			require.Equal(t, 1, strings.Count(q.Get("scope"), "offline_access"))
		})
	}
}

// TestOfflineAccessGetsRefreshToken: against a provider that, like Dex,
// returns a refresh token only for the offline_access scope, WithOfflineAccess
// gets one and a sign-in without it does not.
func TestOfflineAccessGetsRefreshToken(t *testing.T) {
	e := provStart(t, nextidentitytest.Options{OfflineAccessOnly: true}, "", nil)
	_, tok := e.signIn(t, nextidentity.WithOfflineAccess())
	require.NotEmpty(t, tok.RefreshToken)
	require.Contains(t, tok.Scope, "offline_access")
	refreshed, err := e.c.Refresh(t.Context(), tok)
	require.NoError(t, err)
	require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)

	_, tok = e.signIn(t)
	require.Empty(t, tok.RefreshToken)
	_, tok = e.signIn(t, nextidentity.WithParam("access_type", "offline"))
	require.Empty(t, tok.RefreshToken, "access_type=offline alone does not satisfy such a provider")
}

func TestClientCredentialsGrantNotListed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		grants any
		refuse bool
	}{
		{"not listed", []string{"authorization_code", "refresh_token"}, true},
		{"listed", []string{"authorization_code", "client_credentials"}, false},
		{"empty list", []string{}, false},
		{"absent", nil, false},
		{"malformed", map[string]any{"client_credentials": false}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, n := ccProvider(t, 3600, nil)
			doc := p.Discovery()
			if tc.grants != nil {
				doc["grant_types_supported"] = tc.grants
			}
			p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
				testprovider.WriteJSON(w, http.StatusOK, doc)
			})
			c := mkClient(t, mkConfig(p))
			tok, err := c.ClientCredentials(t.Context(), "orders:read")
			if tc.refuse {
				require.ErrorIs(t, err, nextidentity.ErrUnsupportedGrant)
				require.Regexp(t, `^nextidentity: grant type not supported by the provider: .*client_credentials`, err.Error())
				require.Nil(t, tok)
				require.Zero(t, n.Load(), "no request")
				return
			}
			require.NoError(t, err)
			require.Equal(t, "cc-1", tok.AccessToken)
		})
	}
}
