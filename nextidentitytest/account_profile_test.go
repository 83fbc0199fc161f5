package nextidentitytest_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// apiTokens signs the default user in through the API and returns the
// token response.
func apiTokens(t *testing.T, srv *nextidentitytest.Server) map[string]any {
	t.Helper()
	r := postJSON(t, srv, nextidentitytest.EndpointAccountToken, apiTokenBody(apiLogin(t, srv, nil)), nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	return decode(t, r)
}

func profileRequest(t *testing.T, srv *nextidentitytest.Server, method, query, raw string, auth func(*http.Request)) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+string(nextidentitytest.EndpointAccountProfile)+query, bytes.NewReader([]byte(raw)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != nil {
		auth(req)
	}
	return do(t, rawClient(srv), req)
}

func TestAPIProfileGet(t *testing.T) {
	srv := loginServer(t, nextidentitytest.Options{})
	access := apiTokens(t, srv)["access_token"].(string)
	r := profileRequest(t, srv, http.MethodGet, "?client_id="+nextidentitytest.DefaultClientID, "", bearer(access))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"profile":{
		"uuid":"`+nextidentitytest.DefaultUserSubject+`","emailAddress":"jane@example.com","firstName":"Jane","lastName":"Doe",
		"displayName":"Jane Doe","locale":"en-US","emailVerified":true,"mobileNumberVerified":false,
		"legalAcceptedAt":"2021-01-07T20:44:35Z"}}`, r.body)

	for _, tc := range []struct {
		name, query string
		auth        func(*http.Request)
		status      int
		err, desc   string
	}{
		{"no token", "?client_id=test-client", nil, 401, "http_exception", "Unauthorized"},
		{"unknown token", "?client_id=test-client", bearer("aaaaaaaaaaaaaaaa"), 401, "http_exception", "Unauthorized"},
		{"no client_id", "", bearer(access), 422, "invalid_parameters", ""},
		{"unknown client_id", "?client_id=nope", bearer(access), 403, "http_exception", "Forbidden"},
		{"hosted-only client", "?client_id=" + hostedClientID, bearer(access), 403, "forbidden", "The client is not configured for the API integration."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := profileRequest(t, srv, http.MethodGet, tc.query, "", tc.auth)
			details := ""
			if tc.status == 422 {
				details = `{"client_id":"field required"}`
			}
			checkEnvelope(t, r, tc.status, tc.err, tc.desc, details)
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		r := profileRequest(t, srv, http.MethodPost, "", "{}", bearer(access))
		checkEnvelope(t, r, 405, "http_exception", "Method Not Allowed", "")
	})
}

func TestAPIProfilePut(t *testing.T) {
	var access string
	newSrv := func(t *testing.T) *nextidentitytest.Server {
		srv := loginServer(t, nextidentitytest.Options{})
		access = apiTokens(t, srv)["access_token"].(string)
		return srv
	}
	put := func(t *testing.T, srv *nextidentitytest.Server, b map[string]any) response {
		return profileRequest(t, srv, http.MethodPut, "", mustJSON(t, b), bearer(access))
	}
	base := map[string]any{"client_id": nextidentitytest.DefaultClientID, "locale": "fr-FR", "profile_fields": map[string]any{"firstName": "Janet", "employeeId": "E-7"}}
	pf := func(m map[string]any) map[string]any { return map[string]any{"profile_fields": m} }
	for _, tc := range []apiCase{
		{name: "updated", status: 200},
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "no profile_fields", edit: map[string]any{"profile_fields": del}, status: 422, err: "invalid_parameters", details: `{"profile_fields":"field required"}`},
		{name: "empty firstName", edit: pf(map[string]any{"firstName": ""}), status: 422, err: "invalid_parameters", details: `{"firstName":{"missing":"required"}}`},
		{name: "bad email", edit: pf(map[string]any{"emailAddress": "jane"}), status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"emailAddress":["Email address is not formatted correctly."]}`},
		{name: "email of another user", edit: pf(map[string]any{"emailAddress": termsEmail}), status: 422, err: "invalid_form_fields", desc: "some inputs are invalid", details: `{"emailAddress":["An account with this email address already exists."]}`},
		{name: "password", edit: pf(map[string]any{"newPassword": "x"}), status: 422, err: "invalid_parameters", details: `{"newPassword":{"unexpected_keys":"Unexpected parameters found in the request."}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSrv(t)
			r := put(t, srv, body(base, tc.edit))
			if tc.err != "" {
				checkEnvelope(t, r, tc.status, tc.err, tc.desc, tc.details)
				return
			}
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.JSONEq(t, `{"stat":"ok"}`, r.body)
			g := profileRequest(t, srv, http.MethodGet, "?client_id=test-client", "", bearer(access))
			p := decode(t, g)["profile"].(map[string]any)
			require.Equal(t, "Janet", p["firstName"])
			require.Equal(t, "E-7", p["employeeId"])
			require.Equal(t, "fr-FR", p["locale"])
		})
	}
	t.Run("new email must be verified again", func(t *testing.T) {
		srv := newSrv(t)
		require.Equal(t, http.StatusOK, put(t, srv, body(base, pf(map[string]any{"emailAddress": "janet@example.com"}))).status)
		r := postJSON(t, srv, nextidentitytest.EndpointAccountLogin, body(apiLoginBody(), map[string]any{"user_id": "janet@example.com"}), nil)
		checkEnvelope(t, r, 422, "unverified_user", "unverified user account", "")
	})
}

func TestAPILogoutJSON(t *testing.T) {
	base := func(refresh string) map[string]any {
		return map[string]any{"client_id": nextidentitytest.DefaultClientID, "auth_type": "email", "user_id": nextidentitytest.DefaultUserEmail, "refresh_token": refresh}
	}
	for _, tc := range []struct {
		name      string
		edit      map[string]any
		auth      bool
		status    int
		err, desc string
		details   string
	}{
		{name: "logged out", auth: true, status: 200},
		{name: "all sessions without refresh token", edit: map[string]any{"refresh_token": del, "all_sessions": true}, auth: true, status: 200},
		{name: "no token", status: 401, err: "http_exception", desc: "Unauthorized"},
		{name: "no client_id", edit: map[string]any{"client_id": del}, auth: true, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, auth: true, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "no auth_type", edit: map[string]any{"auth_type": del}, auth: true, status: 422, err: "invalid_parameters", details: `{"auth_type":"field required"}`},
		{name: "no user_id", edit: map[string]any{"user_id": del}, auth: true, status: 422, err: "invalid_parameters", details: `{"user_id":"field required"}`},
		{name: "no refresh_token", edit: map[string]any{"refresh_token": del}, auth: true, status: 422, err: "invalid_request", desc: "unknown refresh_token", details: `"invalid_argument"`},
		{name: "unknown refresh_token", edit: map[string]any{"refresh_token": "wrong"}, auth: true, status: 422, err: "invalid_request", desc: "unknown refresh_token", details: `"invalid_argument"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := loginServer(t, nextidentitytest.Options{})
			tk := apiTokens(t, srv)
			access, refresh := tk["access_token"].(string), tk["refresh_token"].(string)
			other := apiTokens(t, srv)["access_token"].(string)
			var auth func(*http.Request)
			if tc.auth {
				auth = bearer(access)
			}
			r := postJSON(t, srv, nextidentitytest.EndpointAccountLogout, body(base(refresh), tc.edit), auth)
			if tc.err != "" {
				checkEnvelope(t, r, tc.status, tc.err, tc.desc, tc.details)
				require.Equal(t, http.StatusOK, userInfo(t, srv, http.MethodGet, "Bearer "+access).status, "nothing revoked")
				return
			}
			require.Equal(t, tc.status, r.status, r.body)
			require.JSONEq(t, `{"stat":"ok"}`, r.body)
			require.Equal(t, http.StatusUnauthorized, userInfo(t, srv, http.MethodGet, "Bearer "+access).status)
			otherStatus := http.StatusOK
			if tc.edit["all_sessions"] == true {
				otherStatus = http.StatusUnauthorized
			}
			require.Equal(t, otherStatus, userInfo(t, srv, http.MethodGet, "Bearer "+other).status)
		})
	}
}
