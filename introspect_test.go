package nextidentity_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

const pathIntrospect = "/introspect"

// introspectingProvider is a provider whose discovery lists an introspection
// endpoint answering with answer (status 200); it records the last form.
type introspectingProvider struct {
	*testprovider.Provider
	mu     sync.Mutex
	answer map[string]any
	status int
	form   url.Values
	user   string
	pass   string
	calls  int
}

func newIntrospectingProvider(t *testing.T) *introspectingProvider {
	t.Helper()
	ip := &introspectingProvider{Provider: testprovider.New(t), status: http.StatusOK}
	ip.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
		d := ip.Discovery()
		d["introspection_endpoint"] = ip.URL + pathIntrospect
		testprovider.WriteJSON(w, http.StatusOK, d)
	})
	ip.Handle(pathIntrospect, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		ip.mu.Lock()
		defer ip.mu.Unlock()
		ip.calls++
		ip.form = r.PostForm
		ip.user, ip.pass, _ = r.BasicAuth()
		testprovider.WriteJSON(w, ip.status, ip.answer)
	})
	return ip
}

func (ip *introspectingProvider) set(status int, answer map[string]any) {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	ip.status, ip.answer = status, answer
}

func (ip *introspectingProvider) count() int {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	return ip.calls
}

func activeAnswer(p *testprovider.Provider, now time.Time) map[string]any {
	return map[string]any{
		"active":     true,
		"iss":        p.Issuer,
		"sub":        testprovider.Subject,
		"client_id":  "service-a",
		"username":   "jane@example.com",
		"token_type": "Bearer",
		"jti":        "op-1",
		"scope":      "orders:read",
		"aud":        apiAudience,
		"exp":        now.Add(time.Hour).Unix(),
		"iat":        now.Unix(),
		"tenant":     "acme",
	}
}

func TestIntrospect(t *testing.T) {
	ip := newIntrospectingProvider(t)
	ip.set(http.StatusOK, activeAnswer(ip.Provider, fixedNow))
	c, _ := apiClient(t, ip.Provider, nil)

	in, err := c.Introspect(context.Background(), "opaque-1")
	require.NoError(t, err)
	require.True(t, in.Active)
	require.Equal(t, ip.Issuer, in.Issuer)
	require.Equal(t, testprovider.Subject, in.Subject)
	require.Equal(t, "service-a", in.ClientID)
	require.Equal(t, "jane@example.com", in.Username)
	require.Equal(t, "Bearer", in.TokenType)
	require.Equal(t, "op-1", in.ID)
	require.Equal(t, []string{"orders:read"}, in.Scopes)
	require.Equal(t, []string{apiAudience}, in.Audience)
	require.Equal(t, fixedNow.Add(time.Hour), in.Expiry)
	require.Equal(t, fixedNow, in.IssuedAt)
	var custom struct {
		Tenant string `json:"tenant"`
	}
	require.NoError(t, in.Claims(&custom))
	require.Equal(t, "acme", custom.Tenant)
	require.Error(t, (&nextidentity.Introspection{}).Claims(&custom))

	require.Equal(t, "opaque-1", ip.form.Get("token"))
	require.Equal(t, "access_token", ip.form.Get("token_type_hint"))
	require.Equal(t, ip.ClientID, ip.user, "client authentication as at the token endpoint")
	require.Equal(t, ip.Secret, ip.pass)
}

func TestIntrospectErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		answer map[string]any
		want   error
	}{
		{"inactive", http.StatusOK, map[string]any{"active": false}, nextidentity.ErrInactiveToken},
		{"no active member", http.StatusOK, map[string]any{"sub": "x"}, nextidentity.ErrMalformedResponse},
		{"active not a boolean", http.StatusOK, map[string]any{"active": "true"}, nextidentity.ErrMalformedResponse},
		{"client refused", http.StatusUnauthorized, map[string]any{"error": "invalid_client"}, nextidentity.ErrInvalidClient},
		{"error body with 200", http.StatusOK, map[string]any{"stat": "error", "error": "invalid_request"}, nextidentity.ErrInvalidRequest},
		{"provider down", http.StatusServiceUnavailable, map[string]any{"error": "temporarily_unavailable"}, nextidentity.ErrProviderUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip := newIntrospectingProvider(t)
			ip.set(tc.status, tc.answer)
			c, _ := apiClient(t, ip.Provider, nil)
			in, err := c.Introspect(context.Background(), "opaque-1")
			require.Nil(t, in)
			require.ErrorIs(t, err, tc.want)

			// VerifyAccessToken refuses it under its umbrella too, except
			// for the provider's own refusal of this client.
			_, err = c.VerifyAccessToken(context.Background(), "opaque-1")
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// An active token of another type than an access token (a refresh token,
// an ID token, a DPoP-bound token whose proof a bearer check never sees) is
// refused by Introspect and VerifyAccessToken; an absent token_type, and the
// spellings of an access token, are accepted.
func TestIntrospectTokenType(t *testing.T) {
	tests := []struct {
		tokenType any // nil: no token_type member
		ok        bool
	}{
		{nil, true},
		{"Bearer", true},
		{"bearer", true},
		{"access_token", true},
		{"urn:ietf:params:oauth:token-type:access_token", true},
		{"refresh_token", false},
		{"Refresh_Token", false},
		{"urn:ietf:params:oauth:token-type:refresh_token", false},
		{"id_token", false},
		{"N_A", false},
		{"DPoP", false},
		{"mac", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.tokenType), func(t *testing.T) {
			ip := newIntrospectingProvider(t)
			answer := map[string]any{"active": true, "sub": "user-1", "aud": apiAudience}
			if tc.tokenType != nil {
				answer["token_type"] = tc.tokenType
			}
			ip.set(http.StatusOK, answer)
			c, _ := apiClient(t, ip.Provider, nil)
			in, err := c.Introspect(context.Background(), "opaque-1")
			_, verr := c.VerifyAccessToken(context.Background(), "opaque-1")
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, "user-1", in.Subject)
				require.NoError(t, verr)
				return
			}
			require.Nil(t, in)
			require.ErrorIs(t, err, nextidentity.ErrNotAccessToken)
			require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken)
			require.ErrorIs(t, verr, nextidentity.ErrNotAccessToken)
			require.ErrorIs(t, verr, nextidentity.ErrInvalidAccessToken)
			require.NotErrorIs(t, verr, nextidentity.ErrInactiveToken)
		})
	}
}

func TestIntrospectWithoutEndpoint(t *testing.T) {
	p := testprovider.New(t)
	c, _ := apiClient(t, p, nil)
	_, err := c.Introspect(context.Background(), "opaque-1")
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
}

func TestIntrospectUnreachable(t *testing.T) {
	p := testprovider.New(t)
	c, _ := apiClient(t, p, func(cfg *nextidentity.Config) { cfg.IntrospectionEndpoint = "http://127.0.0.1:1/introspect" })
	_, err := c.Introspect(context.Background(), "opaque-1")
	require.ErrorIs(t, err, nextidentity.ErrProviderUnreachable)
	_, err = c.VerifyAccessToken(context.Background(), "opaque-1")
	require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken)
	require.ErrorIs(t, err, nextidentity.ErrProviderUnreachable)
}

func TestVerifyAccessTokenOpaque(t *testing.T) {
	ip := newIntrospectingProvider(t)
	ip.set(http.StatusOK, activeAnswer(ip.Provider, fixedNow))
	c, clock := apiClient(t, ip.Provider, func(cfg *nextidentity.Config) { cfg.IntrospectionCacheTTL = 20 * time.Second })

	at, err := c.VerifyAccessToken(context.Background(), "opaque-1")
	require.NoError(t, err)
	require.Equal(t, testprovider.Subject, at.Subject)
	require.Equal(t, "service-a", at.ClientID)
	require.Equal(t, []string{"orders:read"}, at.Scopes)
	var custom struct {
		Tenant string `json:"tenant"`
	}
	require.NoError(t, at.Claims(&custom))
	require.Equal(t, "acme", custom.Tenant)

	// Cached for the TTL: the revocation is seen once it has passed.
	_, err = c.VerifyAccessToken(context.Background(), "opaque-1")
	require.NoError(t, err)
	require.Equal(t, 1, ip.count())
	ip.set(http.StatusOK, map[string]any{"active": false})
	clock.Advance(19 * time.Second)
	_, err = c.VerifyAccessToken(context.Background(), "opaque-1")
	require.NoError(t, err, "within the TTL")
	clock.Advance(time.Second)
	_, err = c.VerifyAccessToken(context.Background(), "opaque-1")
	require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken)
	require.ErrorIs(t, err, nextidentity.ErrInactiveToken)
	require.Equal(t, 2, ip.count())
}

func TestVerifyAccessTokenOpaqueCacheNeverOutlivesExp(t *testing.T) {
	ip := newIntrospectingProvider(t)
	answer := activeAnswer(ip.Provider, fixedNow)
	answer["exp"] = fixedNow.Add(5 * time.Second).Unix()
	ip.set(http.StatusOK, answer)
	c, clock := apiClient(t, ip.Provider, func(cfg *nextidentity.Config) { cfg.IntrospectionCacheTTL = time.Minute })
	_, err := c.VerifyAccessToken(context.Background(), "opaque-1")
	require.NoError(t, err)
	clock.Advance(5 * time.Second)
	_, err = c.VerifyAccessToken(context.Background(), "opaque-1")
	require.NoError(t, err)
	require.Equal(t, 2, ip.count(), "asked again once exp passed, though the TTL had not")
}

func TestVerifyAccessTokenOpaqueNoCache(t *testing.T) {
	ip := newIntrospectingProvider(t)
	ip.set(http.StatusOK, activeAnswer(ip.Provider, fixedNow))
	c, _ := apiClient(t, ip.Provider, func(cfg *nextidentity.Config) { cfg.IntrospectionCacheTTL = -1 })
	for range 3 {
		_, err := c.VerifyAccessToken(context.Background(), "opaque-1")
		require.NoError(t, err)
	}
	require.Equal(t, 3, ip.count())
}

func TestVerifyAccessTokenOpaqueRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(map[string]any)
		kind error
	}{
		{"other API", func(m map[string]any) { m["aud"] = "https://other.example.com" }, nextidentity.ErrAudienceMismatch},
		{"other issuer", func(m map[string]any) { m["iss"] = "https://evil.example.com" }, nextidentity.ErrIssuerMismatch},
		{"expired", func(m map[string]any) { m["exp"] = fixedNow.Add(-time.Hour).Unix() }, nextidentity.ErrTokenExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ip := newIntrospectingProvider(t)
			answer := activeAnswer(ip.Provider, fixedNow)
			tc.edit(answer)
			ip.set(http.StatusOK, answer)
			c, _ := apiClient(t, ip.Provider, nil)
			_, err := c.VerifyAccessToken(context.Background(), "opaque-1")
			require.ErrorIs(t, err, nextidentity.ErrInvalidAccessToken)
			require.ErrorIs(t, err, tc.kind)
		})
	}
}
