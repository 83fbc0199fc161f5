package account_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

const (
	pathLogin  = "/idp/v1/account/login"
	pathToken  = "/idp/v1/account/token"
	pathLogout = "/idp/v1/account/logout"
	password   = "correct horse battery staple"
)

var jane = account.Credentials{AuthType: account.Email, UserID: "jane@example.com", Password: password, Locale: "en-US"}

func TestLoginAnswers(t *testing.T) {
	for _, r := range []row{
		{name: "200 code", status: 200, body: `{"authorization_code":"c0de"}`},
		{name: "200 code, legal terms to accept", status: 200, body: `{"authorization_code":"c0de","legal_acceptance_required":true,"message":"The user must accept the current legal agreements."}`},
		{name: "401 unknown user", status: 401, body: `{"error":"http_exception","error_description":"Unauthorized"}`,
			want: []error{account.ErrInvalidCredentials, nextidentity.ErrUnauthorized, nextidentity.ErrProvider}, not: []error{account.ErrUnverifiedUser}},
		{name: "401 wrong password", status: 401, body: `{"error":"http_exception","error_description":"Unauthorized","error_details":{"message":"unauthorized"}}`,
			want: []error{account.ErrInvalidCredentials}},
		{name: "403 bad client_id", status: 403, body: bodyForbiddenCode, want: []error{account.ErrForbidden}, not: []error{account.ErrInvalidCredentials, nextidentity.ErrInvalidGrant}},
		{name: "403 no resource access", status: 403, body: `{"error":"forbidden","error_description":"user does not have access to this resource"}`, want: []error{account.ErrForbidden}},
		{name: "422 unverified", status: 422, body: `{"error":"unverified_user","error_description":"unverified user account"}`,
			want: []error{account.ErrUnverifiedUser}, not: []error{account.ErrInvalidInput, account.ErrInvalidCredentials}},
		{name: "422 missing user_id", status: 422, body: `{"error":"invalid_parameters","error_details":{"user_id":"field required"}}`, want: []error{account.ErrInvalidInput}},
		{name: "422 bad auth_type", status: 422, body: `{"error":"invalid_parameters","error_details":{"auth_type":{"invalid":"unsupported auth_type value"}}}`, want: []error{account.ErrInvalidInput}},
		{name: "400 bad JSON", status: 400, body: bodyBadJSON, want: []error{account.ErrInvalidInput}},
		{name: "400 wrong environment", status: 400, body: bodyBadDomain, want: []error{account.ErrInvalidInput}},
		{name: "429", status: 429, body: bodyTooMany, want: []error{account.ErrRateLimited}},
		{name: "503 wrong version", status: 503, body: bodyBackend, want: []error{nextidentity.ErrProviderUnreachable}},
		{name: "200 without code", status: 200, body: `{"message":"ok"}`, want: []error{nextidentity.ErrMalformedResponse}},
		{name: "200 not JSON", status: 200, body: `<html>`, want: []error{nextidentity.ErrMalformedResponse}},
		{name: "401 echoing the password", status: 401, body: `{"error":"http_exception","error_description":"bad password correct horse battery staple","error_details":{"password":["correct horse battery staple is wrong"]}}`,
			want: []error{account.ErrInvalidCredentials}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer(pathLogin, r.status, r.body, r.header...)
			res, err := s.ac.Login(context.Background(), jane)
			requireRow(t, r, err, password)
			got := rec.last(t)
			require.Equal(t, http.MethodPost, got.Method)
			require.Equal(t, "application/json", got.ContentType)
			require.Empty(t, got.Auth, "no secret on /login")
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "auth_type": "email", "user_id": jane.UserID,
				"password": password, "redirect_uri": stubRedirect, "locale": "en-US"}, got.Body)
			var ae *account.Error
			if errors.As(err, &ae) {
				raw, _ := json.Marshal(ae)
				require.NotContains(t, string(raw), password, "the error keeps no password")
				return
			}
			if err != nil {
				return
			}
			require.Equal(t, "c0de", res.Code)
			require.Equal(t, account.Email, res.AuthType)
			require.Equal(t, jane.UserID, res.UserID)
			require.JSONEq(t, r.body, string(res.Raw))
			require.Equal(t, r.name == "200 code, legal terms to accept", res.LegalAcceptanceRequired)
		})
	}
}

func TestLoginErrorFields(t *testing.T) {
	s := newStub(t)
	s.answer(pathLogin, 401, `{"error":"http_exception","error_description":"Unauthorized","error_details":{"message":"unauthorized"}}`)
	_, err := s.ac.Login(context.Background(), jane)
	var ae *account.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "login", ae.Op)
	require.Equal(t, "http_exception", ae.Code)
	require.Equal(t, "Unauthorized", ae.Description)
	require.JSONEq(t, `{"message":"unauthorized"}`, string(ae.Details))
	require.Equal(t, map[string][]string{"message": {"unauthorized"}}, ae.Fields)
	require.Equal(t, "account: login: HTTP 401: http_exception: Unauthorized; message: unauthorized", err.Error())
}

// idToken is a valid ID token of the stub's provider, without a nonce, for
// accessToken.
func idToken(s *stub, accessToken string) string {
	c := s.p.Claims(stubNow, "")
	c["at_hash"] = testprovider.AtHash(accessToken)
	return testprovider.Sign("RS256", s.p.RSA, c, nil)
}

func TestExchangeAnswers(t *testing.T) {
	const at, rt = "access-1", "refresh-1"
	for _, r := range []row{
		{name: "200 tokens", status: 200, body: `{"access_token":"access-1","token_type":"bearer","refresh_token":"refresh-1"}`},
		{name: "200 tokens with id_token and expires_in", status: 200},
		{name: "403 spent or unknown code", status: 403, body: bodyForbidden,
			want: []error{nextidentity.ErrInvalidGrant, nextidentity.ErrProvider}, not: []error{account.ErrForbidden, account.ErrInvalidCredentials}},
		{name: "422 unsupported grant", status: 422, body: `{"error":"invalid_parameters","error_details":{"grant_type":"unsupported"}}`, want: []error{account.ErrInvalidInput}},
		{name: "422 missing client_id", status: 422, body: `{"error":"invalid_parameters","error_details":{"client_id":{"missing":"required"}}}`, want: []error{account.ErrInvalidInput}},
		{name: "422 bad redirect_uri", status: 422, body: `{"error":"invalid_parameters","error_details":{"redirect_uri":{"invalid":"invalid value"}}}`, want: []error{account.ErrInvalidInput}},
		{name: "429 with Retry-After", status: 429, body: bodyTooMany, header: []string{"Retry-After", "300"}, want: []error{account.ErrRateLimited}},
		{name: "429 without Retry-After", status: 429, body: bodyTooMany, want: []error{account.ErrRateLimited}},
		{name: "200 without access_token", status: 200, body: `{"token_type":"bearer"}`, want: []error{nextidentity.ErrMalformedResponse}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			if r.body == "" {
				b, _ := json.Marshal(map[string]any{"access_token": at, "token_type": "Bearer", "refresh_token": rt,
					"expires_in": 3600, "id_token": idToken(s, at)})
				r.body = string(b)
			}
			rec := s.answer(pathToken, r.status, r.body, r.header...)
			tok, err := s.ac.Exchange(context.Background(), &account.LoginResult{Code: "c0de", AuthType: account.SMS, UserID: "+15417543010"}, account.WithLegalAcceptance())
			if r.want != nil && errors.Is(err, nextidentity.ErrMalformedResponse) {
				require.ErrorIs(t, err, nextidentity.ErrProvider)
			} else {
				requireRow(t, r, err, "c0de")
			}
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "grant_type": "authorization_code", "code": "c0de",
				"redirect_uri": stubRedirect, "auth_type": "sms", "user_id": "+15417543010", "legal_acceptances": true}, rec.last(t).Body)
			var ae *account.Error
			if errors.As(err, &ae) && r.status == 429 {
				if len(r.header) > 0 {
					require.Equal(t, 5*time.Minute, ae.RetryAfter)
					require.Contains(t, err.Error(), "retry after 5m0s")
				} else {
					require.Zero(t, ae.RetryAfter)
				}
			}
			if err != nil {
				return
			}
			require.Equal(t, at, tok.AccessToken)
			require.Equal(t, rt, tok.RefreshToken)
			if r.name == "200 tokens with id_token and expires_in" {
				require.NotNil(t, tok.IDToken)
				require.Equal(t, testprovider.Subject, tok.IDToken.Subject)
				require.Equal(t, stubNow.Add(time.Hour), tok.Expiry)
			}
		})
	}
}

func TestExchangeWithoutLegalAcceptanceSendsNone(t *testing.T) {
	s := newStub(t)
	rec := s.answer(pathToken, 200, `{"access_token":"a","token_type":"bearer"}`)
	_, err := s.ac.Exchange(context.Background(), &account.LoginResult{Code: "c", AuthType: account.Email, UserID: "u"})
	require.NoError(t, err)
	require.NotContains(t, rec.last(t).Body, "legal_acceptances")
}

func TestExchangeRefusesBeforeAnyRequest(t *testing.T) {
	s := newStub(t)
	rec := s.answer(pathToken, 200, `{}`)
	_, err := s.ac.Exchange(context.Background(), nil)
	require.Error(t, err)
	_, err = s.ac.Exchange(context.Background(), &account.LoginResult{})
	require.Error(t, err)

	p := s.p
	nc, err := nextidentity.New(context.Background(), nextidentity.Config{Issuer: p.Issuer, ClientID: p.ClientID})
	require.NoError(t, err)
	defer nc.Close()
	_, err = account.New(nc).Exchange(context.Background(), &account.LoginResult{Code: "c"})
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	require.Zero(t, rec.count())
	// WithRedirectURL supplies one.
	_, err = account.New(nc, account.WithRedirectURL("https://app.example.com/r")).Exchange(context.Background(),
		&account.LoginResult{Code: "c"})
	require.ErrorIs(t, err, nextidentity.ErrMalformedResponse)
	require.Equal(t, "https://app.example.com/r", rec.last(t).Body["redirect_uri"])
}

func TestLogoutAnswers(t *testing.T) {
	tok := &nextidentity.Token{AccessToken: "access-1", RefreshToken: "refresh-1"}
	for _, r := range []row{
		{name: "200", status: 200, body: `{"stat":"ok"}`},
		{name: "200 empty body", status: 200, body: ``},
		{name: "401 expired refresh token", status: 401, body: `{"error":"http_exception","error_description":"Unauthorized"}`,
			want: []error{nextidentity.ErrUnauthorized}, not: []error{account.ErrInvalidCredentials}},
		{name: "403 bad client_id", status: 403, body: bodyForbidden, want: []error{account.ErrForbidden}},
		{name: "422 unknown refresh_token", status: 422, body: `{"error":"invalid_request","error_description":"unknown refresh_token","error_details":"invalid_argument"}`,
			want: []error{account.ErrInvalidInput}},
		{name: "422 missing user_id", status: 422, body: `{"error":"invalid_parameters","error_details":{"user_id":"field required"}}`, want: []error{account.ErrInvalidInput}},
	} {
		t.Run(r.name, func(t *testing.T) {
			s := newStub(t)
			rec := s.answer(pathLogout, r.status, r.body)
			err := s.ac.Logout(context.Background(), tok, account.Email, "jane@example.com", account.AllSessions())
			requireRow(t, r, err, "access-1", "refresh-1")
			got := rec.last(t)
			require.Equal(t, "Bearer access-1", got.Auth)
			require.Equal(t, map[string]any{"client_id": s.p.ClientID, "auth_type": "email", "user_id": "jane@example.com",
				"refresh_token": "refresh-1", "all_sessions": true}, got.Body)
		})
	}
	s := newStub(t)
	require.ErrorIs(t, s.ac.Logout(context.Background(), &nextidentity.Token{}, account.Email, "u"), nextidentity.ErrNoAccessToken)
}
