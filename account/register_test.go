package account_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
)

func TestRegisterAnswers(t *testing.T) {
	for _, r := range []row{
		{name: "200 uuid", status: 200, body: `{"uuid":"u-1"}`},
		{name: "200 code for a client without verification", status: 200, body: `{"authorization_code":"c0de"}`},
		{name: "200 existing user, no uuid", status: 200, body: `{"message":"An email has been sent to the address on record"}`},
		{name: "200 empty", status: 200, body: ``},
		{name: "403 bad client_id", status: 403, body: bodyForbidden, want: []error{account.ErrForbidden}, not: []error{account.ErrUserExists}},
		{name: "422 bad email", status: 422, body: `{"error":"invalid_form_fields","error_description":"some inputs are invalid","error_details":{"emailAddress":["Email address is not formatted correctly."]}}`,
			want: []error{account.ErrInvalidInput}, not: []error{account.ErrUserExists}},
		{name: "422 unexpected passwords", status: 422, body: `{"error":"invalid_parameters","error_details":{"newPassword, newPasswordConfirm":{"unexpected_keys":"Unexpected parameters found in the request."}}}`,
			want: []error{account.ErrInvalidInput}},
		{name: "422 password required", status: 422, body: `{"error":"invalid_parameters","error_details":{"newPassword":"field required"}}`, want: []error{account.ErrInvalidInput}},
		{name: "400 bad JSON", status: 400, body: bodyBadJSON, want: []error{account.ErrInvalidInput}},
		{name: "429", status: 429, body: bodyTooMany, want: []error{account.ErrRateLimited}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer("/idp/v1/account/register", r.status, r.body)
			reg, err := s.ac.Register(context.Background(), account.Registration{
				AuthType: account.Email, UserID: "new@example.com", Password: password,
				Profile: map[string]any{"firstName": "Nia"}, Locale: "fr-CA",
			})
			requireRow(t, r, err, password)
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "auth_type": "email", "redirect_uri": stubRedirect, "locale": "fr-CA",
				"profile_fields": map[string]any{"emailAddress": "new@example.com", "firstName": "Nia", "newPassword": password, "newPasswordConfirm": password}},
				rec.last(t).Body)
			if err != nil {
				return
			}
			switch r.name {
			case "200 uuid":
				require.Equal(t, "u-1", reg.UUID)
				require.Nil(t, reg.LoginResult())
			case "200 code for a client without verification":
				require.Equal(t, &account.LoginResult{Code: "c0de", AuthType: account.Email, UserID: "new@example.com"}, reg.LoginResult())
			default:
				require.Empty(t, reg.UUID, "nothing tells an existing user apart")
				require.Empty(t, reg.Code)
			}
		})
	}
}

func TestRegisterWithoutPasswordBySMS(t *testing.T) {
	s := newStub(t)
	rec := s.answer("/idp/v1/account/register", 200, `{"uuid":"u"}`)
	_, err := s.ac.Register(context.Background(), account.Registration{AuthType: account.SMS, UserID: "+15417543010"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"mobileNumber": "+15417543010"}, rec.last(t).Body["profile_fields"])
}

func TestVerifyAnswers(t *testing.T) {
	for _, r := range []row{
		{name: "200", status: 200, body: `{"stat":"ok"}`},
		{name: "422 wrong PIN", status: 422, body: `{"error":"invalid_parameters","error_details":{"code":"invalid"}}`,
			want: []error{nextidentity.ErrInvalidGrant, account.ErrInvalidInput}},
		{name: "422 missing user_id", status: 422, body: `{"error":"invalid_parameters","error_details":{"user_id":"field required"}}`,
			want: []error{account.ErrInvalidInput}, not: []error{nextidentity.ErrInvalidGrant}},
		{name: "403", status: 403, body: bodyForbidden, want: []error{account.ErrForbidden}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer("/idp/v1/account/verify", r.status, r.body)
			err := s.ac.Verify(context.Background(), account.Email, "new@example.com", "123456")
			requireRow(t, r, err, "123456")
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "auth_type": "email", "user_id": "new@example.com", "code": "123456"}, rec.last(t).Body)
		})
	}
}

// userCallRows are the documented answers of /resend-verification and
// /forgot-password, which share their shape.
var userCallRows = []row{
	{name: "200 message", status: 200, body: `{"message":"An email has been sent to the address on record."}`},
	{name: "200 empty", status: 200, body: ``},
	{name: "403 bad client_id", status: 403, body: bodyForbidden, want: []error{account.ErrForbidden}},
	{name: "422 bad auth_type", status: 422, body: `{"error":"invalid_parameters","error_details":{"auth_type":{"invalid":"unsupported auth_type value"}}}`, want: []error{account.ErrInvalidInput}},
	{name: "422 missing user_id", status: 422, body: `{"error":"invalid_parameters","error_details":{"user_id":"field required"}}`, want: []error{account.ErrInvalidInput}},
	{name: "422 bad redirect_uri", status: 422, body: `{"error":"invalid_parameters","error_details":{"redirect_uri":{"invalid":"invalid value"}}}`, want: []error{account.ErrInvalidInput}},
	{name: "422 missing_argument", status: 422, body: bodyNoRedirect, want: []error{account.ErrInvalidInput}, not: []error{account.ErrInvalidCredentials}},
	{name: "429", status: 429, body: bodyTooMany, want: []error{account.ErrRateLimited}},
}

func TestResendVerificationAnswers(t *testing.T) {
	for _, r := range userCallRows {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t, account.WithEnvID("env-1"))
			rec := s.answer("/idp/v1/account/resend-verification", r.status, r.body)
			err := s.ac.ResendVerification(context.Background(), account.SMS, "+15417543010")
			requireRow(t, r, err)
			got := rec.last(t)
			require.Equal(t, "env_id=env-1", got.Query)
			require.Empty(t, got.Auth)
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "auth_type": "sms", "user_id": "+15417543010", "redirect_uri": stubRedirect}, got.Body)
		})
	}
}

func TestRedirectRequired(t *testing.T) {
	s := newStub(t, account.WithRedirectURL(""))
	ctx := context.Background()
	rec := s.answer("/idp/v1/account/register", 200, `{}`)
	_, err := s.ac.Register(ctx, account.Registration{AuthType: account.Email, UserID: "a@b.c"})
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	require.ErrorIs(t, s.ac.ResendVerification(ctx, account.Email, "a@b.c"), nextidentity.ErrInvalidConfig)
	require.ErrorIs(t, s.ac.ForgotPassword(ctx, account.Email, "a@b.c"), nextidentity.ErrInvalidConfig)
	_, err = s.ac.Invite(ctx, account.Invitation{AuthType: account.Email, UserID: "a@b.c"})
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	_, err = s.ac.ExchangePIN(ctx, account.Email, "a@b.c", "123456")
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	require.Zero(t, rec.count())
}
