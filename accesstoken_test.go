package nextidentity_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// apiAudience is the identifier of the API the access tokens in these tests
// are minted for.
const apiAudience = "https://api.example.com"

// atClaims are valid RFC 9068 access token claims from p at now.
func atClaims(p *testprovider.Provider, now time.Time) map[string]any {
	return map[string]any{
		"iss":       p.Issuer,
		"sub":       testprovider.Subject,
		"aud":       apiAudience,
		"client_id": p.ClientID,
		"jti":       "at-1",
		"scope":     "orders:read orders:write",
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"tenant":    "acme",
	}
}

// atHeader types a JWT as an access token.
var atHeader = map[string]any{"typ": "at+jwt"}

// apiClient is a resource server's client of p: Audience set, clock at
// fixedNow (movable through the returned clock).
func apiClient(t testing.TB, p *testprovider.Provider, edit func(*nextidentity.Config)) (*nextidentity.Client, *fakeClock) {
	t.Helper()
	clock := newFakeClock(fixedNow)
	cfg := mkConfig(p)
	cfg.Audience = apiAudience
	cfg.Now = clock.Now
	if edit != nil {
		edit(&cfg)
	}
	return mkClient(t, cfg), clock
}

func TestVerifyAccessTokenJWT(t *testing.T) {
	p := testprovider.New(t)
	c, _ := apiClient(t, p, nil)
	for _, typ := range []string{"at+jwt", "application/at+jwt", "AT+JWT"} {
		raw := testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), map[string]any{"typ": typ})
		at, err := c.VerifyAccessToken(context.Background(), raw)
		require.NoError(t, err, typ)
		require.Equal(t, p.Issuer, at.Issuer)
		require.Equal(t, testprovider.Subject, at.Subject)
		require.Equal(t, p.ClientID, at.ClientID)
		require.Equal(t, "at-1", at.ID)
		require.Equal(t, []string{apiAudience}, at.Audience)
		require.Equal(t, []string{"orders:read", "orders:write"}, at.Scopes)
		require.Equal(t, fixedNow, at.IssuedAt)
		require.Equal(t, fixedNow.Add(time.Hour), at.Expiry)
		require.True(t, at.HasScopes("orders:read"))
		require.False(t, at.HasScopes("orders:read", "admin"))
		var custom struct {
			Tenant string `json:"tenant"`
		}
		require.NoError(t, at.Claims(&custom))
		require.Equal(t, "acme", custom.Tenant)
	}
	require.Error(t, (&nextidentity.AccessToken{}).Claims(&struct{}{}))
}

func TestVerifyAccessTokenES256AndScopeArray(t *testing.T) {
	p := testprovider.New(t)
	c, _ := apiClient(t, p, nil)
	cl := atClaims(p, fixedNow)
	cl["scope"] = []string{"a", "b"}
	cl["aud"] = []string{"other", apiAudience}
	at, err := c.VerifyAccessToken(context.Background(), testprovider.Sign("ES256", p.EC, cl, atHeader))
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, at.Scopes)
	require.Equal(t, []string{"other", apiAudience}, at.Audience)
}

func TestVerifyAccessTokenRejects(t *testing.T) {
	p := testprovider.New(t)
	c, _ := apiClient(t, p, nil)
	with := func(edit func(map[string]any)) map[string]any {
		cl := atClaims(p, fixedNow)
		edit(cl)
		return cl
	}
	valid := testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), atHeader)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`))
	tests := []struct {
		name string
		raw  string
		kind error // besides ErrInvalidAccessToken; nil for none
	}{
		{"ID token (typ JWT, aud client id)", testprovider.Sign("RS256", p.RSA, p.Claims(fixedNow, "n"), nil), nil},
		{"ID token typed as access token: aud gives it away", testprovider.Sign("RS256", p.RSA, p.Claims(fixedNow, "n"), atHeader), nextidentity.ErrAudienceMismatch},
		{"no typ", testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), map[string]any{"typ": nil}), nil},
		{"logout token typ", testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), map[string]any{"typ": "logout+jwt"}), nil},
		{"other issuer", testprovider.Sign("RS256", p.RSA, with(func(m map[string]any) { m["iss"] = p.Issuer + "/" }), atHeader), nextidentity.ErrIssuerMismatch},
		{"other API", testprovider.Sign("RS256", p.RSA, with(func(m map[string]any) { m["aud"] = "https://other.example.com" }), atHeader), nextidentity.ErrAudienceMismatch},
		{"no aud", testprovider.Sign("RS256", p.RSA, with(func(m map[string]any) { delete(m, "aud") }), atHeader), nextidentity.ErrAudienceMismatch},
		{"expired beyond leeway", testprovider.Sign("RS256", p.RSA, with(func(m map[string]any) { m["exp"] = fixedNow.Add(-61 * time.Second).Unix() }), atHeader), nextidentity.ErrTokenExpired},
		{"no exp", testprovider.Sign("RS256", p.RSA, with(func(m map[string]any) { delete(m, "exp") }), atHeader), nil},
		{"issued in the future", testprovider.Sign("RS256", p.RSA, with(func(m map[string]any) { m["iat"] = fixedNow.Add(2 * time.Minute).Unix() }), atHeader), nil},
		{"not yet valid", testprovider.Sign("RS256", p.RSA, with(func(m map[string]any) { m["nbf"] = fixedNow.Add(2 * time.Minute).Unix() }), atHeader), nil},
		{"case-folded claim", testprovider.Sign("RS256", p.RSA, with(func(m map[string]any) { m["EXP"] = fixedNow.Add(48 * time.Hour).Unix() }), atHeader), nil},
		{"scope not a string", testprovider.Sign("RS256", p.RSA, with(func(m map[string]any) { m["scope"] = 7 }), atHeader), nil},
		{"HS256 with the client secret", testprovider.SignHS("HS256", p.Secret, atClaims(p, fixedNow)), nextidentity.ErrInvalidSignature},
		{"alg none", none + "." + base64.RawURLEncoding.EncodeToString([]byte(`{}`)) + ".", nextidentity.ErrInvalidSignature},
		{"signed by an unpublished key", testprovider.Sign("RS256", &testprovider.Key{KID: "rsa1", Private: p.RSA2.Private}, atClaims(p, fixedNow), atHeader), nextidentity.ErrInvalidSignature},
		{"crit header", testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), map[string]any{"typ": "at+jwt", "crit": []string{"exp"}}), nextidentity.ErrInvalidSignature},
		{"prefix of a valid token", valid[:len(valid)-1], nil},
		{"not a JWT, no introspection endpoint", "opaque-token-value", nil},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The valid token is cached first: a prefix must not hit it.
			_, err := c.VerifyAccessToken(context.Background(), valid)
			require.NoError(t, err)
			at, err := c.VerifyAccessToken(context.Background(), tc.raw)
			t.Log(err)
			require.Nil(t, at)
			require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken)
			require.NotErrorIs(t, err, nextidentity.ErrInvalidIDToken)
			if tc.kind != nil {
				require.ErrorIs(t, err, tc.kind)
			}
		})
	}
}

func TestVerifyAccessTokenLeewayAndExpiry(t *testing.T) {
	p := testprovider.New(t)
	c, clock := apiClient(t, p, nil)
	raw := testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), atHeader)
	_, err := c.VerifyAccessToken(context.Background(), raw)
	require.NoError(t, err)

	clock.Advance(time.Hour + 30*time.Second) // expired, within the leeway
	_, err = c.VerifyAccessToken(context.Background(), raw)
	require.NoError(t, err)

	clock.Advance(31 * time.Second) // beyond the leeway: the cache must not lie
	_, err = c.VerifyAccessToken(context.Background(), raw)
	require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken)
	require.ErrorIs(t, err, nextidentity.ErrTokenExpired)
}

func TestVerifyAccessTokenConfiguredTypes(t *testing.T) {
	p := testprovider.New(t)
	// A tenant whose access tokens carry no typ.
	c, _ := apiClient(t, p, func(cfg *nextidentity.Config) { cfg.AccessTokenTypes = []string{""} })
	_, err := c.VerifyAccessToken(context.Background(), testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), map[string]any{"typ": nil}))
	require.NoError(t, err)
	_, err = c.VerifyAccessToken(context.Background(), testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), atHeader))
	require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken, "only the configured types")
	// An untyped ID token is still refused, by its audience.
	_, err = c.VerifyAccessToken(context.Background(), testprovider.Sign("RS256", p.RSA, p.Claims(fixedNow, "n"), map[string]any{"typ": nil}))
	require.ErrorIs(t, err, nextidentity.ErrAudienceMismatch)
}

func TestVerifyAccessTokenWithoutAudience(t *testing.T) {
	// Without Config.Audience any audience is accepted (the docs warn).
	p := testprovider.New(t)
	c, _ := apiClient(t, p, func(cfg *nextidentity.Config) { cfg.Audience = "" })
	cl := atClaims(p, fixedNow)
	cl["aud"] = "https://other.example.com"
	_, err := c.VerifyAccessToken(context.Background(), testprovider.Sign("RS256", p.RSA, cl, atHeader))
	require.NoError(t, err)
}

func TestVerifyAccessTokenReturnsCopies(t *testing.T) {
	p := testprovider.New(t)
	c, _ := apiClient(t, p, nil)
	raw := testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), atHeader)
	first, err := c.VerifyAccessToken(context.Background(), raw)
	require.NoError(t, err)
	first.Subject = "changed by the caller"
	second, err := c.VerifyAccessToken(context.Background(), raw)
	require.NoError(t, err)
	require.Equal(t, testprovider.Subject, second.Subject)
}

func TestVerifyAccessTokenKeyRotationDropsCachedTokens(t *testing.T) {
	p := testprovider.New(t)
	c, _ := apiClient(t, p, func(cfg *nextidentity.Config) { cfg.JWKSUnknownKIDInterval = time.Nanosecond })
	old := testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), atHeader)
	_, err := c.VerifyAccessToken(context.Background(), old)
	require.NoError(t, err)

	// The provider rotates rsa1 out; a token with the new kid makes the
	// client fetch the new set.
	p.SetKeys(p.RSA2)
	_, err = c.VerifyAccessToken(context.Background(), testprovider.Sign("RS256", p.RSA2, atClaims(p, fixedNow), atHeader))
	require.NoError(t, err)

	_, err = c.VerifyAccessToken(context.Background(), old)
	require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken)
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
}

func TestVerifyAccessTokenJWKSDown(t *testing.T) {
	p := testprovider.New(t)
	c, _ := apiClient(t, p, nil)
	p.Handle(testprovider.PathJWKS, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	_, err := c.VerifyAccessToken(context.Background(), testprovider.Sign("RS256", p.RSA, atClaims(p, fixedNow), atHeader))
	require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken)
	require.ErrorIs(t, err, nextidentity.ErrProviderUnreachable)
}

// Explicit typing works both ways: an access token whose audience is the
// client id is still no ID token.
func TestAccessTokenIsNoIDToken(t *testing.T) {
	p := testprovider.New(t)
	c, _ := apiClient(t, p, nil)
	cl := p.Claims(fixedNow, "")
	for _, typ := range []string{"at+jwt", "Application/AT+JWT", "logout+jwt"} {
		_, err := c.VerifyIDToken(context.Background(), testprovider.Sign("RS256", p.RSA, cl, map[string]any{"typ": typ}), "")
		require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken, typ)
	}
	_, err := c.VerifyIDToken(context.Background(), testprovider.Sign("RS256", p.RSA, cl, map[string]any{"typ": "JWT"}), "")
	require.NoError(t, err)
}
