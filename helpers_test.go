package nextidentity_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// mkConfig is a valid Config for p's client.
func mkConfig(p *testprovider.Provider) nextidentity.Config {
	return nextidentity.Config{
		Issuer:       p.Issuer,
		ClientID:     p.ClientID,
		ClientSecret: p.Secret,
		RedirectURL:  "http://127.0.0.1:9999/callback",
	}
}

// mkClient builds a client for cfg and closes it when t ends.
func mkClient(t testing.TB, cfg nextidentity.Config) *nextidentity.Client {
	t.Helper()
	c, err := nextidentity.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// fixedNow is the clock of fixedClient: the documented ID token's iat.
var fixedNow = time.Unix(1610052530, 0)

// fixedClient is a provider and a client of it whose clock stands at
// fixedNow.
func fixedClient(t testing.TB) (*testprovider.Provider, *nextidentity.Client, time.Time) {
	t.Helper()
	p := testprovider.New(t)
	cfg := mkConfig(p)
	cfg.Now = func() time.Time { return fixedNow }
	return p, mkClient(t, cfg), fixedNow
}

// fakeClock is the package's one fake clock (fakeclock_test.go), shared by
// the internal and external tests.
type fakeClock = nextidentity.FakeClock

func newFakeClock(t time.Time) *fakeClock { return nextidentity.NewFakeClock(t) }
