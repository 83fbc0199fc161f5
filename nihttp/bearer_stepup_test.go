package nihttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// TestRequireBearerMaxAge: BearerOptions.MaxAge demands a recent sign-in
// of the token (its auth_time) with the RFC 9470 challenge.
func TestRequireBearerMaxAge(t *testing.T) {
	e := newBearerEnv(t)
	realm := `Bearer realm="` + bearerAudience + `"`
	challenge := realm + `, error="insufficient_user_authentication", error_description="A more recent sign-in is required", max_age=300`
	authAt := func(d time.Duration) func(map[string]any) {
		return func(m map[string]any) { m["auth_time"] = bearerNow.Add(-d).Unix() }
	}
	tests := []struct {
		name    string
		maxAge  time.Duration
		edit    func(map[string]any)
		status  int
		wwwAuth string
	}{
		{"fresh", 5 * time.Minute, authAt(time.Minute), http.StatusOK, ""},
		{"exactly maxAge", 5 * time.Minute, authAt(5 * time.Minute), http.StatusOK, ""},
		{"old", 5 * time.Minute, authAt(10 * time.Minute), http.StatusUnauthorized, challenge},
		{"missing auth_time", 5 * time.Minute, nil, http.StatusUnauthorized, challenge},
		{"maxAge in whole seconds", 5*time.Minute + 700*time.Millisecond, authAt(10 * time.Minute), http.StatusUnauthorized, challenge},
		{"no MaxAge: old is fine", 0, authAt(10 * time.Minute), http.StatusOK, ""},
		{"no MaxAge: missing is fine", 0, nil, http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			h := nihttp.RequireBearerWith(e.c, nihttp.BearerOptions{
				MaxAge:  tc.maxAge,
				OnError: func(_ *http.Request, _ int, err error) { got = err },
			})(okHandler)
			req := httptest.NewRequest(http.MethodPost, "/payments", nil)
			req.Header.Set("Authorization", "Bearer "+e.token("", tc.edit))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, tc.wwwAuth, rec.Header().Get("WWW-Authenticate"))
			if tc.status != http.StatusOK {
				require.Equal(t, http.StatusText(tc.status)+"\n", rec.Body.String())
				require.True(t, errors.Is(got, nextidentity.ErrAuthTooOld), "OnError is told why: %v", got)
			}
		})
	}
}

// TestRequireBearerMaxAgeFake: the fake's access tokens carry the user's
// auth_time, in a JWT access token and in the introspection answer for an
// opaque one, and a token older than MaxAge by the client's clock is
// refused.
func TestRequireBearerMaxAgeFake(t *testing.T) {
	for _, format := range []string{nextidentitytest.AccessTokenOpaque, nextidentitytest.AccessTokenJWT} {
		t.Run(format, func(t *testing.T) {
			clk := newClock()
			srv := nextidentitytest.NewServer(nextidentitytest.Options{
				Now: clk.Now,
				Clients: []nextidentitytest.Client{{
					ID: nextidentitytest.DefaultClientID, Secret: nextidentitytest.DefaultClientSecret,
					RedirectURIs: []string{nextidentitytest.DefaultRedirectURI}, AccessTokenFormat: format,
				}},
			})
			t.Cleanup(srv.Close)
			cfg := srv.Config()
			cfg.Now = clk.Now
			c, err := nextidentity.New(context.Background(), cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })

			ar, err := c.AuthCodeURL()
			require.NoError(t, err)
			signedIn := clk.Now()
			q, err := srv.Login(context.Background(), ar.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
			require.NoError(t, err)
			clk.Advance(30 * time.Second)
			tok, err := c.Exchange(context.Background(), q, ar)
			require.NoError(t, err)
			clk.Advance(4 * time.Minute)

			at, err := c.VerifyAccessToken(context.Background(), tok.AccessToken)
			require.NoError(t, err)
			require.WithinDuration(t, signedIn, at.AuthTime, 0)

			h := nihttp.RequireBearerWith(c, nihttp.BearerOptions{MaxAge: 5 * time.Minute})(okHandler)
			call := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodDelete, "/account", nil)
				req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			require.Equal(t, http.StatusOK, call().Code)
			clk.Advance(time.Minute) // 5.5 minutes after the sign-in; the token lives an hour
			rec := call()
			require.Equal(t, http.StatusUnauthorized, rec.Code)
			require.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="insufficient_user_authentication"`)
			require.Contains(t, rec.Header().Get("WWW-Authenticate"), `max_age=300`)
		})
	}
}
