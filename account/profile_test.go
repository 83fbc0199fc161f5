package account_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
)

const pathProfile = "/idp/v1/account/profile"

func TestProfileAnswers(t *testing.T) {
	tok := &nextidentity.Token{AccessToken: "access-1"}
	for _, r := range []row{
		{name: "200 wrapped", status: 200, body: `{"profile":{"firstName":"Jane","emailAddress":"jane@example.com"}}`},
		{name: "200 top level", status: 200, body: `{"firstName":"Jane","emailAddress":"jane@example.com"}`},
		{name: "401", status: 401, body: `{"error":"http_exception","error_description":"Unauthorized"}`, want: []error{nextidentity.ErrUnauthorized}},
		{name: "403", status: 403, body: bodyForbidden, want: []error{account.ErrForbidden}},
		{name: "200 not an object", status: 200, body: `[1]`, want: []error{nextidentity.ErrMalformedResponse}},
		{name: "200 null", status: 200, body: `null`, want: []error{nextidentity.ErrMalformedResponse}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t, account.WithEnvID("e"))
			rec := s.answer(pathProfile, r.status, r.body)
			p, err := s.ac.Profile(context.Background(), tok)
			if r.want != nil && r.status == 200 {
				require.ErrorIs(t, err, r.want[0])
				require.ErrorIs(t, err, nextidentity.ErrProvider)
			} else {
				requireRow(t, r, err, "access-1")
			}
			got := rec.last(t)
			require.Equal(t, http.MethodGet, got.Method)
			require.Equal(t, "Bearer access-1", got.Auth)
			require.Equal(t, "client_id="+s.p.ClientID+"&env_id=e", got.Query)
			require.Empty(t, got.ContentType)
			if err == nil {
				require.Equal(t, map[string]any{"firstName": "Jane", "emailAddress": "jane@example.com"}, p.Fields)
				require.JSONEq(t, r.body, string(p.Raw))
			}
		})
	}
}

func TestUpdateProfileAnswers(t *testing.T) {
	tok := &nextidentity.Token{AccessToken: "access-1"}
	for _, r := range []row{
		{name: "200 stat ok", status: 200, body: `{"stat":"ok"}`},
		{name: "200 stat error", status: 200, body: `{"stat":"error","error":"invalid_parameters"}`, want: []error{nextidentity.ErrProvider}},
		{name: "403 wrong client_id", status: 403, body: bodyForbidden, want: []error{account.ErrForbidden}},
		{name: "422 required field", status: 422, body: `{"error":"invalid_parameters","error_details":{"firstName":{"missing":"required"}}}`, want: []error{account.ErrInvalidInput}},
		{name: "422 bad email", status: 422, body: `{"error":"invalid_form_fields","error_description":"some inputs are invalid","error_details":{"emailAddress":["Email address is not formatted correctly."]}}`,
			want: []error{account.ErrInvalidInput}, not: []error{account.ErrUserExists}},
		{name: "401", status: 401, body: `{"error":"http_exception","error_description":"Unauthorized"}`, want: []error{nextidentity.ErrUnauthorized}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer(pathProfile, r.status, r.body)
			err := s.ac.UpdateProfile(context.Background(), tok, map[string]any{"firstName": "Jo"}, "en-US")
			if r.status == 200 && r.want != nil {
				require.ErrorIs(t, err, r.want[0])
			} else {
				requireRow(t, r, err, "access-1")
			}
			got := rec.last(t)
			require.Equal(t, http.MethodPut, got.Method)
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "locale": "en-US", "profile_fields": map[string]any{"firstName": "Jo"}}, got.Body)
		})
	}
}
