package account_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
)

const pathInvite = "/idp/v1/account/pre-register"

func TestInviteAnswers(t *testing.T) {
	for _, r := range []row{
		{name: "201 new", status: 201, body: `{"uuid":"u-1"}`},
		{name: "200 existing user linked", status: 200, body: `{"uuid":"u-1"}`},
		{name: "422 existing email", status: 422, body: `{"error":"invalid_form_fields","error_description":"some inputs are invalid","error_details":{"emailAddress":["Email address is already in use."]}}`,
			want: []error{account.ErrUserExists, account.ErrInvalidInput}},
		{name: "422 missing emailAddress", status: 422, body: `{"error":"invalid_parameters","error_details":{"emailAddress":"field required"}}`,
			want: []error{account.ErrInvalidInput}, not: []error{account.ErrUserExists}},
		{name: "422 missing redirect_uri", status: 422, body: `{"error":"invalid_parameters","error_details":{"redirect_uri":"field required"}}`, want: []error{account.ErrInvalidInput}},
		{name: "422 missing grant_type", status: 422, body: `{"error":"invalid_parameters","error_details":{"grant_type":"field required"}}`, want: []error{account.ErrInvalidInput}},
		{name: "422 missing profile_fields", status: 422, body: `{"error":"invalid_parameters","error_details":{"profile_fields":"field required"}}`, want: []error{account.ErrInvalidInput}},
		{name: "422 missing client_id", status: 422, body: `{"error":"invalid_parameters","error_details":{"client_id":"field required"}}`, want: []error{account.ErrInvalidInput}},
		{name: "400 bad JSON", status: 400, body: bodyBadJSON, want: []error{account.ErrInvalidInput}},
		{name: "401 wrong secret", status: 401, body: `{"error":"http_exception","error_description":"Unauthorized"}`,
			want: []error{nextidentity.ErrUnauthorized}, not: []error{account.ErrInvalidCredentials}},
		{name: "403", status: 403, body: bodyForbidden, want: []error{account.ErrForbidden}},
		{name: "429", status: 429, body: bodyTooMany, want: []error{account.ErrRateLimited}},
		{name: "201 without uuid", status: 201, body: `{}`, want: []error{nextidentity.ErrMalformedResponse}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer(pathInvite, r.status, r.body)
			inv, err := s.ac.Invite(context.Background(), account.Invitation{
				AuthType: account.Email, UserID: "guest@example.com", Resend: true, Locale: "en-US",
				Profile: map[string]any{"firstName": "Gus", "resourceAccessB2b": "true"},
			})
			if errors.Is(err, nextidentity.ErrMalformedResponse) {
				require.ErrorIs(t, err, nextidentity.ErrProvider)
			} else {
				requireRow(t, r, err, s.p.Secret)
			}
			got := rec.last(t)
			require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte(s.p.ClientID+":"+s.p.Secret)), got.Auth)
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "auth_type": "email", "grant_type": "password", "redirect_uri": stubRedirect,
				"locale": "en-US", "resend": true,
				"profile_fields": map[string]any{"emailAddress": "guest@example.com", "firstName": "Gus", "resourceAccessB2b": "true"}}, got.Body)
			if err != nil {
				return
			}
			require.Equal(t, "u-1", inv.UUID)
			require.Equal(t, r.status == 200, inv.Existing)
		})
	}
}

func TestInviteBearer(t *testing.T) {
	s := newStub(t, account.WithInviteTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "cc-token"})))
	rec := s.answer(pathInvite, 201, `{"uuid":"u"}`)
	_, err := s.ac.Invite(context.Background(), account.Invitation{AuthType: account.SMS, UserID: "+15417543010"})
	require.NoError(t, err)
	got := rec.last(t)
	require.Equal(t, "Bearer cc-token", got.Auth)
	require.NotContains(t, got.Body, "resend", "resend is sent only when true")
	require.Equal(t, map[string]any{"mobileNumber": "+15417543010"}, got.Body["profile_fields"])
}

func TestInviteNeedsASecret(t *testing.T) {
	s := newStub(t)
	rec := s.answer(pathInvite, 201, `{"uuid":"u"}`)
	nc, err := nextidentity.New(context.Background(), nextidentity.Config{Issuer: s.p.Issuer, ClientID: s.p.ClientID, RedirectURL: stubRedirect})
	require.NoError(t, err)
	defer nc.Close()
	_, err = account.New(nc).Invite(context.Background(), account.Invitation{AuthType: account.Email, UserID: "a@b.c"})
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	require.Zero(t, rec.count())
}
