package nextidentitytest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

const inviteeEmail = "invitee@example.com"

func inviteBody() map[string]any {
	return map[string]any{
		"client_id":    nextidentitytest.DefaultClientID,
		"auth_type":    "email",
		"grant_type":   "password",
		"redirect_uri": nextidentitytest.DefaultRedirectURI,
		"locale":       "en-US",
		"profile_fields": map[string]any{
			"emailAddress": inviteeEmail, "firstName": "Ivy", "lastName": "Vite", "resourceAccessB2b": "true",
		},
	}
}

var defaultBasic = basic(nextidentitytest.DefaultClientID, nextidentitytest.DefaultClientSecret)

func invite(t *testing.T, srv *nextidentitytest.Server, edit map[string]any) response {
	t.Helper()
	return postJSON(t, srv, nextidentitytest.EndpointAccountPreRegister, body(inviteBody(), edit), defaultBasic)
}

func TestAPIPreRegisterAnswers(t *testing.T) {
	hosted := nextidentitytest.DefaultClient()
	hosted.ID, hosted.Integration = hostedClientID, nextidentitytest.IntegrationHosted
	newSrv := func(t *testing.T) *nextidentitytest.Server {
		return newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{nextidentitytest.DefaultClient(), hosted}})
	}
	pf := func(edit map[string]any) map[string]any {
		return map[string]any{"profile_fields": body(inviteBody()["profile_fields"].(map[string]any), edit)}
	}
	rows := []apiCase{
		{name: "invited", status: 201},
		{name: "resend for a new user", edit: map[string]any{"resend": true}, status: 201},
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "another client_id", edit: map[string]any{"client_id": hostedClientID}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "no auth_type", edit: map[string]any{"auth_type": del}, status: 422, err: "invalid_parameters", details: `{"auth_type":"field required"}`},
		{name: "no redirect_uri", edit: map[string]any{"redirect_uri": del}, status: 422, err: "invalid_parameters", details: `{"redirect_uri":"field required"}`},
		{name: "no grant_type", edit: map[string]any{"grant_type": del}, status: 422, err: "invalid_parameters", details: `{"grant_type":"field required"}`},
		{name: "no profile_fields", edit: map[string]any{"profile_fields": del}, status: 422, err: "invalid_parameters", details: `{"profile_fields":"field required"}`},
		{name: "no emailAddress", edit: pf(map[string]any{"emailAddress": del}), status: 422, err: "invalid_parameters", details: `{"emailAddress":"field required"}`},
		{name: "bad emailAddress", edit: pf(map[string]any{"emailAddress": "ivy"}), status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"emailAddress":["Email address is not formatted correctly."]}`},
		{name: "resend not a boolean", edit: map[string]any{"resend": 2}, status: 422, err: "invalid_parameters", details: `{"resend":{"invalid":"must be a boolean"}}`},
		{name: "existing user", edit: pf(map[string]any{"emailAddress": nextidentitytest.DefaultUserEmail}), status: 200},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointAccountPreRegister, fixed(inviteBody()), defaultBasic, rows, func(t *testing.T, _ *nextidentitytest.Server, r response) {
		require.Regexp(t, `^[0-9a-f-]{36}$`, decode(t, r)["uuid"])
	})

	// A hosted-only client may invite: invites are an API call for every client.
	srv := newSrv(t)
	r := postJSON(t, srv, nextidentitytest.EndpointAccountPreRegister, body(inviteBody(), map[string]any{"client_id": hostedClientID}), basic(hostedClientID, nextidentitytest.DefaultClientSecret))
	require.Equal(t, http.StatusCreated, r.status, r.body)

	for _, tc := range []struct {
		name string
		auth func(*http.Request)
	}{
		{"no credentials", nil},
		{"wrong secret", basic(nextidentitytest.DefaultClientID, "wrong")},
		{"unknown bearer", bearer("aaaaaaaaaaaaaaaa")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := postJSON(t, newSrv(t), nextidentitytest.EndpointAccountPreRegister, inviteBody(), tc.auth)
			checkEnvelope(t, r, 401, "http_exception", "Unauthorized", "")
			require.Contains(t, r.header.Get("WWW-Authenticate"), "Basic")
		})
	}
}

func TestAPIPreRegisterExistingUser422(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{ExistingInviteeStatus: http.StatusUnprocessableEntity})
	r := invite(t, srv, map[string]any{"profile_fields": map[string]any{"emailAddress": nextidentitytest.DefaultUserEmail}})
	checkEnvelope(t, r, 422, "invalid_form_fields", "some inputs are invalid", `{"emailAddress":["An account with this email address already exists."]}`)
	require.PanicsWithValue(t, "nextidentitytest: ExistingInviteeStatus 409: want 200 or 422", func() {
		nextidentitytest.NewServer(nextidentitytest.Options{ExistingInviteeStatus: http.StatusConflict})
	})
}

func TestAPIPreRegisterIsIdempotent(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	r := invite(t, srv, nil)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	uuid := decode(t, r)["uuid"].(string)
	first, ok := srv.LastMessage(inviteeEmail)
	require.True(t, ok)
	require.Equal(t, nextidentitytest.MessageInvite, first.Kind)
	require.Equal(t, uuid, first.UUID)
	require.True(t, strings.HasPrefix(first.Link, srv.URL+"/activate?token="), first.Link)
	require.Empty(t, first.PIN)

	// Again without resend: 200, same uuid, data not overwritten, nothing sent.
	r = invite(t, srv, map[string]any{"profile_fields": map[string]any{"emailAddress": inviteeEmail, "firstName": "Changed"}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, uuid, decode(t, r)["uuid"])
	require.Len(t, srv.Outbox(), 1)

	// resend: 201, same uuid, a new link; the old one stops working.
	r = invite(t, srv, map[string]any{"resend": true})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	require.Equal(t, uuid, decode(t, r)["uuid"])
	second, _ := srv.LastMessage(inviteeEmail)
	require.Equal(t, uuid, second.UUID)
	require.NotEqual(t, first.Link, second.Link)

	// /resend-verification re-sends the activation link too.
	rv := map[string]any{"client_id": nextidentitytest.DefaultClientID, "auth_type": "email", "user_id": inviteeEmail, "redirect_uri": nextidentitytest.DefaultRedirectURI}
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountResendVerification, rv, nil).status)
	third, _ := srv.LastMessage(inviteeEmail)
	require.Equal(t, nextidentitytest.MessageInvite, third.Kind)
	require.Len(t, srv.Outbox(), 3)

	// The invitee cannot sign in before activation.
	login := body(apiLoginBody(), map[string]any{"user_id": inviteeEmail, "password": ""})
	checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointAccountLogin, body(login, map[string]any{"password": "anything-1"}), nil),
		401, "http_exception", "Unauthorized", `{"message":"unauthorized"}`)
}

func TestAPIPreRegisterGrantsAccess(t *testing.T) {
	u := nextidentitytest.DefaultUser()
	u.DeniedClients = []string{nextidentitytest.DefaultClientID}
	srv := newServer(t, nextidentitytest.Options{Users: []nextidentitytest.User{u}})
	require.Equal(t, http.StatusForbidden, postJSON(t, srv, nextidentitytest.EndpointAccountLogin, apiLoginBody(), nil).status)
	r := invite(t, srv, map[string]any{"profile_fields": map[string]any{"emailAddress": nextidentitytest.DefaultUserEmail}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, nextidentitytest.DefaultUserSubject, decode(t, r)["uuid"])
	apiLogin(t, srv, nil)
}

func TestAPIPreRegisterWithBearer(t *testing.T) {
	c := nextidentitytest.DefaultClient()
	c.Scopes = []string{nextidentitytest.PreRegisterScope, "other"}
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{c}})
	token := func(scope string) string {
		r := postForm(t, srv, "/token", map[string][]string{"grant_type": {"client_credentials"}, "scope": {scope}}, defaultBasic)
		require.Equal(t, http.StatusOK, r.status, r.body)
		return decode(t, r)["access_token"].(string)
	}
	r := postJSON(t, srv, nextidentitytest.EndpointAccountPreRegister, inviteBody(), bearer(token(nextidentitytest.PreRegisterScope)))
	require.Equal(t, http.StatusCreated, r.status, r.body)
	r = postJSON(t, srv, nextidentitytest.EndpointAccountPreRegister, inviteBody(), bearer(token("other")))
	checkEnvelope(t, r, 401, "http_exception", "Unauthorized", "")
}
