package nextidentity_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// TestConformanceKeySelection: rp-id_token-kid-absent-single-jwks and
// rp-id_token-kid-absent-multiple-jwks.
func TestConformanceKeySelection(t *testing.T) {
	sigInvalid := []error{nextidentity.ErrInvalidSignature}
	noKid := map[string]any{"kid": nil}
	encKey := func(p *testprovider.Provider) *testprovider.Key {
		return &testprovider.Key{KID: "enc1", Use: "enc", Private: p.RSA2.Private}
	}
	cases := []confIDCase{
		{
			name:  "rp-id_token-kid-absent-single-jwks",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, encKey(p)) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), noKid)
			},
		},
		{
			name: "rp-id_token-kid-absent-single-jwks-no-kid-published",
			setup: func(p *testprovider.Provider) {
				p.SetKeys(encKey(p), &testprovider.Key{Alg: "RS256", Private: p.RSA.Private})
			},
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), noKid)
			},
		},
		{
			name:  "rp-id_token-kid-absent-signed-with-enc-key",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, encKey(p)) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), noKid)
			},
			want: sigInvalid,
		},
		{
			name:  "rp-id_token-kid-of-enc-key",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, encKey(p)) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), map[string]any{"kid": "enc1"})
			},
			want: sigInvalid,
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), noKid)
			},
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks-first-key",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), noKid)
			},
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks-ps256",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("PS256", p.PS, confClaims(p, n, nil), noKid)
			},
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks-es256",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("ES256", p.EC, confClaims(p, n, nil), noKid)
			},
		},
		{
			// Signed by an RSA key that is not published (ps1 is gone and
			// was PS256-only anyway): none of the candidates verifies.
			name:  "rp-id_token-kid-absent-multiple-jwks-none-verifies",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.PS, confClaims(p, n, nil), noKid)
			},
			want: sigInvalid,
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks-corrupted",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return confCorrupt(testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), noKid))
			},
			want: sigInvalid,
		},
		{
			name:  "rp-id_token-kid-wrong-key",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2) },
			token: func(p *testprovider.Provider, n string) string {
				// Signed by rsa2 but naming rsa1: only rsa1 is a candidate.
				return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), map[string]any{"kid": "rsa1"})
			},
			want: sigInvalid,
		},
	}
	confRunIDCases(t, cases)
}

// TestConformanceKeyRotation: rp-key-rotation-op-sign-key. An unknown kid
// after the provider rotates causes exactly one JWKS fetch, and the token is
// accepted.
func TestConformanceKeyRotation(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, confConfig(p))
	ctx := context.Background()
	jwks := func() int64 { return p.Count(testprovider.PathJWKS) }

	_, err := c.VerifyIDToken(ctx, confRS256(p, "", nil), "")
	require.NoError(t, err)
	require.EqualValues(t, 1, jwks(), "first use loads the JWKS once")

	_, err = c.VerifyIDToken(ctx, confRS256(p, "", nil), "")
	require.NoError(t, err)
	require.EqualValues(t, 1, jwks(), "a known kid needs no fetch")

	// The provider rotates: rsa1 is retired, rsa2 signs.
	p.SetKeys(p.RSA2)
	f := confSignIn(t, p, c, func(n string) string {
		return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), nil)
	})
	confRequireAccepted(t, f)
	require.EqualValues(t, 2, jwks(), "the unknown kid refetched the JWKS exactly once")

	_, err = c.VerifyIDToken(ctx, testprovider.Sign("RS256", p.RSA2, confClaims(p, "", nil), nil), "")
	require.NoError(t, err)
	require.EqualValues(t, 2, jwks(), "the new key is cached")

	// The retired key no longer verifies, and asking for it again is rate
	// limited: no further fetch.
	_, err = c.VerifyIDToken(ctx, confRS256(p, "", nil), "")
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
	require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
	require.EqualValues(t, 2, jwks(), "unknown-kid refetches are rate limited")
}

// TestConformanceKeyRotationAfterInterval: once JWKSUnknownKIDInterval has
// passed, an unknown kid may refetch again (once).
func TestConformanceKeyRotationAfterInterval(t *testing.T) {
	p := testprovider.New(t)
	clock := newFakeClock(confNow)
	cfg := confConfig(p)
	cfg.Now = clock.Now
	cfg.JWKSUnknownKIDInterval = 10 * time.Minute
	c := mkClient(t, cfg)
	ctx := context.Background()
	jwks := func() int64 { return p.Count(testprovider.PathJWKS) }
	sign := func(k *testprovider.Key) string {
		return testprovider.Sign("RS256", k, p.Claims(clock.Now(), ""), nil)
	}

	_, err := c.VerifyIDToken(ctx, sign(p.RSA), "")
	require.NoError(t, err)
	p.SetKeys(p.RSA, p.RSA2)
	_, err = c.VerifyIDToken(ctx, sign(p.RSA2), "")
	require.NoError(t, err, "first unknown kid after a load is always allowed a fetch")
	require.EqualValues(t, 2, jwks())

	// A second rotation within the interval cannot be picked up yet.
	k3 := &testprovider.Key{KID: "rsa3", Alg: "RS256", Private: p.PS.Private}
	p.SetKeys(p.RSA, p.RSA2, k3)
	clock.Advance(9 * time.Minute)
	_, err = c.VerifyIDToken(ctx, sign(k3), "")
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
	require.EqualValues(t, 2, jwks(), "within JWKSUnknownKIDInterval: no fetch")

	clock.Advance(2 * time.Minute)
	_, err = c.VerifyIDToken(ctx, sign(k3), "")
	require.NoError(t, err, "after JWKSUnknownKIDInterval the new key is fetched")
	require.EqualValues(t, 3, jwks())
}

// confFlood verifies n tokens with random kids from workers goroutines and
// returns every result.
func confFlood(c *nextidentity.Client, p *testprovider.Provider, n, workers int) []error {
	toks := make(chan string, n)
	for i := range n {
		toks <- testprovider.Sign("RS256", p.RSA, confClaims(p, "", nil), map[string]any{"kid": fmt.Sprintf("random-%d-%x", i, confNow.UnixNano()+int64(i)*7919)})
	}
	close(toks)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for raw := range toks {
				_, err := c.VerifyIDToken(context.Background(), raw, "")
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

// TestConformanceUnknownKIDFlood: 200 tokens with random kids from 50
// goroutines do not become a flood of JWKS requests (RFC 8725 / DoS).
func TestConformanceUnknownKIDFlood(t *testing.T) {
	const n, workers, maxExtra = 200, 50, 2
	requireAllRejected := func(t *testing.T, errs []error) {
		t.Helper()
		require.Len(t, errs, n)
		for _, err := range errs {
			require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
			require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
		}
	}

	t.Run("warm cache", func(t *testing.T) {
		p := testprovider.New(t)
		c := mkClient(t, confConfig(p))
		_, err := c.VerifyIDToken(context.Background(), confRS256(p, "", nil), "")
		require.NoError(t, err)
		before := p.Count(testprovider.PathJWKS)
		require.EqualValues(t, 1, before)

		requireAllRejected(t, confFlood(c, p, n, workers))
		extra := p.Count(testprovider.PathJWKS) - before
		require.LessOrEqual(t, extra, int64(maxExtra), "%d JWKS fetches for %d unknown kids", extra, n)

		// Good tokens still verify, with no further fetch.
		_, err = c.VerifyIDToken(context.Background(), confRS256(p, "", nil), "")
		require.NoError(t, err)
		require.Equal(t, before+extra, p.Count(testprovider.PathJWKS))
	})

	t.Run("cold cache", func(t *testing.T) {
		p := testprovider.New(t)
		c := mkClient(t, confConfig(p))
		requireAllRejected(t, confFlood(c, p, n, workers))
		require.LessOrEqual(t, p.Count(testprovider.PathJWKS), int64(1+maxExtra))
	})

	t.Run("slow jwks endpoint", func(t *testing.T) {
		// The JWKS endpoint holds every request until the flood is queued on
		// it, so concurrent callers must share fetches rather than each start one.
		p := testprovider.New(t)
		c := mkClient(t, confConfig(p))
		_, err := c.VerifyIDToken(context.Background(), confRS256(p, "", nil), "")
		require.NoError(t, err)
		release := make(chan struct{})
		var releaseOnce sync.Once
		// Runs before the client and provider are closed, even on failure.
		t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
		body := p.JWKS()
		p.Handle(testprovider.PathJWKS, func(w http.ResponseWriter, r *http.Request) {
			<-release
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
		done := make(chan []error, 1)
		go func() { done <- confFlood(c, p, n, workers) }()
		// Wait for the first refetch to arrive, then let it (and any other) go.
		require.Eventually(t, func() bool { return p.Count(testprovider.PathJWKS) >= 2 }, 10*time.Second, time.Millisecond)
		releaseOnce.Do(func() { close(release) })
		requireAllRejected(t, <-done)
		require.LessOrEqual(t, p.Count(testprovider.PathJWKS)-1, int64(maxExtra))
	})
}
