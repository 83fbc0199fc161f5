package nextidentitytest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func forgotBody(user string) map[string]any {
	return map[string]any{
		"client_id": nextidentitytest.DefaultClientID, "auth_type": "email", "user_id": user,
		"redirect_uri": nextidentitytest.DefaultRedirectURI, "locale": "en-US",
	}
}

func TestAPIForgotPasswordAnswers(t *testing.T) {
	newSrv := func(t *testing.T) *nextidentitytest.Server { return loginServer(t, nextidentitytest.Options{}) }
	rows := []apiCase{
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "hosted-only client", edit: map[string]any{"client_id": hostedClientID}, status: 403, err: "forbidden", desc: "The client is not configured for the API integration."},
		{name: "no auth_type", edit: map[string]any{"auth_type": del}, status: 422, err: "invalid_parameters", details: `{"auth_type":"field required"}`},
		{name: "bad auth_type", edit: map[string]any{"auth_type": "phone"}, status: 422, err: "invalid_parameters", details: `{"auth_type":{"invalid":"unsupported auth_type value"}}`},
		{name: "no user_id", edit: map[string]any{"user_id": del}, status: 422, err: "invalid_parameters", details: `{"user_id":"field required"}`},
		{name: "unregistered redirect_uri", edit: map[string]any{"redirect_uri": "https://evil.example/"}, status: 422, err: "invalid_parameters", details: `{"redirect_uri":{"invalid":"invalid value"}}`},
		{name: "no redirect_uri", edit: map[string]any{"redirect_uri": del}, status: 422, err: "http_exception", desc: "missing_argument Missing Parameter: redirect_uri", details: "null"},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointAccountForgotPassword, fixed(forgotBody(nextidentitytest.DefaultUserEmail)), nil, rows, nil)

	for _, tc := range []struct {
		name, user string
		sends      bool
	}{
		{"known user", nextidentitytest.DefaultUserEmail, true},
		{"unverified user", unverifiedEmail, true},
		{"unknown user", "nobody@example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSrv(t)
			r := postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, forgotBody(tc.user), nil)
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.JSONEq(t, `{"message":"An email has been sent to the address on record."}`, r.body)
			msg, ok := srv.LastMessage(tc.user)
			require.Equal(t, tc.sends, ok)
			if tc.sends {
				require.Equal(t, nextidentitytest.MessageForgotPassword, msg.Kind)
				require.Regexp(t, sixDigits, msg.PIN)
				u, err := url.Parse(msg.Link)
				require.NoError(t, err)
				require.Equal(t, nextidentitytest.DefaultRedirectURI, u.Scheme+"://"+u.Host+u.Path)
				require.Equal(t, msg.PIN, u.Query().Get("code"))
				require.Equal(t, tc.user, u.Query().Get("user_id"))
			}
		})
	}
}

// pinTokens runs the API forgot-password to the PIN grant and returns the
// access token.
func pinTokens(t *testing.T, srv *nextidentitytest.Server, user string) string {
	t.Helper()
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, forgotBody(user), nil).status)
	msg, ok := srv.LastMessage(user)
	require.True(t, ok)
	tok := body(apiTokenBody(msg.PIN), map[string]any{"grant_type": "pin", "user_id": user})
	r := postJSON(t, srv, nextidentitytest.EndpointAccountToken, tok, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	// The PIN is single-use.
	require.Equal(t, http.StatusForbidden, postJSON(t, srv, nextidentitytest.EndpointAccountToken, tok, nil).status)
	return decode(t, r)["access_token"].(string)
}

func TestAPIForgotPasswordPINThenChangePassword(t *testing.T) {
	srv := loginServer(t, nextidentitytest.Options{})
	access := pinTokens(t, srv, nextidentitytest.DefaultUserEmail)
	change := map[string]any{"client_id": nextidentitytest.DefaultClientID, "password": newPassword, "password_confirm": newPassword}
	r := postJSON(t, srv, nextidentitytest.EndpointAccountChangePassword, change, bearer(access))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"stat":"ok"}`, r.body)
	checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointAccountLogin, apiLoginBody(), nil), 401, "http_exception", "Unauthorized", `{"message":"unauthorized"}`)
	apiLogin(t, srv, map[string]any{"password": newPassword})

	// The PIN proves the address: an unverified user is verified by it.
	pinTokens(t, srv, unverifiedEmail)
	apiLogin(t, srv, map[string]any{"user_id": unverifiedEmail, "password": apiPassword})
}

func TestAPIChangePasswordAnswers(t *testing.T) {
	var access string
	newSrv := func(t *testing.T) *nextidentitytest.Server {
		srv := loginServer(t, nextidentitytest.Options{})
		r := postJSON(t, srv, nextidentitytest.EndpointAccountToken, apiTokenBody(apiLogin(t, srv, nil)), nil)
		access = decode(t, r)["access_token"].(string)
		return srv
	}
	auth := func(r *http.Request) { bearer(access)(r) }
	base := map[string]any{"client_id": nextidentitytest.DefaultClientID, "password": newPassword, "password_confirm": newPassword, "locale": "en-US"}
	rows := []apiCase{
		{name: "changed", status: 200},
		{name: "with auth_type and user_id", edit: map[string]any{"auth_type": "email", "user_id": nextidentitytest.DefaultUserEmail}, status: 200},
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "no password", edit: map[string]any{"password": del}, status: 422, err: "invalid_parameters", details: `{"password":"field required"}`},
		{name: "no password_confirm", edit: map[string]any{"password_confirm": del}, status: 422, err: "invalid_parameters", details: `{"password_confirm":"field required"}`},
		{name: "passwords differ", edit: map[string]any{"password_confirm": "something-else"}, status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"message":"Passwords do not match"}`},
		{name: "short password", edit: map[string]any{"password": "short", "password_confirm": "short"}, status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"message":"Password is not formatted correctly."}`},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointAccountChangePassword, fixed(base), auth, rows, nil)

	for _, tc := range []struct {
		name   string
		auth   func(*http.Request)
		client string
		status int
	}{
		{"no token", nil, nextidentitytest.DefaultClientID, 401},
		{"unknown token", bearer("aaaaaaaaaaaaaaaa"), nextidentitytest.DefaultClientID, 401},
		{"basic instead of bearer", basic(nextidentitytest.DefaultClientID, nextidentitytest.DefaultClientSecret), nextidentitytest.DefaultClientID, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSrv(t)
			r := postJSON(t, srv, nextidentitytest.EndpointAccountChangePassword, body(base, map[string]any{"client_id": tc.client}), tc.auth)
			checkEnvelope(t, r, tc.status, "http_exception", "Unauthorized", "")
		})
	}
	t.Run("token of another client", func(t *testing.T) {
		other := nextidentitytest.DefaultClient()
		other.ID = "other-app"
		srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{nextidentitytest.DefaultClient(), other}})
		r := postJSON(t, srv, nextidentitytest.EndpointAccountToken, apiTokenBody(apiLogin(t, srv, nil)), nil)
		tok := decode(t, r)["access_token"].(string)
		r = postJSON(t, srv, nextidentitytest.EndpointAccountChangePassword, body(base, map[string]any{"client_id": "other-app"}), bearer(tok))
		checkEnvelope(t, r, 403, "http_exception", "Forbidden", "")
	})
}
