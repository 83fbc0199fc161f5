package account_test

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
)

func TestRegisterClientAnswers(t *testing.T) {
	for _, r := range []row{
		{name: "201 RFC 7591", status: 201, body: `{"client_id":"new-client","client_secret":"new-secret","redirect_uris":["https://a.example/cb"],"client_id_issued_at":1700000000,"client_secret_expires_at":0,"site_name":"Shop"}`},
		{name: "401", status: 401, body: `{"error":"http_exception","error_description":"Unauthorized"}`, want: []error{nextidentity.ErrUnauthorized}},
		{name: "403 not privileged", status: 403, body: bodyForbiddenCode, want: []error{account.ErrForbidden}},
		{name: "422", status: 422, body: `{"error":"invalid_parameters","error_details":{"config_scheme":{"invalid":"invalid value"}}}`, want: []error{account.ErrInvalidInput}},
		{name: "400 RFC 7591 error", status: 400, body: `{"error":"invalid_redirect_uri","error_description":"bad"}`, want: []error{account.ErrInvalidInput}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer("/idp/v1/applications/register", r.status, r.body)
			rc, err := s.ac.RegisterClient(context.Background(), account.ClientRegistration{
				ConfigScheme: account.SchemeEmailPasswordInvite,
				RedirectURIs: []string{"https://a.example/cb", "myapp://cb"},
				AppURL:       "https://a.example", SiteName: "Shop",
				Extra: map[string]any{"site_name": "ignored", "app_type": "web"},
			})
			requireRow(t, r, err)
			got := rec.last(t)
			require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte(s.p.ClientID+":"+s.p.Secret)), got.Auth)
			require.Equal(t, map[string]any{"config_scheme": "email_password_invite", "redirect_uri_allowlist": "https://a.example/cb,myapp://cb",
				"app_url": "https://a.example", "site_name": "Shop", "app_type": "web"}, got.Body)
			if err != nil {
				return
			}
			require.Equal(t, "new-client", rc.ClientID)
			require.Equal(t, "new-secret", rc.ClientSecret)
			require.Equal(t, []string{"https://a.example/cb"}, rc.RedirectURIs)
			require.Equal(t, time.Unix(1700000000, 0), rc.ClientIDIssuedAt)
			require.True(t, rc.ClientSecretExpiresAt.IsZero())
			require.JSONEq(t, r.body, string(rc.Raw))
		})
	}
	s := newStub(t)
	s.answer("/idp/v1/applications/register", 201, `{"client_secret":"leak-me"}`)
	_, err := s.ac.RegisterClient(context.Background(), account.ClientRegistration{ConfigScheme: account.SchemeMobileOTP})
	require.ErrorIs(t, err, nextidentity.ErrMalformedResponse)
	require.NotContains(t, err.Error(), "leak-me")
}
