package nextidentitytest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestAdoptRegisterAnswers(t *testing.T) {
	admin := nextidentitytest.DefaultClient()
	admin.Privileged = true
	plain := nextidentitytest.DefaultClient()
	plain.ID = "plain"
	newSrv := func(t *testing.T) *nextidentitytest.Server {
		return newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{admin, plain}})
	}
	base := map[string]any{
		"config_scheme": "email_password", "redirect_uri_allowlist": "https://app.example/cb, com.example.app:/cb",
		"app_url": "https://app.example", "app_link": "https://app.example/start", "site_name": "App",
		"property_id": "0d3c8a55-6a0e-4f0e-9a57-2c1b6b9d1f00",
	}
	rows := []apiCase{
		{name: "registered", status: 201},
		{name: "spa", edit: map[string]any{"app_type": "spa", "config_scheme": "mobile_OTP_invite"}, status: 201},
		{name: "no config_scheme", edit: map[string]any{"config_scheme": del}, status: 400, err: "invalid_client_metadata", desc: "Invalid client metadata.", details: `{"config_scheme":"field required"}`},
		{name: "unknown config_scheme", edit: map[string]any{"config_scheme": "magic"}, status: 400, err: "invalid_client_metadata", desc: "config_scheme must be one of email_password, email_password_invite, mobile_password, mobile_password_invite, mobile_OTP, mobile_OTP_invite."},
		{name: "no allowlist", edit: map[string]any{"redirect_uri_allowlist": del}, status: 400, err: "invalid_client_metadata", desc: "Invalid client metadata.", details: `{"redirect_uri_allowlist":"field required"}`},
		{name: "relative redirect URI", edit: map[string]any{"redirect_uri_allowlist": "https://app.example/cb,/cb"}, status: 400, err: "invalid_redirect_uri", desc: "Every redirect_uri_allowlist entry must be an absolute URI without a fragment."},
		{name: "bad property_id", edit: map[string]any{"property_id": "42"}, status: 400, err: "invalid_client_metadata", desc: "property_id must be a UUID."},
		{name: "bad app_type", edit: map[string]any{"app_type": "desktop"}, status: 400, err: "invalid_client_metadata", desc: "app_type must be one of web, spa, mobile, machine-to-machine."},
		{name: "bad app_url", edit: map[string]any{"app_url": "app"}, status: 400, err: "invalid_client_metadata", desc: "app_url and app_link must be absolute URLs."},
	}
	runAPITable(t, newSrv, nextidentitytest.EndpointAdoptRegister, fixed(base), defaultBasic, rows, func(t *testing.T, srv *nextidentitytest.Server, r response) {
		m := decode(t, r)
		id := m["client_id"].(string)
		require.Len(t, id, 24)
		require.Equal(t, []any{"https://app.example/cb", "com.example.app:/cb"}, m["redirect_uris"])
		if m["app_type"] == "spa" {
			require.NotContains(t, m, "client_secret")
		} else {
			require.NotEmpty(t, m["client_secret"])
			require.EqualValues(t, 0, m["client_secret_expires_at"])
		}
		// The new client exists: it can use the API at once.
		cfg := srv.ClientConfig(id)
		require.Equal(t, "https://app.example/cb", cfg.RedirectURL)
		lr := postJSON(t, srv, nextidentitytest.EndpointAccountForgotPassword, body(forgotBody("x@example.com"), map[string]any{"client_id": id, "redirect_uri": "https://app.example/cb"}), nil)
		require.Equal(t, http.StatusOK, lr.status, lr.body)
	})
	for _, tc := range []struct {
		name   string
		auth   func(*http.Request)
		status int
		err    string
		desc   string
	}{
		{"no credentials", nil, 401, "http_exception", "Unauthorized"},
		{"wrong secret", basic(nextidentitytest.DefaultClientID, "x"), 401, "http_exception", "Unauthorized"},
		{"not privileged", basic("plain", nextidentitytest.DefaultClientSecret), 403, "forbidden", "The client may not register clients."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := postJSON(t, newSrv(t), nextidentitytest.EndpointAdoptRegister, base, tc.auth)
			checkEnvelope(t, r, tc.status, tc.err, tc.desc, "")
		})
	}
}
