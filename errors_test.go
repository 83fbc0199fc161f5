package nextidentity_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
)

func TestErrorMatchesSentinels(t *testing.T) {
	all := []error{
		nextidentity.ErrUnauthorized, nextidentity.ErrInvalidRequest, nextidentity.ErrInvalidGrant,
		nextidentity.ErrInvalidClient, nextidentity.ErrAccessDenied, nextidentity.ErrLoginRequired,
	}
	for _, tc := range []struct {
		name string
		err  *nextidentity.Error
		want []error
	}{
		{"http_exception", &nextidentity.Error{StatusCode: 401, Code: "http_exception"}, []error{nextidentity.ErrUnauthorized}},
		{"http_exception on 200", &nextidentity.Error{StatusCode: 200, Code: "http_exception"}, []error{nextidentity.ErrUnauthorized}},
		{"invalid_token", &nextidentity.Error{StatusCode: 401, Code: "invalid_token"}, []error{nextidentity.ErrUnauthorized}},
		{"invalid_request", &nextidentity.Error{StatusCode: 400, Code: "invalid_request", Stat: "error"}, []error{nextidentity.ErrInvalidRequest}},
		{"invalid_grant", &nextidentity.Error{StatusCode: 400, Code: "invalid_grant"}, []error{nextidentity.ErrInvalidGrant}},
		{"invalid_client 401", &nextidentity.Error{StatusCode: 401, Code: "invalid_client"}, []error{nextidentity.ErrInvalidClient, nextidentity.ErrUnauthorized}},
		{"access_denied", &nextidentity.Error{Code: "access_denied"}, []error{nextidentity.ErrAccessDenied}},
		{"login_required", &nextidentity.Error{Code: "login_required"}, []error{nextidentity.ErrLoginRequired}},
		{"other", &nextidentity.Error{StatusCode: 500, Code: "server_error"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wrapped := fmt.Errorf("app: login: %w", tc.err)
			for _, s := range all {
				want := false
				for _, w := range tc.want {
					want = want || w == s
				}
				require.Equal(t, want, errors.Is(wrapped, s), "%v", s)
			}
			require.ErrorIs(t, wrapped, nextidentity.ErrProvider, "every *Error is the provider's")
			for _, local := range []error{nextidentity.ErrInvalidIDToken, nextidentity.ErrInvalidCallback, nextidentity.ErrInvalidConfig} {
				require.NotErrorIs(t, wrapped, local)
			}
			var pe *nextidentity.Error
			require.ErrorAs(t, wrapped, &pe)
			require.Same(t, tc.err, pe)
		})
	}
}

func TestErrorMessage(t *testing.T) {
	e := &nextidentity.Error{Endpoint: "userinfo", StatusCode: 401, Code: "http_exception", Description: "Unauthorized"}
	require.Equal(t, "nextidentity: userinfo: HTTP 401: http_exception: Unauthorized", e.Error())
}

// TestSentinelMessagesNamePackage: every sentinel's message starts with the
// package name, and a composed rejection names it once.
func TestSentinelMessagesNamePackage(t *testing.T) {
	for _, s := range []error{
		nextidentity.ErrProvider, nextidentity.ErrUnauthorized, nextidentity.ErrInvalidRequest,
		nextidentity.ErrInvalidGrant, nextidentity.ErrInvalidClient, nextidentity.ErrAccessDenied,
		nextidentity.ErrLoginRequired, nextidentity.ErrInvalidIDToken, nextidentity.ErrInvalidCallback,
		nextidentity.ErrInvalidConfig, nextidentity.ErrTokenExpired, nextidentity.ErrInvalidSignature,
		nextidentity.ErrIssuerMismatch, nextidentity.ErrAudienceMismatch, nextidentity.ErrNonceMismatch,
		nextidentity.ErrSubjectMismatch, nextidentity.ErrStateMismatch, nextidentity.ErrMissingCode,
		nextidentity.ErrNoRefreshToken, nextidentity.ErrNoAccessToken, nextidentity.ErrIncompleteAuthRequest,
		nextidentity.ErrResponseTooLarge, nextidentity.ErrMalformedResponse,
		nextidentity.ErrInvalidAccessToken, nextidentity.ErrInactiveToken, nextidentity.ErrInsufficientScope,
		nextidentity.ErrNotAccessToken, nextidentity.ErrProviderUnreachable, nextidentity.ErrInvalidLogoutToken, nextidentity.ErrLogoutTokenType,
		nextidentity.ErrNoLogoutEvent, nextidentity.ErrLogoutTokenIssuedAt, nextidentity.ErrNoLogoutSubject,
		nextidentity.ErrLogoutTokenNonce, nextidentity.ErrNoLogoutTokenID, nextidentity.ErrLogoutTokenReplayed,
	} {
		require.True(t, strings.HasPrefix(s.Error(), "nextidentity: "), s.Error())
	}
	_, err := nextidentity.New(context.Background(), nextidentity.Config{})
	require.Error(t, err)
	for _, line := range strings.Split(err.Error(), "\n") {
		require.True(t, strings.HasPrefix(line, "nextidentity: "), line)
		require.Equal(t, 1, strings.Count(line, "nextidentity: "), line)
	}
}
