package nihttp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

func TestStatusCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	callback := func(kind error) error { return fmt.Errorf("%w: %w", nextidentity.ErrInvalidCallback, kind) }
	idToken := func(kind error) error { return fmt.Errorf("%w: %w", nextidentity.ErrInvalidIDToken, kind) }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"access denied", &nextidentity.Error{Endpoint: "authorize", Code: "access_denied"}, http.StatusForbidden},
		{"access denied wrapped", wrap(&nextidentity.Error{Endpoint: "authorize", Code: "access_denied"}), http.StatusForbidden},
		{"login required", &nextidentity.Error{Endpoint: "authorize", Code: "login_required"}, http.StatusForbidden},
		{"cross-site", wrap(nihttp.ErrCrossSite), http.StatusForbidden},
		{"no login state", nihttp.ErrNoLoginState, http.StatusBadRequest},
		{"tampered", wrap(nihttp.ErrTampered), http.StatusBadRequest},
		{"expired", wrap(nihttp.ErrExpired), http.StatusBadRequest},
		{"state mismatch", callback(nextidentity.ErrStateMismatch), http.StatusBadRequest},
		{"missing code", callback(nextidentity.ErrMissingCode), http.StatusBadRequest},
		{"callback issuer mismatch", callback(nextidentity.ErrIssuerMismatch), http.StatusBadRequest},
		{"login loop", nihttp.ErrLoginLoop, http.StatusTooManyRequests},
		{"store down", wrap(nihttp.ErrStoreUnavailable), http.StatusServiceUnavailable},
		{"id_token issuer mismatch", idToken(nextidentity.ErrIssuerMismatch), http.StatusBadGateway},
		{"nonce mismatch in id_token", idToken(nextidentity.ErrNonceMismatch), http.StatusBadGateway},
		{"invalid grant", &nextidentity.Error{Endpoint: "token", StatusCode: 400, Code: "invalid_grant"}, http.StatusBadGateway},
		{"invalid client", &nextidentity.Error{Endpoint: "token", StatusCode: 401, Code: "invalid_client"}, http.StatusBadGateway},
		{"provider 500", &nextidentity.Error{Endpoint: "token", StatusCode: 500, Body: "oops"}, http.StatusBadGateway},
		{"malformed response", wrap(nextidentity.ErrMalformedResponse), http.StatusBadGateway},
		{"response too large", wrap(nextidentity.ErrResponseTooLarge), http.StatusBadGateway},
		{"session too large", wrap(nihttp.ErrSessionTooLarge), http.StatusInternalServerError},
		{"invalid config", nextidentity.ErrInvalidConfig, http.StatusInternalServerError},
		{"network", errors.New("dial tcp: connection refused"), http.StatusInternalServerError},
		{"context canceled", context.Canceled, http.StatusInternalServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, nihttp.StatusCode(tc.err))
			w := httptest.NewRecorder()
			nihttp.DefaultOnError(w, httptest.NewRequest(http.MethodGet, "/callback", nil), tc.err)
			require.Equal(t, tc.want, w.Code)
			require.Equal(t, nihttp.UserMessage(tc.err)+"\n", w.Body.String())
			require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		})
	}
}

func TestUserMessageNamesTheRedisStoreForLargeSessions(t *testing.T) {
	msg := nihttp.UserMessage(fmt.Errorf("saving: %w", nihttp.ErrSessionTooLarge))
	require.True(t, strings.Contains(msg, "nihttp/redisstore"), msg)
	require.NotEqual(t, nihttp.UserMessage(errors.New("x")), msg)
}

func TestNewReportsEveryProblemAtOnce(t *testing.T) {
	_, err := nihttp.New(nihttp.Config{Keys: [][]byte{make([]byte, 16)}, DefaultReturnTo: "//evil.example", LoginPath: "login"})
	require.Error(t, err)
	for _, want := range []string{"Config.Client", "Config.Keys", "Config.DefaultReturnTo", "Config.LoginPath"} {
		require.ErrorContains(t, err, want)
	}
	_, err = nihttp.New(nihttp.Config{})
	require.ErrorContains(t, err, "Config.Keys")
}

// TestSentinelMessagesNamePackage: every sentinel's message starts with the
// package name.
func TestSentinelMessagesNamePackage(t *testing.T) {
	for _, s := range []error{
		nihttp.ErrCrossSite, nihttp.ErrExpired, nihttp.ErrLocked, nihttp.ErrLoginLoop, nihttp.ErrLoginStateUsed,
		nihttp.ErrNoLoginState, nihttp.ErrNoSession, nihttp.ErrRefreshFailed,
		nihttp.ErrSessionTooLarge, nihttp.ErrStoreUnavailable, nihttp.ErrTampered,
	} {
		require.True(t, strings.HasPrefix(s.Error(), "nihttp: "), s.Error())
	}
}
