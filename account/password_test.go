package account_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
)

func TestForgotPasswordAnswers(t *testing.T) {
	for _, r := range userCallRows {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer("/idp/v1/account/forgot-password", r.status, r.body)
			err := s.ac.ForgotPassword(context.Background(), account.Email, "jane@example.com")
			requireRow(t, r, err)
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "auth_type": "email", "user_id": "jane@example.com", "redirect_uri": stubRedirect}, rec.last(t).Body)
		})
	}
}

func TestExchangePINAnswers(t *testing.T) {
	for _, r := range []row{
		{name: "200 tokens", status: 200, body: `{"access_token":"a","token_type":"bearer","refresh_token":"r"}`},
		{name: "403 wrong or spent PIN", status: 403, body: bodyForbidden, want: []error{nextidentity.ErrInvalidGrant}, not: []error{account.ErrForbidden}},
		{name: "422 unsupported grant", status: 422, body: `{"error":"invalid_parameters","error_details":{"grant_type":"unsupported"}}`, want: []error{account.ErrInvalidInput}},
		{name: "429", status: 429, body: bodyTooMany, header: []string{"Retry-After", "60"}, want: []error{account.ErrRateLimited}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer(pathToken, r.status, r.body, r.header...)
			tok, err := s.ac.ExchangePIN(context.Background(), account.Email, "jane@example.com", "654321")
			requireRow(t, r, err, "654321")
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "grant_type": "pin", "code": "654321",
				"redirect_uri": stubRedirect, "auth_type": "email", "user_id": "jane@example.com"}, rec.last(t).Body)
			if err == nil {
				require.Equal(t, "a", tok.AccessToken)
			}
		})
	}
	s := newStub(t)
	_, err := s.ac.ExchangePIN(context.Background(), account.Email, "jane@example.com", "")
	require.Error(t, err)
}

func TestChangePasswordAnswers(t *testing.T) {
	const newPassword = "n3w-Passw0rd!"
	tok := &nextidentity.Token{AccessToken: "access-1"}
	msg := func(m string) string {
		return `{"error":"invalid_form_fields","error_description":"some inputs are invalid","error_details":{"message":"` + m + `"}}`
	}
	for _, r := range []row{
		{name: "200", status: 200, body: `{"stat":"ok"}`},
		{name: "401", status: 401, body: `{"error":"http_exception","error_description":"Unauthorized"}`,
			want: []error{nextidentity.ErrUnauthorized}, not: []error{account.ErrInvalidCredentials}},
		{name: "403 bad client_id", status: 403, body: bodyForbidden, want: []error{account.ErrForbidden}},
		{name: "422 passwords differ", status: 422, body: msg("Passwords do not match"), want: []error{account.ErrInvalidInput}},
		{name: "422 current password", status: 422, body: msg("Current password is incorrect. Please try again."), want: []error{account.ErrInvalidInput}},
		{name: "422 format", status: 422, body: msg("Password is not formatted correctly."), want: []error{account.ErrInvalidInput}},
		{name: "422 password required", status: 422, body: `{"error":"invalid_parameters","error_details":{"password":"field required"}}`, want: []error{account.ErrInvalidInput}},
		{name: "422 confirm required", status: 422, body: `{"error":"invalid_parameters","error_details":{"password_confirm":"field required"}}`, want: []error{account.ErrInvalidInput}},
		{name: "422 echoing the password", status: 422, body: `{"error":"invalid_form_fields","error_details":{"password":["n3w-Passw0rd! was used recently"]}}`, want: []error{account.ErrInvalidInput}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer("/idp/v1/account/change-password", r.status, r.body)
			err := s.ac.ChangePassword(context.Background(), tok, newPassword)
			requireRow(t, r, err, newPassword, "access-1")
			got := rec.last(t)
			require.Equal(t, "Bearer access-1", got.Auth)
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "password": newPassword, "password_confirm": newPassword}, got.Body)
		})
	}
	s := newStub(t)
	require.ErrorIs(t, s.ac.ChangePassword(context.Background(), nil, newPassword), nextidentity.ErrNoAccessToken)
}
