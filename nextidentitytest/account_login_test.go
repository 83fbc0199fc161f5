package nextidentitytest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// Users of the API sign-in tables besides the default one.
const (
	unverifiedEmail = "new@example.com"
	deniedEmail     = "denied@example.com"
	termsEmail      = "terms@example.com"
	smsPhone        = "+15417543010"
	apiPassword     = "correct horse"
	hostedClientID  = "hosted-app"
)

// loginServer has the default client, a hosted-only client and users for
// every /login answer.
func loginServer(t *testing.T, opts nextidentitytest.Options) *nextidentitytest.Server {
	t.Helper()
	hosted := nextidentitytest.DefaultClient()
	hosted.ID, hosted.Integration = hostedClientID, nextidentitytest.IntegrationHosted
	opts.Clients = []nextidentitytest.Client{nextidentitytest.DefaultClient(), hosted}
	opts.Users = []nextidentitytest.User{
		nextidentitytest.DefaultUser(),
		{Email: unverifiedEmail, Password: apiPassword, LegalAccepted: true},
		{Email: deniedEmail, Password: apiPassword, EmailVerified: true, LegalAccepted: true, DeniedClients: []string{nextidentitytest.DefaultClientID}},
		{Email: termsEmail, Password: apiPassword, EmailVerified: true},
		{PhoneNumber: smsPhone, Password: apiPassword, PhoneNumberVerified: true, LegalAccepted: true},
	}
	return newServer(t, opts)
}

func TestAPILoginAnswers(t *testing.T) {
	newSrv := func(t *testing.T) *nextidentitytest.Server { return loginServer(t, nextidentitytest.Options{}) }
	user := func(email string) map[string]any { return map[string]any{"user_id": email, "password": apiPassword} }
	rows := []apiCase{
		{name: "signed in", status: 200},
		{name: "optional fields", edit: map[string]any{"redirect_uri": nextidentitytest.DefaultRedirectURI, "scope": "openid", "locale": "xx"}, status: 200},
		{name: "loopback redirect_uri on another port", edit: map[string]any{"redirect_uri": "http://127.0.0.1:8080/callback"}, status: 200},
		{name: "sms user", edit: map[string]any{"auth_type": "sms", "user_id": "+1 541 754 3010", "password": apiPassword}, status: 200},
		{name: "email case-insensitive", edit: map[string]any{"user_id": "JANE@example.com"}, status: 200},
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "hosted-only client", edit: map[string]any{"client_id": hostedClientID}, status: 403, err: "forbidden", desc: "The client is not configured for the API integration."},
		{name: "no user_id", edit: map[string]any{"user_id": del}, status: 422, err: "invalid_parameters", details: `{"user_id":"field required"}`},
		{name: "user_id not a string", edit: map[string]any{"user_id": 7}, status: 422, err: "invalid_parameters", details: `{"user_id":{"invalid":"must be a string"}}`},
		{name: "no auth_type", edit: map[string]any{"auth_type": del}, status: 422, err: "invalid_parameters", details: `{"auth_type":"field required"}`},
		{name: "auth_type mobile", edit: map[string]any{"auth_type": "mobile"}, status: 422, err: "invalid_parameters", details: `{"auth_type":{"invalid":"unsupported auth_type value"}}`},
		{name: "no password", edit: map[string]any{"password": del}, status: 422, err: "invalid_parameters", details: `{"password":"field required"}`},
		{name: "several missing", edit: map[string]any{"password": del, "user_id": ""}, status: 422, err: "invalid_parameters", details: `{"password":"field required","user_id":"field required"}`},
		{name: "unregistered redirect_uri", edit: map[string]any{"redirect_uri": "https://evil.example/cb"}, status: 422, err: "invalid_parameters", details: `{"redirect_uri":{"invalid":"invalid value"}}`},
		{name: "unknown user", edit: map[string]any{"user_id": "nobody@example.com"}, status: 401, err: "http_exception", desc: "Unauthorized"},
		{name: "wrong password", edit: map[string]any{"password": "wrong"}, status: 401, err: "http_exception", desc: "Unauthorized", details: `{"message":"unauthorized"}`},
		{name: "email user through sms", edit: map[string]any{"auth_type": "sms"}, status: 401, err: "http_exception", desc: "Unauthorized"},
		{name: "unverified user", edit: user(unverifiedEmail), status: 422, err: "unverified_user", desc: "unverified user account"},
		{name: "unverified user, wrong password", edit: map[string]any{"user_id": unverifiedEmail, "password": "x"}, status: 401, err: "http_exception", desc: "Unauthorized", details: `{"message":"unauthorized"}`},
		{name: "no access to the client", edit: user(deniedEmail), status: 403, err: "forbidden", desc: "The user has no access to this resource."},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointAccountLogin, fixed(apiLoginBody()), nil, rows, func(t *testing.T, _ *nextidentitytest.Server, r response) {
		m := decode(t, r)
		require.Len(t, m["authorization_code"], 14)
		require.NotContains(t, m, "legal_acceptance_required")
	})
}

func TestAPILoginLegalAcceptance(t *testing.T) {
	srv := loginServer(t, nextidentitytest.Options{})
	terms := map[string]any{"user_id": termsEmail, "password": apiPassword}
	r := postJSON(t, srv, nextidentitytest.EndpointAccountLogin, body(apiLoginBody(), terms), nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	m := decode(t, r)
	require.Equal(t, true, m["legal_acceptance_required"])
	require.Equal(t, "The user must accept the current legal agreements.", m["message"])

	// Tokens without acceptance: still granted, still required next time.
	tok := body(apiTokenBody(m["authorization_code"].(string)), map[string]any{"user_id": termsEmail, "legal_acceptances": false})
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountToken, tok, nil).status)
	code := apiLogin(t, srv, terms) // the helper only checks the code
	r = postJSON(t, srv, nextidentitytest.EndpointAccountLogin, body(apiLoginBody(), terms), nil)
	require.Equal(t, true, decode(t, r)["legal_acceptance_required"])

	// legal_acceptances: true records it.
	tok = body(apiTokenBody(code), map[string]any{"user_id": termsEmail, "legal_acceptances": true})
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountToken, tok, nil).status)
	r = postJSON(t, srv, nextidentitytest.EndpointAccountLogin, body(apiLoginBody(), terms), nil)
	require.NotContains(t, decode(t, r), "legal_acceptance_required")
}

func TestAPITokenAnswers(t *testing.T) {
	newSrv := func(t *testing.T) *nextidentitytest.Server { return loginServer(t, nextidentitytest.Options{}) }
	base := func(t *testing.T, srv *nextidentitytest.Server) map[string]any {
		return apiTokenBody(apiLogin(t, srv, nil))
	}
	rows := []apiCase{
		{name: "exchanged", status: 200},
		{name: "legal_acceptances true", edit: map[string]any{"legal_acceptances": true}, status: 200},
		{name: "legal_acceptances as a string", edit: map[string]any{"legal_acceptances": "true"}, status: 200},
		{name: "legal_acceptances not a boolean", edit: map[string]any{"legal_acceptances": 1}, status: 422, err: "invalid_parameters", details: `{"legal_acceptances":{"invalid":"must be a boolean"}}`},
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "hosted-only client", edit: map[string]any{"client_id": hostedClientID}, status: 403, err: "forbidden", desc: "The client is not configured for the API integration."},
		{name: "no grant_type", edit: map[string]any{"grant_type": del}, status: 422, err: "invalid_parameters", details: `{"grant_type":"field required"}`},
		{name: "refresh_token grant", edit: map[string]any{"grant_type": "refresh_token"}, status: 422, err: "invalid_parameters", details: `{"grant_type":"unsupported"}`},
		{name: "no code", edit: map[string]any{"code": del}, status: 422, err: "invalid_parameters", details: `{"code":"field required"}`},
		{name: "no redirect_uri", edit: map[string]any{"redirect_uri": del}, status: 422, err: "invalid_parameters", details: `{"redirect_uri":"field required"}`},
		{name: "unregistered redirect_uri", edit: map[string]any{"redirect_uri": "https://evil.example/cb"}, status: 422, err: "invalid_parameters", details: `{"redirect_uri":{"invalid":"invalid value"}}`},
		{name: "no auth_type", edit: map[string]any{"auth_type": del}, status: 422, err: "invalid_parameters", details: `{"auth_type":"field required"}`},
		{name: "no user_id", edit: map[string]any{"user_id": del}, status: 422, err: "invalid_parameters", details: `{"user_id":"field required"}`},
		{name: "unknown code", edit: map[string]any{"code": "aaaaaaaaaaaaaa"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "code of another user", edit: map[string]any{"user_id": termsEmail}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "unknown user", edit: map[string]any{"user_id": "nobody@example.com"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "pin grant with a login code", edit: map[string]any{"grant_type": "pin"}, status: 403, err: "http_exception", desc: "Forbidden"},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointAccountToken, base, nil, rows, func(t *testing.T, srv *nextidentitytest.Server, r response) {
		m := decode(t, r)
		require.Equal(t, "bearer", m["token_type"])
		require.Len(t, m["access_token"], 16)
		require.Len(t, m["refresh_token"], 20)
		require.EqualValues(t, 3600, m["expires_in"])
		_, claims := verify(t, srv, m["id_token"].(string))
		require.Equal(t, srv.Issuer(), claims["iss"])
		require.Equal(t, nextidentitytest.DefaultClientID, claims["aud"])
		require.Equal(t, nextidentitytest.DefaultUserSubject, claims["sub"])
		require.NotContains(t, claims, "nonce")
		// The access token works at /userinfo.
		ui := userInfo(t, srv, http.MethodGet, "Bearer "+m["access_token"].(string))
		require.Equal(t, http.StatusOK, ui.status, ui.body)
	})
}

func TestAPITokenCodeIsSpentAndExpires(t *testing.T) {
	clk := newClock()
	srv := loginServer(t, nextidentitytest.Options{Now: clk.Now})
	code := apiLogin(t, srv, nil)
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountToken, apiTokenBody(code), nil).status)
	checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointAccountToken, apiTokenBody(code), nil), 403, "http_exception", "Forbidden", "")

	code = apiLogin(t, srv, nil)
	clk.Advance(nextidentitytest.APICodeLifetime)
	checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointAccountToken, apiTokenBody(code), nil), 403, "http_exception", "Forbidden", "")

	// A failed redemption burns the code: the right user cannot use it next.
	code = apiLogin(t, srv, nil)
	bad := body(apiTokenBody(code), map[string]any{"user_id": termsEmail})
	require.Equal(t, http.StatusForbidden, postJSON(t, srv, nextidentitytest.EndpointAccountToken, bad, nil).status)
	require.Equal(t, http.StatusForbidden, postJSON(t, srv, nextidentitytest.EndpointAccountToken, apiTokenBody(code), nil).status)
}

func TestAPITokenFivePerMinuteRule(t *testing.T) {
	clk := newClock()
	srv := loginServer(t, nextidentitytest.Options{Now: clk.Now})
	attempt := func(code string) response {
		return postJSON(t, srv, nextidentitytest.EndpointAccountToken, apiTokenBody(code), nil)
	}
	// Failed attempts count as much as successful ones.
	for i := range nextidentitytest.TokenAttemptLimit {
		code := apiLogin(t, srv, nil)
		if i%2 == 1 {
			code = "wrong"
		}
		r := attempt(code)
		require.NotEqual(t, http.StatusTooManyRequests, r.status, "attempt %d: %s", i+1, r.body)
		clk.Advance(10 * time.Second)
	}
	code := apiLogin(t, srv, nil)
	r := attempt(code)
	checkEnvelope(t, r, http.StatusTooManyRequests, "too_many_requests", "Too many requests", "")
	require.Equal(t, "300", r.header.Get("Retry-After"))

	// The account is blocked: /token and /login answer 429 for five minutes.
	clk.Advance(4 * time.Minute)
	r = postJSON(t, srv, nextidentitytest.EndpointAccountLogin, apiLoginBody(), nil)
	checkEnvelope(t, r, http.StatusTooManyRequests, "too_many_requests", "Too many requests", "")
	require.Equal(t, "60", r.header.Get("Retry-After"))
	require.Equal(t, http.StatusTooManyRequests, attempt(code).status)
	// Other users are not affected.
	other := apiLogin(t, srv, map[string]any{"user_id": termsEmail, "password": apiPassword})
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountToken,
		body(apiTokenBody(other), map[string]any{"user_id": termsEmail}), nil).status)

	clk.Advance(time.Minute)
	require.Equal(t, http.StatusOK, attempt(apiLogin(t, srv, nil)).status)
}

func TestAPITokenAttemptsOutsideTheWindowDoNotCount(t *testing.T) {
	clk := newClock()
	srv := loginServer(t, nextidentitytest.Options{Now: clk.Now})
	for i := range 3 * nextidentitytest.TokenAttemptLimit {
		r := postJSON(t, srv, nextidentitytest.EndpointAccountToken, apiTokenBody(apiLogin(t, srv, nil)), nil)
		require.Equal(t, http.StatusOK, r.status, "attempt %d: %s", i+1, r.body)
		clk.Advance(13 * time.Second) // five attempts span 52 s; the sixth is 65 s after the first
	}
}
