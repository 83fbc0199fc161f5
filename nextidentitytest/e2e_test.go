package nextidentitytest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// TestEndToEndWithClient runs the nextidentity client against the fake
// provider: discovery, sign-in, code exchange, ID token verification,
// userinfo, refresh, silent re-authentication, key rotation and logout.
func TestEndToEndWithClient(t *testing.T) {
	for _, tc := range []struct {
		alg   string
		slash bool
	}{
		{"RS256", false}, {"ES256", false}, {"HS256", false}, {"RS256", true},
	} {
		name := tc.alg
		if tc.slash {
			name += " issuer with trailing slash"
		}
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			srv := newServer(t, nextidentitytest.Options{SigningAlg: tc.alg, IssuerTrailingSlash: tc.slash})
			client, err := nextidentity.New(ctx, srv.Config())
			require.NoError(t, err)
			t.Cleanup(func() { _ = client.Close() })
			require.Equal(t, srv.Issuer(), client.Issuer())

			ar, err := client.AuthCodeURL(nextidentity.WithOfflineAccess())
			require.NoError(t, err)
			callback, err := srv.Login(ctx, ar.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
			require.NoError(t, err)
			tok, err := client.Exchange(ctx, callback, ar)
			require.NoError(t, err)

			want := nextidentitytest.DefaultUser()
			require.Equal(t, want.Subject, tok.IDToken.Subject)
			require.Equal(t, want.Email, tok.IDToken.Email)
			require.True(t, tok.IDToken.EmailVerified)
			require.Equal(t, want.Name, tok.IDToken.Name)
			require.True(t, want.UpdatedAt.Equal(tok.IDToken.UpdatedAt))
			require.Equal(t, ar.Nonce, tok.IDToken.Nonce)
			var custom struct {
				Membership string `json:"membership"`
			}
			require.NoError(t, tok.IDToken.Claims(&custom))
			require.Equal(t, "gold", custom.Membership)
			require.NotEmpty(t, tok.RefreshToken)
			require.WithinDuration(t, time.Now().Add(time.Hour), tok.Expiry, time.Minute)

			ui, err := client.UserInfo(ctx, tok)
			require.NoError(t, err)
			require.Equal(t, want.Subject, ui.Subject)
			require.Equal(t, want.GivenName, ui.GivenName)
			require.Equal(t, want.Locale, ui.Locale)
			require.True(t, want.UpdatedAt.Equal(ui.UpdatedAt))

			refreshed, err := client.Refresh(ctx, tok)
			require.NoError(t, err)
			require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
			require.Equal(t, want.Subject, refreshed.IDToken.Subject)

			// The code was spent, and replaying it revokes what it produced.
			_, err = client.Exchange(ctx, callback, ar)
			require.ErrorIs(t, err, nextidentity.ErrInvalidGrant)

			// Silent re-authentication with the provider session, after a
			// key rotation the client has to notice.
			srv.RotateKeys()
			ar2, err := client.AuthCodeURL(nextidentity.WithPrompt("none"))
			require.NoError(t, err)
			callback2, err := srv.Authorize(ctx, ar2.URL)
			require.NoError(t, err)
			tok2, err := client.Exchange(ctx, callback2, ar2)
			require.NoError(t, err)
			require.Equal(t, want.Subject, tok2.IDToken.Subject)

			// Logout ends the provider session.
			_, _, err = srv.Browse(ctx, client.LogoutURL(nextidentity.LogoutRequest{
				PostLogoutRedirectURL: "http://127.0.0.1/",
				State:                 "bye",
				IDTokenHint:           tok2.RawIDToken,
			}))
			require.NoError(t, err)
			ar3, err := client.AuthCodeURL(nextidentity.WithPrompt("none"))
			require.NoError(t, err)
			callback3, err := srv.Authorize(ctx, ar3.URL)
			require.NoError(t, err)
			_, err = client.Exchange(ctx, callback3, ar3)
			require.ErrorIs(t, err, nextidentity.ErrLoginRequired)

			// Provider errors map onto the client's sentinels.
			tok2.AccessToken = "bogusbogusbogus1"
			_, err = client.UserInfo(ctx, tok2)
			require.ErrorIs(t, err, nextidentity.ErrUnauthorized)
		})
	}
}

// TestEndToEndFaults checks the client against injected provider failures.
func TestEndToEndFaults(t *testing.T) {
	ctx := t.Context()
	srv := newServer(t, nextidentitytest.Options{})

	srv.FailNext(nextidentitytest.EndpointDiscovery, 1, 503, "<h1>Service Unavailable</h1>")
	_, err := nextidentity.New(ctx, srv.Config())
	require.Error(t, err)

	client, err := nextidentity.New(ctx, srv.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })

	ar, err := client.AuthCodeURL()
	require.NoError(t, err)
	callback, err := srv.Login(ctx, ar.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)

	srv.SetLatency(nextidentitytest.EndpointToken, time.Hour)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = client.Exchange(short, callback, ar)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointToken))
	srv.SetLatency(nextidentitytest.EndpointToken, 0)

	// The abandoned request never reached the handler, so the code still works.
	tok, err := client.Exchange(ctx, callback, ar)
	require.NoError(t, err)
	require.Equal(t, nextidentitytest.DefaultUserSubject, tok.IDToken.Subject)

	srv.FailNext(nextidentitytest.EndpointUserInfo, 1, 401, `{"error":"http_exception","error_details":{"message":"Unauthorized"}}`)
	_, err = client.UserInfo(ctx, tok)
	require.ErrorIs(t, err, nextidentity.ErrUnauthorized)
}
