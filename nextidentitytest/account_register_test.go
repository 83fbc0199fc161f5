package nextidentitytest_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

const newPassword = "new-secret-9"

// registerBody is a valid /register body for a new email user.
func registerBody() map[string]any {
	return map[string]any{
		"client_id":    nextidentitytest.DefaultClientID,
		"auth_type":    "email",
		"redirect_uri": nextidentitytest.DefaultRedirectURI,
		"locale":       "en-US",
		"profile_fields": map[string]any{
			"emailAddress":       "sam@example.com",
			"firstName":          "Sam",
			"lastName":           "Lee",
			"newPassword":        newPassword,
			"newPasswordConfirm": newPassword,
			"favouriteColour":    "blue",
		},
	}
}

// profile returns registerBody's profile_fields edited.
func profile(edit map[string]any) map[string]any {
	return body(registerBody()["profile_fields"].(map[string]any), edit)
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

func TestAPIRegisterAnswers(t *testing.T) {
	passwordless := nextidentitytest.DefaultClient()
	passwordless.ID, passwordless.Passwordless = "otp-app", true
	newSrv := func(t *testing.T) *nextidentitytest.Server {
		return newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{nextidentitytest.DefaultClient(), passwordless}})
	}
	pf := func(edit map[string]any) map[string]any { return map[string]any{"profile_fields": profile(edit)} }
	rows := []apiCase{
		{name: "registered", status: 200},
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "no auth_type", edit: map[string]any{"auth_type": del}, status: 422, err: "invalid_parameters", details: `{"auth_type":"field required"}`},
		{name: "no redirect_uri", edit: map[string]any{"redirect_uri": del}, status: 422, err: "invalid_parameters", details: `{"redirect_uri":"field required"}`},
		{name: "unregistered redirect_uri", edit: map[string]any{"redirect_uri": "https://evil.example/"}, status: 422, err: "invalid_parameters", details: `{"redirect_uri":{"invalid":"invalid value"}}`},
		{name: "no profile_fields", edit: map[string]any{"profile_fields": del}, status: 422, err: "invalid_parameters", details: `{"profile_fields":"field required"}`},
		{name: "profile_fields not an object", edit: map[string]any{"profile_fields": "x"}, status: 422, err: "invalid_parameters", details: `{"profile_fields":{"invalid":"must be an object"}}`},
		{name: "no emailAddress", edit: pf(map[string]any{"emailAddress": del}), status: 422, err: "invalid_parameters", details: `{"emailAddress":"field required"}`},
		{name: "bad emailAddress", edit: pf(map[string]any{"emailAddress": "sam"}), status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"emailAddress":["Email address is not formatted correctly."]}`},
		{name: "no mobileNumber", edit: map[string]any{"auth_type": "sms"}, status: 422, err: "invalid_parameters", details: `{"mobileNumber":"field required"}`},
		{name: "bad mobileNumber", edit: map[string]any{"auth_type": "sms", "profile_fields": profile(map[string]any{"mobileNumber": "call me"})}, status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"mobileNumber":["Mobile number is not formatted correctly."]}`},
		{name: "sms user", edit: map[string]any{"auth_type": "sms", "profile_fields": profile(map[string]any{"mobileNumber": "+44 7700 900123", "emailAddress": del})}, status: 200},
		{name: "no newPassword", edit: pf(map[string]any{"newPassword": del, "newPasswordConfirm": del}), status: 422, err: "invalid_parameters", details: `{"newPassword":"field required","newPasswordConfirm":"field required"}`},
		{name: "passwords differ", edit: pf(map[string]any{"newPasswordConfirm": "other-secret-9"}), status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"newPasswordConfirm":["Passwords do not match"]}`},
		{name: "short password", edit: pf(map[string]any{"newPassword": "short", "newPasswordConfirm": "short"}), status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"newPassword":["Password is not formatted correctly."]}`},
		{name: "breached password", edit: pf(map[string]any{"newPassword": "password1", "newPasswordConfirm": "password1"}), status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"newPassword":["This password has appeared in a data breach. Choose another."]}`},
		{name: "password to a passwordless client", edit: map[string]any{"client_id": "otp-app"}, status: 422, err: "invalid_parameters", details: `{"newPassword, newPasswordConfirm":{"unexpected_keys":"Unexpected parameters found in the request."}}`},
		{name: "firstName not a string", edit: pf(map[string]any{"firstName": 3}), status: 422, err: "invalid_parameters", details: `{"firstName":{"invalid":"must be a string"}}`},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointAccountRegister, fixed(registerBody()), nil, rows, func(t *testing.T, srv *nextidentitytest.Server, r response) {
		m := decode(t, r)
		require.Len(t, m, 1)
		require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, m["uuid"])
		out := srv.Outbox()
		require.Len(t, out, 1)
		msg := out[0]
		require.Equal(t, nextidentitytest.MessageVerification, msg.Kind)
		require.Equal(t, m["uuid"], msg.UUID)
		require.Equal(t, nextidentitytest.DefaultClientID, msg.ClientID)
		require.Regexp(t, sixDigits, msg.PIN)
		require.Contains(t, msg.Link, srv.URL+"/verify-account?token=")
	})
}

func TestAPIRegisterPasswordlessGivesACode(t *testing.T) {
	passwordless := nextidentitytest.DefaultClient()
	passwordless.Passwordless = true
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{passwordless}})
	b := body(registerBody(), map[string]any{"profile_fields": profile(map[string]any{"newPassword": del, "newPasswordConfirm": del})})
	r := postJSON(t, srv, nextidentitytest.EndpointAccountRegister, b, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	code := decode(t, r)["authorization_code"].(string)
	tok := body(apiTokenBody(code), map[string]any{"user_id": "sam@example.com"})
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountToken, tok, nil).status)
	// Its /login is refused: passwordless clients use one-time codes.
	r = postJSON(t, srv, nextidentitytest.EndpointAccountLogin, body(apiLoginBody(), map[string]any{"password": del}), nil)
	checkEnvelope(t, r, 422, "invalid_request", "This client signs in with one-time codes: use /idp/v1/otp/send.", "")
}

// TestAPIRegisterVerifySignIn is the whole self-registration: register, the
// unverified sign-in refused, the PIN from the outbox, sign-in, legal
// acceptance.
func TestAPIRegisterVerifySignIn(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	r := postJSON(t, srv, nextidentitytest.EndpointAccountRegister, registerBody(), nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	uuid := decode(t, r)["uuid"].(string)

	login := body(apiLoginBody(), map[string]any{"user_id": "sam@example.com", "password": newPassword})
	checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointAccountLogin, login, nil), 422, "unverified_user", "unverified user account", "")

	msg, ok := srv.LastMessage("SAM@example.com")
	require.True(t, ok)
	verifyReq := map[string]any{"client_id": nextidentitytest.DefaultClientID, "auth_type": "email", "user_id": "sam@example.com"}
	wrong := "000000"
	if msg.PIN == wrong {
		wrong = "111111"
	}
	checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointAccountVerify, body(verifyReq, map[string]any{"code": wrong}), nil),
		422, "invalid_parameters", "", `{"code":"invalid"}`)
	r = postJSON(t, srv, nextidentitytest.EndpointAccountVerify, body(verifyReq, map[string]any{"code": msg.PIN}), nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"stat":"ok"}`, r.body)
	// The PIN is single-use.
	checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointAccountVerify, body(verifyReq, map[string]any{"code": msg.PIN}), nil),
		422, "invalid_parameters", "", `{"code":"invalid"}`)

	r = postJSON(t, srv, nextidentitytest.EndpointAccountLogin, login, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	m := decode(t, r)
	require.Equal(t, true, m["legal_acceptance_required"], "self-registration through the API records no acceptance")
	tok := body(apiTokenBody(m["authorization_code"].(string)), map[string]any{"user_id": "sam@example.com", "legal_acceptances": true})
	r = postJSON(t, srv, nextidentitytest.EndpointAccountToken, tok, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	_, claims := verify(t, srv, decode(t, r)["id_token"].(string))
	require.Equal(t, uuid, claims["sub"])
	require.Equal(t, "Sam Lee", claims["name"])
	require.Equal(t, true, claims["email_verified"])
}

func TestAPIRegisterExistingUserIsNotRevealed(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	b := body(registerBody(), map[string]any{"profile_fields": profile(map[string]any{"emailAddress": "Jane@Example.com"})})
	r := postJSON(t, srv, nextidentitytest.EndpointAccountRegister, b, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"message":"An email has been sent to the address on record"}`, r.body)
	msg, ok := srv.LastMessage(nextidentitytest.DefaultUserEmail)
	require.True(t, ok)
	require.Equal(t, nextidentitytest.MessageAlreadyRegistered, msg.Kind)
	require.Equal(t, nextidentitytest.DefaultUserSubject, msg.UUID)
	require.Empty(t, msg.PIN)
	// The existing account is untouched.
	apiLogin(t, srv, nil)
}

func TestVerificationLink(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountRegister, registerBody(), nil).status)
	msg, _ := srv.LastMessage("sam@example.com")
	u, err := url.Parse(msg.Link)
	require.NoError(t, err)

	bad := get(t, srv, srv.URL+"/verify-account?token=nope")
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Contains(t, bad.body, "Link expired")

	r := get(t, srv, u.String())
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, "Account verified")
	require.Equal(t, http.StatusBadRequest, get(t, srv, u.String()).status, "the link is single-use")
	apiLogin(t, srv, map[string]any{"user_id": "sam@example.com", "password": newPassword})
}

func TestAPIResendVerificationAnswers(t *testing.T) {
	newSrv := func(t *testing.T) *nextidentitytest.Server { return loginServer(t, nextidentitytest.Options{}) }
	base := map[string]any{
		"client_id": nextidentitytest.DefaultClientID, "auth_type": "email", "user_id": unverifiedEmail,
		"redirect_uri": nextidentitytest.DefaultRedirectURI, "locale": "en-US", "grant_type": "ignored",
	}
	sent := func(to string, want bool) func(t *testing.T, srv *nextidentitytest.Server, r response) {
		return func(t *testing.T, srv *nextidentitytest.Server, r response) {
			require.JSONEq(t, `{"message":"An email has been sent to the address on record."}`, r.body)
			msg, ok := srv.LastMessage(to)
			require.Equal(t, want, ok, "message to %s", to)
			if want {
				require.Equal(t, nextidentitytest.MessageVerification, msg.Kind)
				require.Regexp(t, sixDigits, msg.PIN)
			}
		}
	}
	rows := []apiCase{
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "no redirect_uri", edit: map[string]any{"redirect_uri": del}, status: 422, err: "http_exception", desc: "missing_argument Missing Parameter: redirect_uri", details: "null"},
		{name: "empty redirect_uri", edit: map[string]any{"redirect_uri": ""}, status: 422, err: "http_exception", desc: "missing_argument Missing Parameter: redirect_uri", details: "null"},
		{name: "unregistered redirect_uri", edit: map[string]any{"redirect_uri": "https://evil.example/"}, status: 422, err: "invalid_parameters", details: `{"redirect_uri":{"invalid":"invalid value"}}`},
		{name: "no auth_type", edit: map[string]any{"auth_type": del}, status: 422, err: "invalid_parameters", details: `{"auth_type":"field required"}`},
		{name: "no user_id", edit: map[string]any{"user_id": del}, status: 422, err: "invalid_parameters", details: `{"user_id":"field required"}`},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointAccountResendVerification, fixed(base), nil, rows, nil)
	for _, tc := range []struct {
		name, user string
		sends      bool
	}{
		{"unverified user", unverifiedEmail, true},
		{"verified user", nextidentitytest.DefaultUserEmail, false},
		{"unknown user", "nobody@example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSrv(t)
			r := postJSON(t, srv, nextidentitytest.EndpointAccountResendVerification, body(base, map[string]any{"user_id": tc.user}), nil)
			require.Equal(t, http.StatusOK, r.status, r.body)
			sent(tc.user, tc.sends)(t, srv, r)
		})
	}
}

func TestAPIResendVerificationReplacesThePIN(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	r := postJSON(t, srv, nextidentitytest.EndpointAccountRegister, registerBody(), nil)
	uuid := decode(t, r)["uuid"].(string)
	first, _ := srv.LastMessage("sam@example.com")
	resend := map[string]any{"client_id": nextidentitytest.DefaultClientID, "auth_type": "email", "user_id": "sam@example.com", "redirect_uri": nextidentitytest.DefaultRedirectURI}
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountResendVerification, resend, nil).status)
	second, _ := srv.LastMessage("sam@example.com")
	require.Equal(t, uuid, second.UUID, "a resend keeps the uuid")
	require.Len(t, srv.Outbox(), 2)
	verifyReq := map[string]any{"client_id": nextidentitytest.DefaultClientID, "auth_type": "email", "user_id": "sam@example.com"}
	if first.PIN != second.PIN {
		require.Equal(t, http.StatusUnprocessableEntity, postJSON(t, srv, nextidentitytest.EndpointAccountVerify, body(verifyReq, map[string]any{"code": first.PIN}), nil).status)
	}
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountVerify, body(verifyReq, map[string]any{"code": second.PIN}), nil).status)
}

func TestAPIVerifyAnswers(t *testing.T) {
	newSrv := func(t *testing.T) *nextidentitytest.Server { return newServer(t, nextidentitytest.Options{}) }
	base := map[string]any{"client_id": nextidentitytest.DefaultClientID, "auth_type": "email", "user_id": "sam@example.com", "code": "123456"}
	rows := []apiCase{
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "no code", edit: map[string]any{"code": del}, status: 422, err: "invalid_parameters", details: `{"code":"field required"}`},
		{name: "no user_id", edit: map[string]any{"user_id": del}, status: 422, err: "invalid_parameters", details: `{"user_id":"field required"}`},
		{name: "no auth_type", edit: map[string]any{"auth_type": del}, status: 422, err: "invalid_parameters", details: `{"auth_type":"field required"}`},
		{name: "unknown user", status: 422, err: "invalid_parameters", details: `{"code":"invalid"}`},
		{name: "user without a PIN", edit: map[string]any{"user_id": nextidentitytest.DefaultUserEmail}, status: 422, err: "invalid_parameters", details: `{"code":"invalid"}`},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointAccountVerify, fixed(base), nil, rows, nil)
}
