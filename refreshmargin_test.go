package nextidentity_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// Config.RefreshMargin and TokenSource.CurrentContext.

// refreshingProvider answers every refresh with a new access token
// "fresh-N" valid for an hour; release, when not nil, holds each answer.
func refreshingProvider(t *testing.T, release <-chan struct{}) (*testprovider.Provider, *atomic.Int32) {
	p := testprovider.New(t)
	var calls atomic.Int32
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		_ = r.ParseForm() // read the body, so the server notices a client that goes away
		if release != nil {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{
			"access_token": "fresh-" + string(rune('0'+n)), "token_type": "Bearer", "expires_in": 3600,
		})
	})
	return p, &calls
}

func TestRefreshMargin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		margin  time.Duration
		left    time.Duration // until the token expires
		refresh bool
	}{
		{"default keeps 31s", 0, 31 * time.Second, false},
		{"default renews 29s", 0, 29 * time.Second, true},
		{"2m renews 90s", 2 * time.Minute, 90 * time.Second, true},
		{"2m keeps 3m", 2 * time.Minute, 3 * time.Minute, false},
		{"negative keeps 1s", -1, time.Second, false},
		{"negative renews expired", -1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, calls := refreshingProvider(t, nil)
			clk := newFakeClock(fixedNow)
			cfg := mkConfig(p)
			cfg.Now = clk.Now
			cfg.RefreshMargin = tc.margin
			c := mkClient(t, cfg)
			want := tc.margin
			switch {
			case want == 0:
				want = nextidentity.DefaultRefreshMargin
			case want < 0:
				want = 0
			}
			require.Equal(t, want, c.RefreshMargin())

			tok := &nextidentity.Token{AccessToken: "old", RefreshToken: "r", Expiry: clk.Now().Add(tc.left)}
			cur, err := c.TokenSource(context.Background(), tok, nil).Current()
			require.NoError(t, err)
			if tc.refresh {
				require.Equal(t, "fresh-1", cur.AccessToken)
				require.EqualValues(t, 1, calls.Load())
			} else {
				require.Equal(t, "old", cur.AccessToken)
				require.Zero(t, calls.Load())
			}
		})
	}
}

// TestClientCredentialsRefreshMargin: the client credentials source renews
// within the margin too.
func TestClientCredentialsRefreshMargin(t *testing.T) {
	p, n := ccProvider(t, 3600, nil)
	clock := newFakeClock(fixedNow)
	cfg := mkConfig(p)
	cfg.Now = clock.Now
	cfg.RefreshMargin = 10 * time.Minute
	ts := mkClient(t, cfg).ClientCredentialsTokenSource(context.Background())
	_, err := ts.Token()
	require.NoError(t, err)
	clock.Advance(49 * time.Minute)
	_, err = ts.Token()
	require.NoError(t, err)
	require.EqualValues(t, 1, n.Load(), "11 minutes left")
	clock.Advance(2 * time.Minute)
	_, err = ts.Token()
	require.NoError(t, err)
	require.EqualValues(t, 2, n.Load(), "9 minutes left: renewed")
}

// TestTokenSourceCurrentContext: the call's context bounds the wait for
// another caller's refresh and the refresh request itself; the source's
// own context is not used.
func TestTokenSourceCurrentContext(t *testing.T) {
	release := make(chan struct{})
	p, calls := refreshingProvider(t, release)
	c := mkClient(t, mkConfig(p))
	done, cancel := context.WithCancel(context.Background())
	cancel() // the source's own context is over: CurrentContext must not use it
	src := c.TokenSource(done, &nextidentity.Token{AccessToken: "old", RefreshToken: "r", Expiry: time.Now()}, nil)
	_, err := src.Current()
	require.ErrorIs(t, err, context.Canceled, "Current uses the source's context")
	require.Zero(t, calls.Load())

	// A refresh in progress, held by the provider.
	first := make(chan error, 1)
	go func() {
		_, err := src.CurrentContext(t.Context())
		first <- err
	}()
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)

	// A second caller waiting for it gives up with its context.
	ctx, stop := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer stop()
	start := time.Now()
	_, err = src.CurrentContext(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)

	close(release)
	require.NoError(t, <-first)
	tok, err := src.CurrentContext(ctx) // valid now: no wait, no request, even with ctx over
	require.NoError(t, err)
	require.Equal(t, "fresh-1", tok.AccessToken)
	require.EqualValues(t, 1, calls.Load())

	// A refresh request ends with its caller's context.
	hung, _ := refreshingProvider(t, make(chan struct{})) // never answers
	src = mkClient(t, mkConfig(hung)).TokenSource(context.Background(), &nextidentity.Token{AccessToken: "old", RefreshToken: "r", Expiry: time.Now()}, nil)
	ctx, stop = context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer stop()
	_, err = src.CurrentContext(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
