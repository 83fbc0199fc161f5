package nextidentitytest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func otpSendBody(user string) map[string]any {
	return map[string]any{
		"message": "Your code is %code%.", "client_id": nextidentitytest.DefaultClientID,
		"redirect_uri": nextidentitytest.DefaultRedirectURI, "user_id": user, "auth_type": "sms", "locale": "en-US",
	}
}

func TestOTPSendAnswers(t *testing.T) {
	newSrv := func(t *testing.T) *nextidentitytest.Server { return loginServer(t, nextidentitytest.Options{}) }
	rows := []apiCase{
		{name: "sent", status: 200},
		{name: "no message", edit: map[string]any{"message": del}, status: 422, err: "invalid_parameters", details: `{"message":"field required"}`},
		{name: "message without %code%", edit: map[string]any{"message": "hello"}, status: 422, err: "invalid_parameters", details: `{"message":{"invalid":"must contain %code%"}}`},
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "no redirect_uri", edit: map[string]any{"redirect_uri": del}, status: 422, err: "invalid_parameters", details: `{"redirect_uri":"field required"}`},
		{name: "no user_id", edit: map[string]any{"user_id": del}, status: 422, err: "invalid_parameters", details: `{"user_id":"field required"}`},
		{name: "bad auth_type", edit: map[string]any{"auth_type": "mobile"}, status: 422, err: "invalid_parameters", details: `{"auth_type":{"invalid":"unsupported auth_type value"}}`},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointOTPSend, fixed(otpSendBody(smsPhone)), nil, rows, func(t *testing.T, srv *nextidentitytest.Server, r response) {
		require.JSONEq(t, `{"stat":"ok"}`, r.body)
		msg, ok := srv.LastMessage(smsPhone)
		require.True(t, ok)
		require.Equal(t, nextidentitytest.MessageOTP, msg.Kind)
		require.Regexp(t, sixDigits, msg.PIN)
		require.Equal(t, "Your code is "+msg.PIN+".", msg.Text)
	})
	t.Run("unknown user: same answer, nothing sent", func(t *testing.T) {
		srv := newSrv(t)
		r := postJSON(t, srv, nextidentitytest.EndpointOTPSend, otpSendBody("+15550000000"), nil)
		require.Equal(t, http.StatusOK, r.status)
		require.JSONEq(t, `{"stat":"ok"}`, r.body)
		require.Empty(t, srv.Outbox())
	})
}

func TestOTPVerifyAnswers(t *testing.T) {
	var pin string
	newSrv := func(t *testing.T) *nextidentitytest.Server {
		srv := loginServer(t, nextidentitytest.Options{})
		require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointOTPSend, otpSendBody(smsPhone), nil).status)
		msg, _ := srv.LastMessage(smsPhone)
		pin = msg.PIN
		return srv
	}
	base := func(*testing.T, *nextidentitytest.Server) map[string]any {
		return map[string]any{"code": pin, "client_id": nextidentitytest.DefaultClientID, "user_id": smsPhone, "auth_type": "sms"}
	}
	wrong := func() string {
		if pin == "000000" {
			return "111111"
		}
		return "000000"
	}
	rows := []apiCase{
		{name: "verified", status: 200},
		{name: "no code", edit: map[string]any{"code": del}, status: 422, err: "invalid_parameters", details: `{"code":"field required"}`},
		{name: "no client_id", edit: map[string]any{"client_id": del}, status: 422, err: "invalid_parameters", details: `{"client_id":"field required"}`},
		{name: "unknown client_id", edit: map[string]any{"client_id": "nope"}, status: 403, err: "http_exception", desc: "Forbidden"},
		{name: "no user_id", edit: map[string]any{"user_id": del}, status: 422, err: "invalid_parameters", details: `{"user_id":"field required"}`},
		{name: "no auth_type", edit: map[string]any{"auth_type": del}, status: 422, err: "invalid_parameters", details: `{"auth_type":"field required"}`},
		{name: "unknown user", edit: map[string]any{"user_id": "+15550000000"}, status: 422, err: "invalid_parameters", details: `{"code":"invalid"}`},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointOTPVerify, base, nil, rows, func(t *testing.T, srv *nextidentitytest.Server, r response) {
		code := decode(t, r)["authorization_code"].(string)
		tok := body(apiTokenBody(code), map[string]any{"auth_type": "sms", "user_id": smsPhone})
		require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointAccountToken, tok, nil).status)
	})
	t.Run("wrong code, then spent code", func(t *testing.T) {
		srv := newSrv(t)
		b := base(t, srv)
		checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointOTPVerify, body(b, map[string]any{"code": wrong()}), nil), 422, "invalid_parameters", "", `{"code":"invalid"}`)
		require.Equal(t, http.StatusOK, postJSON(t, srv, nextidentitytest.EndpointOTPVerify, b, nil).status)
		checkEnvelope(t, postJSON(t, srv, nextidentitytest.EndpointOTPVerify, b, nil), 422, "invalid_parameters", "", `{"code":"invalid"}`)
	})
}
