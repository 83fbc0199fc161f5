package account_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// TestFakeClientRateLimit: a client over its per-minute limit gets 429
// with Retry-After on any call, until the minute has passed.
func TestFakeClientRateLimit(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	f.srv.SetRateLimit(nextidentitytest.DefaultClientID, 2)
	for range 2 {
		require.NoError(t, f.ac.ResendVerification(ctx, account.Email, "someone@example.com"))
	}
	err := f.ac.ForgotPassword(ctx, account.Email, "someone@example.com")
	require.ErrorIs(t, err, account.ErrRateLimited)
	var ae *account.Error
	require.True(t, errors.As(err, &ae))
	require.Positive(t, ae.RetryAfter)
	require.LessOrEqual(t, ae.RetryAfter, time.Minute)

	f.clock.Advance(time.Minute + time.Second)
	require.NoError(t, f.ac.ForgotPassword(ctx, account.Email, "someone@example.com"))
}

// TestFakeEnvID: with an expected environment, a wrong env_id is 400
// invalid_domain and the right one (or none) is accepted.
func TestFakeEnvID(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{EnvID: "env-1"})
	ctx := context.Background()
	require.NoError(t, account.New(f.nc, account.WithEnvID("env-1")).ResendVerification(ctx, account.Email, "a@example.com"))
	err := account.New(f.nc, account.WithEnvID("env-2")).ResendVerification(ctx, account.Email, "a@example.com")
	require.ErrorIs(t, err, account.ErrInvalidInput)
	var ae *account.Error
	require.True(t, errors.As(err, &ae))
	require.Equal(t, "invalid_domain", ae.Code)
	require.NoError(t, f.ac.ResendVerification(ctx, account.Email, "a@example.com"))
}

// TestFakeHostedOnlyClient: the provider refuses API calls from a client
// whose integration type is hosted journeys only.
func TestFakeHostedOnlyClient(t *testing.T) {
	c := nextidentitytest.DefaultClient()
	c.Integration = nextidentitytest.IntegrationHosted
	f := newFake(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{c}})
	_, err := f.ac.Login(context.Background(), defaultCreds)
	require.ErrorIs(t, err, account.ErrForbidden)
	require.ErrorIs(t, err, nextidentity.ErrProvider)
	require.NotErrorIs(t, err, account.ErrInvalidCredentials)
}
