package nextidentity_test

// Run with -race: ID tokens are verified from many goroutines while the
// provider rotates its keys and a TokenSource keeps refreshing.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

const (
	raceVerifiers = 16
	raceWindow    = 5                      // keys published at once
	raceGens      = 15                     // rotations
	raceTick      = 100 * time.Millisecond // time between rotations
)

// raceErrors collects the first unexpected errors from worker goroutines,
// which must not call require themselves.
type raceErrors struct {
	mu   sync.Mutex
	n    int
	msgs []string
}

func (r *raceErrors) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if len(r.msgs) < 10 {
		r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	}
}

// raceKeys returns n signing keys with distinct kids, mixing fresh EC and
// Ed25519 keys with the provider's RSA and RSA-PSS keys.
func raceKeys(t *testing.T, p *testprovider.Provider, n int) []*testprovider.Key {
	t.Helper()
	ring := make([]*testprovider.Key, n)
	for i := range ring {
		switch {
		case i == 2:
			ring[i] = p.RSA
		case i == 7:
			ring[i] = p.PS
		case i == 11:
			ring[i] = p.RSA2
		case i%2 == 0:
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			require.NoError(t, err)
			ring[i] = &testprovider.Key{KID: fmt.Sprintf("race-ec-%d", i), Alg: "ES256", Private: k}
		default:
			_, k, err := ed25519.GenerateKey(rand.Reader)
			require.NoError(t, err)
			ring[i] = &testprovider.Key{KID: fmt.Sprintf("race-ed-%d", i), Alg: "EdDSA", Private: k}
		}
	}
	return ring
}

func TestRaceVerifyDuringKeyRotation(t *testing.T) {
	p := testprovider.New(t)
	ring := raceKeys(t, p, raceGens+raceWindow+1)
	// Generation g publishes ring[g : g+raceWindow]: every key is announced
	// raceWindow-1 generations before it becomes the oldest, then dropped.
	published := func(g int) []*testprovider.Key { return ring[g : g+raceWindow] }
	var gen atomic.Int64
	p.SetKeys(published(0)...)

	claims := p.Claims(time.Now(), "")
	tokens := make([]string, len(ring))
	for i, k := range ring {
		tokens[i] = testprovider.Sign(k.Alg, k, claims, nil)
	}
	ghostKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ghost := testprovider.Sign("ES256", &testprovider.Key{KID: "race-ghost", Private: ghostKey}, claims, nil)

	// The token endpoint signs each refreshed ID token with the second key
	// of the current generation: published for a while, and for one more
	// rotation at least.
	var refreshes atomic.Int64
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		g := gen.Load()
		k := ring[g+1]
		n := refreshes.Add(1)
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{
			"access_token":  fmt.Sprintf("at-%d-%d", g, n),
			"token_type":    "Bearer",
			"refresh_token": fmt.Sprintf("rt-%d", n),
			"expires_in":    1, // always inside the TokenSource's expiry margin: every call refreshes
			"id_token":      testprovider.Sign(k.Alg, k, p.Claims(time.Now(), ""), nil),
		})
	})

	cfg := mkConfig(p)
	cfg.JWKSRefreshInterval = 250 * time.Millisecond // slower than rotation: most new kids are found by refetching
	cfg.JWKSUnknownKIDInterval = time.Nanosecond     // a new kid is always fetched
	c := mkClient(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	stop := make(chan struct{})
	var (
		wg                        sync.WaitGroup
		unexpected                raceErrors
		verified, rejected, stale atomic.Int64
	)

	// Rotation.
	wg.Go(func() {
		defer close(stop)
		tick := time.NewTicker(raceTick)
		defer tick.Stop()
		for g := 1; g <= raceGens; g++ {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
			// The counter moves first, so while it reads g the provider
			// serves generation g-1 or g.
			gen.Store(int64(g))
			p.SetKeys(published(g)...)
		}
	})

	// Verifiers.
	for w := range raceVerifiers {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(w), 42))
			for {
				select {
				case <-stop:
					return
				default:
				}
				g0 := int(gen.Load())
				var idx int
				kind := "published"
				switch r := rng.IntN(32); {
				case r == 0:
					kind = "ghost"
				case r == 1 && g0 > 0:
					kind = "dropped"
					idx = max(0, g0-1-rng.IntN(3))
				default:
					idx = g0 + rng.IntN(raceWindow)
				}
				raw, kid := ghost, "race-ghost"
				if kind != "ghost" {
					raw, kid = tokens[idx], ring[idx].KID
				}
				idt, err := c.VerifyIDToken(ctx, raw, "")
				g1 := int(gen.Load())

				switch {
				case err == nil && kind == "ghost":
					unexpected.add("a token with an unpublished kid verified")
				case err == nil:
					verified.Add(1)
					if idt.Subject != claims["sub"] {
						unexpected.add("wrong subject %q", idt.Subject)
					}
				case !errors.Is(err, nextidentity.ErrInvalidSignature):
					unexpected.add("%s key %s (gens %d..%d): not an invalid-signature error: %v", kind, kid, g0, g1, err)
				case kind == "published" && idx >= g1 && idx <= max(g0-2, 0)+raceWindow-1:
					// Published over the whole call, and for at least a
					// generation before it: it must verify.
					unexpected.add("key %s published over gens %d..%d was rejected: %v", kid, g0, g1, err)
				default:
					rejected.Add(1)
					if kind == "published" {
						stale.Add(1) // just announced or just dropped: either answer is fine
					}
				}
			}
		})
	}

	// Two goroutines share a TokenSource that refreshes on every call.
	src := c.TokenSource(ctx, &nextidentity.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now()}, nil)
	var sourced atomic.Int64
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				g0 := gen.Load()
				tok, err := src.Current()
				g1 := gen.Load()
				if err != nil {
					// The signing key, ring[g+1] for the generation g the
					// token endpoint saw (g >= g0), is published until
					// generation g+1 ends.
					if g1-g0 <= 1 {
						unexpected.add("TokenSource refresh over gens %d..%d: %v", g0, g1, err)
					}
					continue
				}
				sourced.Add(1)
				if !strings.HasPrefix(tok.AccessToken, "at-") || tok.IDToken == nil || tok.IDToken.Subject != claims["sub"] {
					unexpected.add("TokenSource returned %+v", tok)
				}
			}
		})
	}

	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(15 * time.Second):
		t.Fatal("goroutines did not finish")
	}

	unexpected.mu.Lock()
	require.Zero(t, unexpected.n, "unexpected results, first ones:\n%s", strings.Join(unexpected.msgs, "\n"))
	unexpected.mu.Unlock()
	t.Logf("verified %d, rejected %d (%d just rotated), %d TokenSource refreshes, %d JWKS fetches",
		verified.Load(), rejected.Load(), stale.Load(), sourced.Load(), p.Count(testprovider.PathJWKS))
	require.Greater(t, verified.Load(), int64(raceVerifiers))
	require.Greater(t, rejected.Load(), int64(0), "tokens of dropped keys and the ghost are rejected")
	require.Greater(t, sourced.Load(), int64(1))
	// The background refresh is slower than the rotation, so the strict
	// checks above passing means new kids were found by refetching.
	require.Greater(t, p.Count(testprovider.PathJWKS), int64(2), "rotations and unknown kids cause refetches")

	// After the storm, the newest keys verify at once.
	for _, k := range published(raceGens) {
		_, err := c.VerifyIDToken(context.Background(), testprovider.Sign(k.Alg, k, p.Claims(time.Now(), ""), nil), "")
		require.NoError(t, err, k.KID)
	}
}
