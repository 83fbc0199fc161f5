package nextidentitytest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// Clients of the Token Service tests: a back-end service calling the API
// with client credentials, and the API itself (a resource server, which
// authenticates to introspect).
func serviceClients(format string) []nextidentitytest.Client {
	return []nextidentitytest.Client{
		nextidentitytest.DefaultClient(),
		{ID: "orders-sync", Secret: "sync-secret", Scopes: []string{"orders:read", "orders:write"}, AccessTokenFormat: format},
		{ID: "orders-api", Secret: "api-secret", Scopes: []string{"introspect"}},
	}
}

// tsClient is a library client for id at srv, with Audience set to the
// server's access token audience.
func tsClient(t *testing.T, srv *nextidentitytest.Server, id string) *nextidentity.Client {
	t.Helper()
	cfg := srv.ClientConfig(id)
	cfg.Audience = nextidentitytest.DefaultAccessTokenAudience
	c, err := nextidentity.New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestTokenServiceDiscovery(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	r := get(t, srv, srv.URL+string(nextidentitytest.EndpointDiscovery))
	var d map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &d))
	require.Equal(t, srv.URL+"/introspect", d["introspection_endpoint"])
	require.Equal(t, srv.URL+"/logout", d["revocation_endpoint"])
	require.Contains(t, d["grant_types_supported"], "client_credentials")
}

func TestClientCredentialsOpaque(t *testing.T) {
	ctx := t.Context()
	srv := newServer(t, nextidentitytest.Options{Clients: serviceClients("")})
	svc, api := tsClient(t, srv, "orders-sync"), tsClient(t, srv, "orders-api")

	tok, err := svc.ClientCredentials(ctx, "orders:read")
	require.NoError(t, err)
	require.Equal(t, "orders:read", tok.Scope)
	require.Empty(t, tok.RefreshToken)
	require.Empty(t, tok.RawIDToken)
	require.NotContains(t, tok.AccessToken, ".", "opaque by default")

	in, err := api.Introspect(ctx, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, "orders-sync", in.ClientID)
	require.Equal(t, "orders-sync", in.Subject)
	require.Equal(t, []string{"orders:read"}, in.Scopes)
	require.Equal(t, []string{nextidentitytest.DefaultAccessTokenAudience}, in.Audience)
	require.Equal(t, tok.Expiry.Unix(), in.Expiry.Unix())

	at, err := api.VerifyAccessToken(ctx, tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, "orders-sync", at.ClientID)

	// No scope asked: every scope of the client.
	all, err := svc.ClientCredentials(ctx)
	require.NoError(t, err)
	require.Equal(t, "orders:read orders:write", all.Scope)

	// A client credentials token is no user's: /userinfo refuses it.
	_, err = svc.UserInfo(ctx, tok)
	require.ErrorIs(t, err, nextidentity.ErrUnauthorized)
}

func TestClientCredentialsRefusals(t *testing.T) {
	ctx := t.Context()
	clients := append(serviceClients(""), nextidentitytest.Client{ID: "spa", RedirectURIs: []string{"http://127.0.0.1/cb"}, Scopes: []string{"x"}})
	srv := newServer(t, nextidentitytest.Options{Clients: clients})

	_, err := tsClient(t, srv, "orders-sync").ClientCredentials(ctx, "orders:delete")
	var pe *nextidentity.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "invalid_scope", pe.Code)

	_, err = tsClient(t, srv, nextidentitytest.DefaultClientID).ClientCredentials(ctx)
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "unauthorized_client", pe.Code, "a client without Scopes")

	cfg := srv.ClientConfig("orders-sync")
	cfg.ClientSecret = "wrong"
	wrong, err := nextidentity.New(ctx, cfg)
	require.NoError(t, err)
	defer wrong.Close()
	_, err = wrong.ClientCredentials(ctx)
	require.ErrorIs(t, err, nextidentity.ErrInvalidClient)
}

func TestClientCredentialsJWT(t *testing.T) {
	ctx := t.Context()
	for _, alg := range []string{"RS256", "ES256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			srv := newServer(t, nextidentitytest.Options{Clients: serviceClients(nextidentitytest.AccessTokenJWT), SigningAlg: alg})
			svc, api := tsClient(t, srv, "orders-sync"), tsClient(t, srv, "orders-api")
			tok, err := svc.ClientCredentials(ctx, "orders:read", "orders:write")
			require.NoError(t, err)
			hdr, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[0])
			require.NoError(t, err)
			require.Contains(t, string(hdr), `"typ":"at+jwt"`)

			at, err := api.VerifyAccessToken(ctx, tok.AccessToken)
			require.NoError(t, err)
			require.Equal(t, srv.Issuer(), at.Issuer)
			require.Equal(t, "orders-sync", at.ClientID)
			require.Equal(t, "orders-sync", at.Subject)
			require.NotEmpty(t, at.ID)
			require.Equal(t, []string{"orders:read", "orders:write"}, at.Scopes)
			require.Equal(t, []string{nextidentitytest.DefaultAccessTokenAudience}, at.Audience)
			require.Equal(t, tok.Expiry.Unix(), at.Expiry.Unix())
		})
	}
}

func TestJWTAccessTokenAudienceOption(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{Clients: serviceClients(nextidentitytest.AccessTokenJWT), AccessTokenAudience: "https://billing.example.com"})
	tok, err := tsClient(t, srv, "orders-sync").ClientCredentials(t.Context())
	require.NoError(t, err)
	_, err = tsClient(t, srv, "orders-api").VerifyAccessToken(t.Context(), tok.AccessToken)
	require.ErrorIs(t, err, nextidentity.ErrAudienceMismatch, "minted for another API")
}

// signIn runs the code flow for the default client with offline access.
func signIn(t *testing.T, srv *nextidentitytest.Server, c *nextidentity.Client) *nextidentity.Token {
	t.Helper()
	ar, err := c.AuthCodeURL(nextidentity.WithOfflineAccess())
	require.NoError(t, err)
	cb, err := srv.Login(t.Context(), ar.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	tok, err := c.Exchange(t.Context(), cb, ar)
	require.NoError(t, err)
	require.NotEmpty(t, tok.RefreshToken)
	return tok
}

func TestUserJWTAccessToken(t *testing.T) {
	def := nextidentitytest.DefaultClient()
	def.AccessTokenFormat = nextidentitytest.AccessTokenJWT
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{def, serviceClients("")[2]}})
	c := tsClient(t, srv, def.ID)
	tok := signIn(t, srv, c) // at_hash is over the JWT
	require.Equal(t, 2, strings.Count(tok.AccessToken, "."))
	_, err := c.UserInfo(t.Context(), tok)
	require.NoError(t, err)
	at, err := tsClient(t, srv, "orders-api").VerifyAccessToken(t.Context(), tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, nextidentitytest.DefaultUserSubject, at.Subject)
	require.Equal(t, def.ID, at.ClientID)
}

func TestRevokeAtTheFake(t *testing.T) {
	ctx := t.Context()
	srv := newServer(t, nextidentitytest.Options{Clients: serviceClients("")})
	c, api := tsClient(t, srv, nextidentitytest.DefaultClientID), tsClient(t, srv, "orders-api")
	require.Equal(t, nextidentity.RevocationRFC7009, c.RevocationMethod())
	tok := signIn(t, srv, c)
	_, err := api.Introspect(ctx, tok.AccessToken)
	require.NoError(t, err)

	require.NoError(t, c.Revoke(ctx, tok))
	require.Equal(t, 2, srv.Requests(nextidentitytest.EndpointRevoke))
	assertRevoked(t, c, api, tok)
}

func TestAccountLogoutAtTheFake(t *testing.T) {
	ctx := t.Context()
	srv := newServer(t, nextidentitytest.Options{Clients: serviceClients("")})
	c, api := tsClient(t, srv, nextidentitytest.DefaultClientID), tsClient(t, srv, "orders-api")

	first, second := signIn(t, srv, c), signIn(t, srv, c)
	logout := func(tok *nextidentity.Token, form url.Values) int {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+string(nextidentitytest.EndpointAccountLogout), strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return do(t, rawClient(srv), req).status
	}
	require.Equal(t, http.StatusOK, logout(first, url.Values{"refresh_token": {first.RefreshToken}}))
	assertRevoked(t, c, api, first)
	_, err := c.UserInfo(ctx, second)
	require.NoError(t, err, "only the tokens sent are revoked")
	require.Equal(t, http.StatusUnauthorized, logout(first, nil), "the access token is spent")

	third := signIn(t, srv, c)
	require.Equal(t, http.StatusOK, logout(third, url.Values{"all_sessions": {"true"}}))
	assertRevoked(t, c, api, second)
}

// assertRevoked checks that tok fails at /userinfo, /introspect and refresh.
func assertRevoked(t *testing.T, c, api *nextidentity.Client, tok *nextidentity.Token) {
	t.Helper()
	ctx := context.Background()
	_, err := c.UserInfo(ctx, tok)
	require.ErrorIs(t, err, nextidentity.ErrUnauthorized)
	_, err = api.Introspect(ctx, tok.AccessToken)
	require.ErrorIs(t, err, nextidentity.ErrInactiveToken)
	_, err = c.Refresh(ctx, tok)
	require.ErrorIs(t, err, nextidentity.ErrInvalidGrant)
}

func TestIntrospectNeedsAConfidentialClient(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{Clients: serviceClients("")})
	r := postForm(t, srv, string(nextidentitytest.EndpointIntrospect), url.Values{"token": {"x"}, "client_id": {"orders-api"}}, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	r = postForm(t, srv, string(nextidentitytest.EndpointIntrospect), url.Values{"token": {"unknown"}}, basic("orders-api", "api-secret"))
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"active":false}`, r.body)
}

// Without a revocation endpoint (no discovery here), the library's Revoke
// calls the account logout API.
func TestLibraryRevokeThroughAccountLogout(t *testing.T) {
	ctx := t.Context()
	srv := newServer(t, nextidentitytest.Options{Clients: serviceClients("")})
	cfg := srv.Config()
	cfg.AuthorizationEndpoint = srv.URL + string(nextidentitytest.EndpointAuthorize)
	cfg.TokenEndpoint = srv.URL + string(nextidentitytest.EndpointToken)
	cfg.UserInfoEndpoint = srv.URL + string(nextidentitytest.EndpointUserInfo)
	cfg.JWKSURL = srv.URL + string(nextidentitytest.EndpointJWKS)
	c, err := nextidentity.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	require.Zero(t, srv.Requests(nextidentitytest.EndpointDiscovery))
	require.Equal(t, nextidentity.RevocationAccountLogout, c.RevocationMethod())

	tok := signIn(t, srv, c)
	require.NoError(t, c.Revoke(ctx, tok))
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointAccountLogout))
	assertRevoked(t, c, tsClient(t, srv, "orders-api"), tok)
}

// Introspection of a user's tokens follows token_type_hint (a missed hint
// extends the search, RFC 7662 section 2.1) but reports a refresh token
// active only to the client holding it and asking about a refresh token: a
// resource server never learns that a refresh token is active.
func TestIntrospectRefreshTokenOnlyToItsClient(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{Clients: serviceClients("")})
	tok := signIn(t, srv, tsClient(t, srv, nextidentitytest.DefaultClientID))
	def := nextidentitytest.DefaultClient()
	tests := []struct {
		name, id, secret, token, hint string
		want                          string // "" inactive, else token_type
	}{
		{"API, refresh token, hint access_token", "orders-api", "api-secret", tok.RefreshToken, "access_token", ""},
		{"API, refresh token, hint refresh_token", "orders-api", "api-secret", tok.RefreshToken, "refresh_token", ""},
		{"API, refresh token, no hint", "orders-api", "api-secret", tok.RefreshToken, "", ""},
		{"holder, refresh token, hint access_token", def.ID, def.Secret, tok.RefreshToken, "access_token", ""},
		{"holder, refresh token, hint refresh_token", def.ID, def.Secret, tok.RefreshToken, "refresh_token", "refresh_token"},
		{"holder, refresh token, no hint", def.ID, def.Secret, tok.RefreshToken, "", "refresh_token"},
		{"API, access token, hint access_token", "orders-api", "api-secret", tok.AccessToken, "access_token", "Bearer"},
		{"API, access token, hint refresh_token", "orders-api", "api-secret", tok.AccessToken, "refresh_token", "Bearer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"token": {tc.token}}
			if tc.hint != "" {
				form.Set("token_type_hint", tc.hint)
			}
			r := postForm(t, srv, string(nextidentitytest.EndpointIntrospect), form, basic(tc.id, tc.secret))
			require.Equal(t, http.StatusOK, r.status)
			if tc.want == "" {
				require.JSONEq(t, `{"active":false}`, r.body)
				return
			}
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.body), &got))
			require.Equal(t, true, got["active"])
			require.Equal(t, tc.want, got["token_type"])
		})
	}
}
