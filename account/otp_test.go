package account_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
)

func TestSendOTPAnswers(t *testing.T) {
	for _, r := range []row{
		{name: "200", status: 200, body: `{"stat":"ok"}`},
		{name: "400 wrong environment", status: 400, body: bodyBadDomain, want: []error{account.ErrInvalidInput}},
		{name: "422", status: 422, body: `{"error":"invalid_parameters","error_details":{"user_id":"field required"}}`, want: []error{account.ErrInvalidInput}},
		{name: "429", status: 429, body: bodyTooMany, want: []error{account.ErrRateLimited}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t, account.WithEnvID("env-1"))
			rec := s.answer("/idp/v1/otp/send", r.status, r.body)
			err := s.ac.SendOTP(context.Background(), account.OTP{AuthType: account.SMS, UserID: "+15417543010", Message: "Your code: %code%", Locale: "en-US"})
			requireRow(t, r, err)
			got := rec.last(t)
			require.Equal(t, "env_id=env-1", got.Query)
			require.Equal(t, map[string]any{"message": "Your code: %code%", "client_id": s.p.ClientID, "redirect_uri": stubRedirect,
				"user_id": "+15417543010", "auth_type": "sms", "locale": "en-US"}, got.Body)
		})
	}
	s := newStub(t)
	require.Error(t, s.ac.SendOTP(context.Background(), account.OTP{AuthType: account.SMS, UserID: "+1", Message: "no placeholder"}))
}

func TestVerifyOTPAnswers(t *testing.T) {
	for _, r := range []row{
		{name: "200 code", status: 200, body: `{"authorization_code":"c0de"}`},
		{name: "401", status: 401, body: `{"error":"http_exception","error_description":"Unauthorized"}`, want: []error{account.ErrInvalidCredentials}},
		{name: "422 wrong code", status: 422, body: `{"error":"invalid_parameters","error_details":{"code":"invalid"}}`, want: []error{nextidentity.ErrInvalidGrant}},
		{name: "429", status: 429, body: bodyTooMany, want: []error{account.ErrRateLimited}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer("/idp/v1/otp/verify", r.status, r.body)
			res, err := s.ac.VerifyOTP(context.Background(), account.SMS, "+15417543010", "123456")
			requireRow(t, r, err, "123456")
			require.Equal(t, map[string]any{"code": "123456", "client_id": s.p.ClientID, "user_id": "+15417543010", "auth_type": "sms"}, rec.last(t).Body)
			if err == nil {
				require.Equal(t, &account.LoginResult{Code: "c0de", AuthType: account.SMS, UserID: "+15417543010", Raw: res.Raw}, res)
			}
		})
	}
}
