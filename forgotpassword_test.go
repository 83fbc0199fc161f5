package nextidentity_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

func TestForgotPasswordURL(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, mkConfig(p))
	req, err := c.ForgotPasswordURL(nextidentity.WithUILocales("en-US"))
	require.NoError(t, err)
	u, err := url.Parse(req.URL)
	require.NoError(t, err)
	require.Equal(t, p.Issuer+"/forgot-password", u.Scheme+"://"+u.Host+u.Path)
	q := u.Query()
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, p.ClientID, q.Get("client_id"))
	require.Equal(t, "http://127.0.0.1:9999/callback", q.Get("redirect_uri"))
	require.Equal(t, req.State, q.Get("state"))
	require.Equal(t, req.Nonce, q.Get("nonce"))
	require.Equal(t, "openid", q.Get("response_format"), "as in the provider's example")
	require.Equal(t, "en-US", q.Get("ui_locales"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.Contains(t, q.Get("scope"), "openid")

	req, err = c.ForgotPasswordURL(nextidentity.WithParam("response_format", "other"))
	require.NoError(t, err)
	require.Contains(t, req.URL, "response_format=other")

	cfg := mkConfig(p)
	cfg.ForgotPasswordEndpoint = "https://id.example.com/custom/forgot"
	req, err = mkClient(t, cfg).ForgotPasswordURL()
	require.NoError(t, err)
	require.Contains(t, req.URL, "https://id.example.com/custom/forgot?")

	cfg = mkConfig(p)
	cfg.RedirectURL = ""
	_, err = mkClient(t, cfg).ForgotPasswordURL()
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)

	cfg = mkConfig(p)
	cfg.ForgotPasswordEndpoint = "not a url"
	_, err = nextidentity.New(context.Background(), cfg)
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
}

func TestForgotPasswordCallback(t *testing.T) {
	p, c, now := fixedClient(t)
	ctx := context.Background()
	start := func(t *testing.T) *nextidentity.AuthRequest {
		req, err := c.ForgotPasswordURL()
		require.NoError(t, err)
		claims := p.Claims(now, req.Nonce)
		claims["at_hash"] = testprovider.AtHash(testprovider.AccessToken)
		p.Handle(testprovider.PathToken, testprovider.TokenResponse(testprovider.Sign("RS256", p.RSA, claims, nil)))
		return req
	}
	for _, tc := range []struct {
		name     string
		callback func(req *nextidentity.AuthRequest) url.Values
		wantErr  error
		signedIn bool
	}{
		{"code: signed in", func(r *nextidentity.AuthRequest) url.Values { return url.Values{"state": {r.State}, "code": {"c"}} }, nil, true},
		{"no code: sign in again", func(r *nextidentity.AuthRequest) url.Values { return url.Values{"state": {r.State}} }, nil, false},
		{"no state", func(*nextidentity.AuthRequest) url.Values { return url.Values{"code": {"c"}} }, nextidentity.ErrStateMismatch, false},
		{"other state, no code", func(*nextidentity.AuthRequest) url.Values { return url.Values{"state": {"forged"}} }, nextidentity.ErrStateMismatch, false},
		{"empty code", func(r *nextidentity.AuthRequest) url.Values { return url.Values{"state": {r.State}, "code": {""}} }, nextidentity.ErrMissingCode, false},
		{"two codes", func(r *nextidentity.AuthRequest) url.Values {
			return url.Values{"state": {r.State}, "code": {"a", "b"}}
		}, nextidentity.ErrInvalidCallback, false},
		{"error", func(r *nextidentity.AuthRequest) url.Values {
			return url.Values{"state": {r.State}, "error": {"access_denied"}}
		}, nextidentity.ErrAccessDenied, false},
		{"wrong iss", func(r *nextidentity.AuthRequest) url.Values {
			return url.Values{"state": {r.State}, "iss": {"https://evil.example"}}
		}, nextidentity.ErrIssuerMismatch, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := start(t)
			before := p.Count(testprovider.PathToken)
			tok, err := c.ForgotPasswordCallback(ctx, tc.callback(req), req)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Nil(t, tok)
				require.Equal(t, before, p.Count(testprovider.PathToken), "no code redeemed")
				return
			}
			require.NoError(t, err)
			if !tc.signedIn {
				require.Nil(t, tok)
				require.Equal(t, before, p.Count(testprovider.PathToken))
				return
			}
			require.NotNil(t, tok)
			require.Equal(t, testprovider.Subject, tok.IDToken.Subject)
			require.Equal(t, req.Nonce, tok.IDToken.Nonce)
		})
	}
	_, err := c.ForgotPasswordCallback(ctx, url.Values{"state": {"s"}}, &nextidentity.AuthRequest{State: "s"})
	require.ErrorIs(t, err, nextidentity.ErrIncompleteAuthRequest)
}
