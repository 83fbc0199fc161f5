package nextidentitytest_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// fullUser has every standard claim the fake models, and a custom one.
func fullUser() nextidentitytest.User {
	u := nextidentitytest.DefaultUser()
	u.PhoneNumber, u.PhoneNumberVerified = "+15555550100", true
	return u
}

// userClaimNames are the claims that are neither the ID token's envelope
// (iss, aud, exp, ...) nor "sub".
func userClaimNames(c map[string]any) []string {
	out := []string{}
	for k := range maps.Keys(c) {
		switch k {
		case "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash":
		default:
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func TestScopesDecideClaims(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{Users: []nextidentitytest.User{fullUser()}})
	for _, tc := range []struct {
		scope string
		want  []string
	}{
		{"openid", []string{"membership"}},
		{"openid email", []string{"email", "email_verified", "membership"}},
		{"openid profile", []string{"family_name", "given_name", "locale", "membership", "name", "updated_at"}},
		{"openid phone", []string{"membership", "phone_number", "phone_number_verified"}},
		{"openid address", []string{"membership"}},
		{"openid profile email phone offline_access", []string{
			"email", "email_verified", "family_name", "given_name", "locale", "membership",
			"name", "phone_number", "phone_number_verified", "updated_at",
		}},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			srv.ForgetSession()
			p := newPKCE(t)
			tk := exchange(t, srv, login(t, srv, p, map[string]string{"scope": tc.scope}).Get("code"), p)
			require.Equal(t, tc.scope, tk.Scope)

			_, idc := verify(t, srv, tk.IDToken)
			require.Equal(t, nextidentitytest.DefaultUserSubject, idc["sub"])
			require.Equal(t, tc.want, userClaimNames(idc), "ID token")

			r := userInfo(t, srv, http.MethodGet, "Bearer "+tk.AccessToken)
			require.Equal(t, http.StatusOK, r.status, r.body)
			var ui map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.body), &ui))
			require.Equal(t, nextidentitytest.DefaultUserSubject, ui["sub"])
			require.Equal(t, tc.want, userClaimNames(ui), "userinfo")
			require.Equal(t, "gold", ui["membership"], "custom claims whatever the scope")
		})
	}
}

func TestRefreshWithFewerScopesReleasesFewerClaims(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	tk := exchange(t, srv, login(t, srv, p, nil).Get("code"), p)
	r := postForm(t, srv, "/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}, "scope": {"openid email"},
	}, basic(nextidentitytest.DefaultClientID, nextidentitytest.DefaultClientSecret))
	require.Equal(t, http.StatusOK, r.status, r.body)
	var narrowed tokens
	require.NoError(t, json.Unmarshal([]byte(r.body), &narrowed))
	_, idc := verify(t, srv, narrowed.IDToken)
	require.Equal(t, []string{"email", "email_verified", "membership"}, userClaimNames(idc))
	ui := userInfo(t, srv, http.MethodGet, "Bearer "+narrowed.AccessToken)
	require.NotContains(t, ui.body, `"name"`)
	require.Contains(t, ui.body, `"email":"jane@example.com"`)
}

// An app that forgets the "email" scope gets no email, in the ID token or
// from /userinfo, and its test fails as it would against the provider.
func TestAppThatForgetsTheEmailScopeSeesNoEmail(t *testing.T) {
	ctx := t.Context()
	srv := newServer(t, nextidentitytest.Options{})
	cfg := srv.Config()
	cfg.Scopes = []string{"openid", "profile"}
	client, err := nextidentity.New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })

	ar, err := client.AuthCodeURL()
	require.NoError(t, err)
	q, err := srv.Login(ctx, ar.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	tok, err := client.Exchange(ctx, q, ar)
	require.NoError(t, err)
	require.Equal(t, "Jane Doe", tok.IDToken.Name)
	require.Empty(t, tok.IDToken.Email)
	require.False(t, tok.IDToken.EmailVerified)

	info, err := client.UserInfo(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, "Jane Doe", info.Name)
	require.Empty(t, info.Email)
}
