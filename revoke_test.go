package nextidentity_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

const (
	pathRevoke        = "/logout"
	pathAccountLogout = "/idp/v1/account/logout"
)

// revocation is one request seen by a revocation or account logout handler.
type revocation struct {
	token, hint, refresh, bearer, user string
}

// recorder answers with status and body and records every request.
type recorder struct {
	mu      sync.Mutex
	seen    []revocation
	answers map[string]int // token -> status; default 200
	body    map[string]any // the body of error answers
}

func (rc *recorder) handler(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	user, _, _ := r.BasicAuth()
	rv := revocation{
		token:   r.PostForm.Get("token"),
		hint:    r.PostForm.Get("token_type_hint"),
		refresh: r.PostForm.Get("refresh_token"),
		bearer:  bearerOf(r),
		user:    user,
	}
	rc.mu.Lock()
	rc.seen = append(rc.seen, rv)
	status, ok := rc.answers[rv.token]
	rc.mu.Unlock()
	if !ok {
		status = http.StatusOK
	}
	body := rc.body // for errors only
	if status == http.StatusOK {
		body = map[string]any{}
	}
	testprovider.WriteJSON(w, status, body)
}

// bearerOf is the request's Authorization header when it is a bearer one.
func bearerOf(r *http.Request) string {
	if a := r.Header.Get("Authorization"); len(a) > 7 && a[:7] == "Bearer " {
		return a
	}
	return ""
}

func (rc *recorder) requests() []revocation {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]revocation(nil), rc.seen...)
}

// revokingProvider lists a revocation endpoint in discovery when rfc7009,
// and serves the account logout API either way.
func revokingProvider(t *testing.T, rfc7009 bool) (*testprovider.Provider, *recorder, *recorder) {
	t.Helper()
	p := testprovider.New(t)
	rev, logout := &recorder{}, &recorder{}
	if rfc7009 {
		p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
			d := p.Discovery()
			d["revocation_endpoint"] = p.URL + pathRevoke
			testprovider.WriteJSON(w, http.StatusOK, d)
		})
	}
	p.Handle(pathRevoke, rev.handler)
	p.Handle(pathAccountLogout, logout.handler)
	return p, rev, logout
}

var userToken = &nextidentity.Token{AccessToken: "at-1", RefreshToken: "rt-1", TokenType: "Bearer"}

func TestRevokeRFC7009(t *testing.T) {
	p, rev, logout := revokingProvider(t, true)
	c := mkClient(t, mkConfig(p))
	require.Equal(t, nextidentity.RevocationRFC7009, c.RevocationMethod())
	require.NoError(t, c.Revoke(context.Background(), userToken))
	require.Equal(t, []revocation{
		{token: "rt-1", hint: "refresh_token", user: p.ClientID},
		{token: "at-1", hint: "access_token", user: p.ClientID},
	}, rev.requests(), "refresh token first, with client authentication")
	require.Empty(t, logout.requests())
}

func TestRevokeRFC7009Errors(t *testing.T) {
	tests := []struct {
		name     string
		answers  map[string]int
		body     map[string]any
		want     error // nil: Revoke succeeds
		attempts int
	}{
		{"access tokens not revocable", map[string]int{"at-1": http.StatusBadRequest}, map[string]any{"error": "unsupported_token_type"}, nil, 2},
		{"refresh token refused, access token still tried", map[string]int{"rt-1": http.StatusBadRequest}, map[string]any{"error": "invalid_request"}, nextidentity.ErrInvalidRequest, 2},
		{"client refused", map[string]int{"rt-1": http.StatusUnauthorized, "at-1": http.StatusUnauthorized}, map[string]any{"error": "invalid_client"}, nextidentity.ErrInvalidClient, 2},
		{"provider down", map[string]int{"rt-1": http.StatusServiceUnavailable}, map[string]any{"error": "temporarily_unavailable"}, nextidentity.ErrProviderUnreachable, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, rev, _ := revokingProvider(t, true)
			rev.answers, rev.body = tc.answers, tc.body
			err := mkClient(t, mkConfig(p)).Revoke(context.Background(), userToken)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
				require.ErrorIs(t, err, nextidentity.ErrProvider)
			}
			require.Len(t, rev.requests(), tc.attempts)
		})
	}
}

func TestRevokeEndpointOverride(t *testing.T) {
	p, rev, _ := revokingProvider(t, false)
	cfg := mkConfig(p)
	cfg.RevocationEndpoint = p.URL + pathRevoke
	c := mkClient(t, cfg)
	require.Equal(t, nextidentity.RevocationRFC7009, c.RevocationMethod())
	require.NoError(t, c.Revoke(context.Background(), &nextidentity.Token{RefreshToken: "rt-only"}))
	require.Equal(t, []revocation{{token: "rt-only", hint: "refresh_token", user: p.ClientID}}, rev.requests())
}

func TestRevokeAccountLogout(t *testing.T) {
	p, rev, logout := revokingProvider(t, false)
	c := mkClient(t, mkConfig(p))
	require.Equal(t, nextidentity.RevocationAccountLogout, c.RevocationMethod())
	require.NoError(t, c.Revoke(context.Background(), userToken))
	require.Equal(t, []revocation{{refresh: "rt-1", bearer: "Bearer at-1"}}, logout.requests())
	require.Empty(t, rev.requests())
}

func TestRevokeAccountLogoutErrors(t *testing.T) {
	p, _, logout := revokingProvider(t, false)
	logout.answers = map[string]int{"": http.StatusUnauthorized}
	logout.body = map[string]any{"error": "http_exception", "error_details": map[string]any{"message": "Unauthorized"}}
	c := mkClient(t, mkConfig(p))
	err := c.Revoke(context.Background(), userToken)
	require.ErrorIs(t, err, nextidentity.ErrUnauthorized)

	err = c.Revoke(context.Background(), &nextidentity.Token{RefreshToken: "rt-1"})
	require.Error(t, err, "the account logout API needs an access token")
	require.Len(t, logout.requests(), 1)
}

func TestRevokeNothingToRevoke(t *testing.T) {
	p, rev, logout := revokingProvider(t, true)
	c := mkClient(t, mkConfig(p))
	require.Error(t, c.Revoke(context.Background(), nil))
	require.Error(t, c.Revoke(context.Background(), &nextidentity.Token{}))
	require.Empty(t, rev.requests())
	require.Empty(t, logout.requests())
}

func TestRevokeDropsCachedAccessToken(t *testing.T) {
	ip := newIntrospectingProvider(t)
	ip.set(http.StatusOK, activeAnswer(ip.Provider, fixedNow))
	logout := &recorder{}
	ip.Handle(pathAccountLogout, logout.handler)
	c, _ := apiClient(t, ip.Provider, func(cfg *nextidentity.Config) { cfg.IntrospectionCacheTTL = time.Hour })

	_, err := c.VerifyAccessToken(context.Background(), "at-1")
	require.NoError(t, err)
	require.NoError(t, c.Revoke(context.Background(), userToken))
	ip.set(http.StatusOK, map[string]any{"active": false})
	_, err = c.VerifyAccessToken(context.Background(), "at-1")
	require.ErrorIs(t, err, nextidentity.ErrInactiveToken, "not served from the cache after Revoke")
}
