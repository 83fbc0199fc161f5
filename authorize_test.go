package nextidentity_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
)

// offlineClient needs no provider: every endpoint is configured.
func offlineClient(t *testing.T, edit func(*nextidentity.Config)) *nextidentity.Client {
	cfg := nextidentity.Config{
		Issuer:                "https://id.example.com/",
		ClientID:              "client id",
		RedirectURL:           "https://app.example.com/cb",
		AuthorizationEndpoint: "https://id.example.com/authorize",
		TokenEndpoint:         "https://id.example.com/token",
		UserInfoEndpoint:      "https://id.example.com/userinfo",
		JWKSURL:               "https://id.example.com/jwks",
	}
	if edit != nil {
		edit(&cfg)
	}
	return mkClient(t, cfg)
}

func parseURL(t *testing.T, raw string) (*url.URL, url.Values) {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u, u.Query()
}

func TestAuthCodeURL(t *testing.T) {
	c := offlineClient(t, nil)
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	u, q := parseURL(t, ar.URL)
	require.Equal(t, "https://id.example.com/authorize", u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, "client id", q.Get("client_id"))
	require.Equal(t, "https://app.example.com/cb", q.Get("redirect_uri"))
	require.Equal(t, "openid profile email", q.Get("scope"))
	require.Equal(t, ar.State, q.Get("state"))
	require.Equal(t, ar.Nonce, q.Get("nonce"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	sum := sha256.Sum256([]byte(ar.CodeVerifier))
	require.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), q.Get("code_challenge"))
	require.NotContains(t, ar.URL, ar.CodeVerifier, "the verifier never leaves the app")

	// >= 128 bits of entropy each, base64url, and fresh every time.
	for _, s := range []string{ar.State, ar.Nonce, ar.CodeVerifier} {
		b, err := base64.RawURLEncoding.DecodeString(s)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(b), 16)
	}
	require.GreaterOrEqual(t, len(ar.CodeVerifier), 43, "RFC 7636 minimum")
	seen := map[string]bool{}
	for range 100 {
		ar, err := c.AuthCodeURL()
		require.NoError(t, err)
		for _, s := range []string{ar.State, ar.Nonce, ar.CodeVerifier} {
			require.False(t, seen[s], "repeated random value")
			seen[s] = true
		}
	}
}

func TestAuthCodeURLOptions(t *testing.T) {
	c := offlineClient(t, func(cfg *nextidentity.Config) { cfg.Scopes = []string{"email", "profile"} })
	ar, err := c.AuthCodeURL(
		nextidentity.WithPrompt("login", "consent"),
		nextidentity.WithMaxAge(90*time.Second),
		nextidentity.WithLoginHint("jane@example.com"),
		nextidentity.WithUILocales("fr-CA", "en"),
		nextidentity.WithOfflineAccess(),
		nextidentity.WithScopes("phone", "email"),
		nextidentity.WithParam("acr_values", "urn:mfa"),
	)
	require.NoError(t, err)
	_, q := parseURL(t, ar.URL)
	require.Equal(t, "login consent", q.Get("prompt"))
	require.Equal(t, "90", q.Get("max_age"))
	require.Equal(t, "jane@example.com", q.Get("login_hint"))
	require.Equal(t, "fr-CA en", q.Get("ui_locales"))
	require.Equal(t, "offline", q.Get("access_type"))
	require.Equal(t, "openid email profile phone", q.Get("scope"), "openid first, always, no duplicates")
	require.Equal(t, "urn:mfa", q.Get("acr_values"))
}

func TestWithParamCannotOverrideSecurityParameters(t *testing.T) {
	c := offlineClient(t, nil)
	for _, p := range []string{"state", "nonce", "code_challenge", "code_challenge_method", "redirect_uri", "client_id", "response_type", "scope"} {
		_, err := c.AuthCodeURL(nextidentity.WithParam(p, "x"))
		require.ErrorIs(t, err, nextidentity.ErrInvalidConfig, p)
	}
}

func TestAuthRequestIsJSONSerialisable(t *testing.T) {
	c := offlineClient(t, nil)
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	b, err := json.Marshal(ar)
	require.NoError(t, err)
	var back nextidentity.AuthRequest
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, *ar, back)
}

func TestRegisterPersonalDetailsAndLogoutURLs(t *testing.T) {
	c := offlineClient(t, nil)
	reg, err := c.RegisterURL(nextidentity.WithUILocales("de"))
	require.NoError(t, err)
	u, q := parseURL(t, reg.URL)
	require.Equal(t, "/register", u.Path, "issuer's trailing slash is not doubled")
	require.Equal(t, "de", q.Get("ui_locales"))
	require.Equal(t, reg.State, q.Get("state"))
	require.NotEmpty(t, q.Get("code_challenge"))

	pd, err := c.PersonalDetailsURL()
	require.NoError(t, err)
	u, q = parseURL(t, pd.URL)
	require.Equal(t, "/personal-details", u.Path)
	require.Equal(t, "code", q.Get("response_type"))

	lo := c.LogoutURL(nextidentity.LogoutRequest{PostLogoutRedirectURL: "https://app.example.com/bye", State: "s1", IDTokenHint: "a.b.c"})
	u, q = parseURL(t, lo)
	require.Equal(t, "https://id.example.com/endsession", u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, url.Values{
		"client_id":                {"client id"},
		"post_logout_redirect_uri": {"https://app.example.com/bye"},
		"state":                    {"s1"},
		"id_token_hint":            {"a.b.c"},
	}, q)

	c2 := offlineClient(t, func(cfg *nextidentity.Config) {
		cfg.EndSessionEndpoint = "https://id.example.com/logout?tenant=a"
	})
	require.True(t, strings.HasPrefix(c2.LogoutURL(nextidentity.LogoutRequest{}), "https://id.example.com/logout?tenant=a&client_id="))
}
