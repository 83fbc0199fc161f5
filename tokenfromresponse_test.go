package nextidentity_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

func TestTokenFromResponse(t *testing.T) {
	p, c, now := fixedClient(t)
	claims := p.Claims(now, "")
	claims["at_hash"] = testprovider.AtHash(testprovider.AccessToken)
	good := testprovider.Sign("RS256", p.RSA, claims, nil)
	wrongHash := p.Claims(now, "")
	wrongHash["at_hash"] = testprovider.AtHash("another token")
	otherAud := p.Claims(now, "")
	otherAud["aud"] = "someone-else"
	body := func(m map[string]any) []byte {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	for _, tc := range []struct {
		name    string
		body    []byte
		wantErr error
		check   func(t *testing.T, tok *nextidentity.Token)
	}{
		{"lowercase bearer, no id_token, no expires_in", body(map[string]any{"access_token": "at", "token_type": "bearer", "refresh_token": "rt"}), nil,
			func(t *testing.T, tok *nextidentity.Token) {
				require.Equal(t, "at", tok.AccessToken)
				require.Equal(t, "rt", tok.RefreshToken)
				require.True(t, tok.Expiry.IsZero())
				require.Nil(t, tok.IDToken)
				require.True(t, tok.Valid(), "valid on the client's clock")
			}},
		{"expires_in counts on the client's clock", body(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60}), nil,
			func(t *testing.T, tok *nextidentity.Token) { require.Equal(t, now.Add(time.Minute), tok.Expiry) }},
		{"verified id_token without nonce, at_hash checked", body(map[string]any{"access_token": testprovider.AccessToken, "token_type": "Bearer", "id_token": good}), nil,
			func(t *testing.T, tok *nextidentity.Token) {
				require.NotNil(t, tok.IDToken)
				require.Equal(t, testprovider.Subject, tok.IDToken.Subject)
				require.Equal(t, good, tok.RawIDToken)
			}},
		{"at_hash of another access token", body(map[string]any{"access_token": testprovider.AccessToken, "token_type": "Bearer",
			"id_token": testprovider.Sign("RS256", p.RSA, wrongHash, nil)}), nextidentity.ErrInvalidIDToken, nil},
		{"id_token for another client", body(map[string]any{"access_token": "at", "token_type": "Bearer",
			"id_token": testprovider.Sign("RS256", p.RSA, otherAud, nil)}), nextidentity.ErrAudienceMismatch, nil},
		{"no access_token", body(map[string]any{"token_type": "Bearer"}), nextidentity.ErrMalformedResponse, nil},
		{"not bearer", body(map[string]any{"access_token": "at", "token_type": "DPoP"}), nextidentity.ErrMalformedResponse, nil},
		{"not JSON", []byte("<html>"), nextidentity.ErrMalformedResponse, nil},
		{"error body", body(map[string]any{"error": "http_exception", "error_description": "Forbidden"}), nextidentity.ErrProvider, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := c.TokenFromResponse(context.Background(), "account token", tc.body)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), testprovider.AccessToken)
				return
			}
			require.NoError(t, err)
			tc.check(t, tok)
		})
	}
}

func TestClientAccessors(t *testing.T) {
	p := testprovider.New(t)
	clock := time.Unix(1700000000, 0)
	cfg := mkConfig(p)
	cfg.Now = func() time.Time { return clock }
	cfg.MaxResponseBytes = 1234
	c := mkClient(t, cfg)
	require.Equal(t, cfg.RedirectURL, c.RedirectURL())
	require.Equal(t, int64(1234), c.MaxResponseBytes())
	require.Equal(t, clock, c.Now())

	// HTTPClient never follows a redirect.
	srv := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/elsewhere", http.StatusTemporaryRedirect))
	defer srv.Close()
	resp, err := c.HTTPClient().Post(srv.URL, "application/json", nil)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)

	req := httptest.NewRequest(http.MethodPost, "/", nil)
	require.NoError(t, c.SetClientAuth(req))
	id, secret, ok := req.BasicAuth()
	require.True(t, ok)
	require.Equal(t, p.ClientID, id)
	require.Equal(t, p.Secret, secret)

	cfg.ClientSecret = ""
	public := mkClient(t, cfg)
	req = httptest.NewRequest(http.MethodPost, "/", nil)
	require.ErrorIs(t, public.SetClientAuth(req), nextidentity.ErrInvalidConfig)
	require.Empty(t, req.Header.Get("Authorization"))

	dflt := mkClient(t, mkConfig(p))
	require.Equal(t, int64(nextidentity.DefaultMaxResponseBytes), dflt.MaxResponseBytes())
}
