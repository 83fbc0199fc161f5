package nextidentitytest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// jsonEndpoints are the POST endpoints of the API integration.
var jsonEndpoints = []nextidentitytest.Endpoint{
	nextidentitytest.EndpointAccountLogin,
	nextidentitytest.EndpointAccountToken,
	nextidentitytest.EndpointAccountRegister,
	nextidentitytest.EndpointAccountVerify,
	nextidentitytest.EndpointAccountResendVerification,
	nextidentitytest.EndpointAccountForgotPassword,
	nextidentitytest.EndpointAccountChangePassword,
	nextidentitytest.EndpointAccountPreRegister,
	nextidentitytest.EndpointOTPSend,
	nextidentitytest.EndpointOTPVerify,
}

func TestAPIEnvelopeOnBadRequests(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	for _, e := range jsonEndpoints {
		t.Run(string(e), func(t *testing.T) {
			for _, raw := range []string{"", "{", "[]", "null", `"x"`, `{"client_id":"test-client"} {}`, "client_id=test-client"} {
				r := postJSON(t, srv, e, raw, defaultBasic)
				checkEnvelope(t, r, 400, "invalid_parameters", "Invalid json format", "")
			}
			req, err := http.NewRequest(http.MethodGet, srv.URL+string(e), nil)
			require.NoError(t, err)
			r := do(t, rawClient(srv), req)
			checkEnvelope(t, r, 405, "http_exception", "Method Not Allowed", "")
		})
	}
	t.Run("oversized body", func(t *testing.T) {
		big := `{"client_id":"` + string(make([]byte, 70<<10)) + `"}`
		checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointAccountLogin, big, nil), 400, "invalid_parameters", "Invalid json format", "")
	})
	for _, path := range []string{"/idp/v2/account/login", "/idp/v1/account/nope"} {
		t.Run(path, func(t *testing.T) {
			r := postJSON(t, srv, nextidentitytest.Endpoint(path), apiLoginBody(), nil)
			checkEnvelope(t, r, 503, "http_exception", "Backend action does not exist", "")
		})
	}
}

func TestAPIEnvID(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{EnvID: "env-1"})
	for _, tc := range []struct {
		query  string
		status int
	}{
		{"", 200},
		{"?env_id=env-1", 200},
		{"?env_id=env-2", 400},
		{"?env_id=env-1&env_id=env-1", 400},
	} {
		r := postJSON(t, srv, nextidentitytest.EndpointAccountLogin+nextidentitytest.Endpoint(tc.query), apiLoginBody(), nil)
		if tc.status == 400 {
			checkEnvelope(t, r, 400, "invalid_domain", "Invalid API usage", "")
			continue
		}
		require.Equal(t, tc.status, r.status, tc.query+": "+r.body)
	}
	// Without Options.EnvID any env_id is ignored.
	srv = newServer(t, nextidentitytest.Options{})
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountLogin+"?env_id=x", apiLoginBody(), nil).status)
}

func TestAPIClientRateLimit(t *testing.T) {
	clk := newClock()
	limited := nextidentitytest.DefaultClient()
	limited.RateLimit = 3
	other := nextidentitytest.DefaultClient()
	other.ID = "other-app"
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now, Clients: []nextidentitytest.Client{limited, other}})
	forgot := forgotBody("nobody@example.com")
	for i := range 3 {
		require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, forgot, nil).status, "call %d", i+1)
		clk.Advance(10 * time.Second)
	}
	// Every API call of the client counts, whatever the endpoint.
	r := postJSON(t, srv, nextidentitytest.EndpointAccountLogin, apiLoginBody(), nil)
	checkEnvelope(t, r, 429, "too_many_requests", "Too many requests", "")
	require.Equal(t, "30", r.header.Get("Retry-After"))
	// Other clients are not limited.
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, body(forgot, map[string]any{"client_id": "other-app"}), nil).status)
	clk.Advance(30 * time.Second) // the first call leaves the window
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountLogin, apiLoginBody(), nil).status)

	// SetRateLimit changes it on the running server; zero removes it.
	srv.SetRateLimit("other-app", 1)
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, body(forgot, map[string]any{"client_id": "other-app"}), nil).status)
	require.Equal(t, http.StatusTooManyRequests, postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, body(forgot, map[string]any{"client_id": "other-app"}), nil).status)
	srv.SetRateLimit("other-app", 0)
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, body(forgot, map[string]any{"client_id": "other-app"}), nil).status)
	require.Panics(t, func() { srv.SetRateLimit("nope", 1) })
}

func TestIntegrationTypeRefusesHostedJourneysForAPIClients(t *testing.T) {
	api := nextidentitytest.DefaultClient()
	api.Integration = nextidentitytest.IntegrationAPI
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{api}})
	p := newPKCE(t)
	for _, e := range []nextidentitytest.Endpoint{nextidentitytest.EndpointAuthorize, nextidentitytest.EndpointRegister, nextidentitytest.EndpointPersonalDetails} {
		r := get(t, srv, authURL(srv, e, authParams(p, nil)))
		require.Equal(t, http.StatusBadRequest, r.status, e)
		require.Contains(t, r.body, "Invalid client", e)
	}
	// Its API sign-in works.
	apiLogin(t, srv, nil)
	require.Panics(t, func() {
		c := nextidentitytest.DefaultClient()
		c.Integration = "journeys"
		nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{c}})
	})
}

func TestOutbox(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	_, ok := srv.LastMessage(nextidentitytest.DefaultUserEmail)
	require.False(t, ok)
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, forgotBody(nextidentitytest.DefaultUserEmail), nil).status)
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountRegister, registerBody(), nil).status)
	out := srv.Outbox()
	require.Len(t, out, 2)
	require.Equal(t, nextidentitytest.MessageForgotPassword, out[0].Kind)
	require.Equal(t, nextidentitytest.MessageVerification, out[1].Kind)
	require.Equal(t, "email", out[1].AuthType)
	require.Equal(t, "sam@example.com", out[1].To)
	require.False(t, out[1].At.IsZero())
	out[0].PIN = "changed"
	require.NotEqual(t, "changed", srv.Outbox()[0].PIN, "Outbox returns a copy")
	m, ok := srv.LastMessage(nextidentitytest.DefaultUserEmail)
	require.True(t, ok)
	require.Equal(t, nextidentitytest.MessageForgotPassword, m.Kind)
	srv.ClearOutbox()
	require.Empty(t, srv.Outbox())
	// The PIN still works after ClearOutbox.
	tok := body(apiTokenBody(m.PIN), map[string]any{"grant_type": "pin"})
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountToken, tok, nil).status)
}

func TestOnMessage(t *testing.T) {
	got := make(chan nextidentitytest.Message, 10)
	srv := nextidentitytest.NewServer(nextidentitytest.Options{OnMessage: func(m nextidentitytest.Message) { got <- m }})
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountRegister, registerBody(), nil).status)
	require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, forgotBody("sam@example.com"), nil).status)
	srv.Close() // delivers what is queued before returning
	require.Len(t, got, 2)
	first, second := <-got, <-got
	require.Equal(t, nextidentitytest.MessageVerification, first.Kind)
	require.Equal(t, nextidentitytest.MessageForgotPassword, second.Kind)
	require.Equal(t, srv.Outbox(), []nextidentitytest.Message{first, second})
}
