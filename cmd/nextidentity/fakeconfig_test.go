package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestParseFakeConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, config, want string
	}{
		{"not JSON", `{`, "unexpected EOF"},
		{"unknown field", `{"signing_algo":"RS256"}`, `unknown field "signing_algo"`},
		{"two values", `{} {}`, "more than one JSON value"},
		{"bad alg", `{"signing_alg":"PS256"}`, `signing_alg "PS256": want RS256, ES256 or HS256`},
		{"bad lifetime", `{"id_token_lifetime":"forever"}`, `id_token_lifetime "forever"`},
		{"negative lifetime", `{"id_token_lifetime":"-1h"}`, `id_token_lifetime "-1h"`},
		{"empty client id", `{"clients":[{"redirect_uris":["http://x/cb"]}]}`, "clients[0]: client_id is empty"},
		{"duplicate client", `{"clients":[{"client_id":"a","redirect_uris":["http://x/cb"]},{"client_id":"a","redirect_uris":["http://x/cb"]}]}`, `clients[1]: duplicate client_id "a"`},
		{"public client without redirect URI", `{"clients":[{"client_id":"a"}]}`, "clients[0] (a): a public client needs redirect_uris"},
		{"bad access token format", `{"clients":[{"client_id":"a","client_secret":"s","access_token_format":"paseto"}]}`, `access_token_format "paseto": want "opaque" or "jwt"`},
		{"bad back-channel logout URI", `{"clients":[{"client_id":"a","client_secret":"s","backchannel_logout_uri":"/logout"}]}`, "clients[0].backchannel_logout_uri"},
		{"relative redirect URI", `{"clients":[{"client_id":"a","redirect_uris":["/cb"]}]}`, "clients[0].redirect_uris[0]"},
		{"fragment in redirect URI", `{"clients":[{"client_id":"a","redirect_uris":["http://x/cb#f"]}]}`, "without a fragment"},
		{"bad logout URI", `{"clients":[{"client_id":"a","redirect_uris":["http://x/cb"],"post_logout_redirect_uris":["x"]}]}`, "post_logout_redirect_uris[0]"},
		{"HS256 public client", `{"signing_alg":"HS256","clients":[{"client_id":"a","redirect_uris":["http://x/cb"]}]}`, "this client has none"},
		{"user without password", `{"users":[{"email":"a@example.com"}]}`, "users[0]: email and password are required"},
		{"duplicate email", `{"users":[{"email":"a@example.com","password":"p"},{"email":"A@example.com","password":"p"}]}`, `users[1]: duplicate email "A@example.com"`},
		{"reserved claim", `{"users":[{"email":"a@example.com","password":"p","claims":{"sub":"x"}}]}`, `"sub" is set by the provider`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFakeConfig(strings.NewReader(tc.config))
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "nextidentity: config: "), err.Error())
		})
	}
}

func TestParseFakeConfigDefaults(t *testing.T) {
	opts, err := parseFakeConfig(strings.NewReader(`{}`))
	require.NoError(t, err)
	require.Equal(t, nextidentitytest.Options{
		SigningAlg: "RS256",
		Clients:    []nextidentitytest.Client{nextidentitytest.DefaultClient()},
		Users:      []nextidentitytest.User{nextidentitytest.DefaultUser()},
	}, opts)
}

func TestParseFakeConfigTooLarge(t *testing.T) {
	_, err := parseFakeConfig(strings.NewReader(`{"users":[` + strings.Repeat(" ", maxConfigBytes) + `]}`))
	require.ErrorContains(t, err, "exceeds size limit")
}

// The example file is what the README documents: every field reaches the
// fake, and a user's custom claims come out in the ID token.
func TestExampleConfigSignsInWithCustomClaims(t *testing.T) {
	opts, err := loadFakeConfig(filepath.Join("..", "..", "testdata", "fake.json"))
	require.NoError(t, err)
	require.Equal(t, time.Hour, opts.IDTokenLifetime)
	require.Equal(t, "RS256", opts.SigningAlg)
	require.Equal(t, []string{"http://localhost:3000/"}, opts.Clients[0].PostLogoutRedirectURIs)
	require.Empty(t, opts.Clients[1].Secret, "spa is a public client")
	require.Equal(t, "http://localhost:3000/backchannel-logout", opts.Clients[0].BackChannelLogoutURI)
	require.Equal(t, "https://api.example.com", opts.AccessTokenAudience)
	worker := opts.Clients[2]
	require.Empty(t, worker.RedirectURIs, "a back-end service needs no redirect URI")
	require.Equal(t, []string{"orders:read", "orders:write"}, worker.Scopes)
	require.Equal(t, nextidentitytest.AccessTokenJWT, worker.AccessTokenFormat)
	require.Equal(t, time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC), opts.Users[0].UpdatedAt)
	srv := newFake(t, opts)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client, err := nextidentity.New(ctx, srv.Config())
	require.NoError(t, err)
	defer client.Close()
	req, err := client.AuthCodeURL()
	require.NoError(t, err)
	q, err := srv.Login(ctx, req.URL, "ada@example.com", "correct horse")
	require.NoError(t, err)
	tok, err := client.Exchange(ctx, q, req)
	require.NoError(t, err)
	require.Equal(t, "7d6f7c1e-8a7e-4a55-9e3b-0c5a1d2e3f40", tok.IDToken.Subject)
	require.Equal(t, "Ada Lovelace", tok.IDToken.Name)
	require.Equal(t, time.Hour, tok.IDToken.Expiry.Sub(tok.IDToken.IssuedAt))
	var custom struct {
		Membership string   `json:"membership"`
		Roles      []string `json:"roles"`
	}
	require.NoError(t, tok.IDToken.Claims(&custom))
	require.Equal(t, "platinum", custom.Membership)
	require.Equal(t, []string{"admin", "editor"}, custom.Roles)

	// The back-end client gets JWT access tokens with the client credentials grant.
	backend, err := nextidentity.New(ctx, srv.ClientConfig("orders-worker"))
	require.NoError(t, err)
	defer backend.Close()
	at, err := backend.ClientCredentials(ctx, "orders:read")
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(at.AccessToken, "."), "a JWT access token")
}

func TestParseFakeConfigIssuerSlashAndHS256(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"signing_alg":"HS256","issuer_trailing_slash":true}`), 0o600))
	opts, err := loadFakeConfig(path)
	require.NoError(t, err)
	srv := newFake(t, opts)
	require.True(t, strings.HasSuffix(srv.Issuer(), "/"))
	tok := signIn(t, srv) // HS256 with the default client's secret
	require.Equal(t, srv.Issuer(), tok.IDToken.Issuer)
}
