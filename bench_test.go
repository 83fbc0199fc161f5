package nextidentity_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// benchNow is the fixed clock of the verification benchmarks, so a long run
// never sees its token expire.
var benchNow = time.Unix(1610052530, 0)

const benchNonce = "bench-nonce-0123456789"

// benchClient starts a loopback provider and a client for it with a fixed
// clock. It uses no testify, so allocations in b.Cleanup stay out of the
// measurements and a failure message names the benchmark.
func benchClient(tb testing.TB) (*testprovider.Provider, *nextidentity.Client) {
	tb.Helper()
	p := testprovider.New(tb)
	cfg := mkConfig(p)
	cfg.Now = func() time.Time { return benchNow }
	c, err := nextidentity.New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return p, c
}

// benchToken signs the provider's standard claims at benchNow with alg.
func benchToken(p *testprovider.Provider, alg string) string {
	claims := p.Claims(benchNow, benchNonce)
	switch alg {
	case "RS256":
		return testprovider.Sign(alg, p.RSA, claims, nil)
	case "ES256":
		return testprovider.Sign(alg, p.EC, claims, nil)
	case "HS256":
		return testprovider.SignHS(alg, p.Secret, claims)
	}
	panic("benchToken: unsupported alg " + alg)
}

// benchVerifyOnce verifies raw once, failing tb on error; it warms the JWKS
// and header caches.
func benchVerifyOnce(tb testing.TB, c *nextidentity.Client, raw string) {
	tb.Helper()
	tok, err := c.VerifyIDToken(context.Background(), raw, benchNonce)
	if err != nil {
		tb.Fatalf("VerifyIDToken: %v", err)
	}
	if tok.Subject == "" {
		tb.Fatal("VerifyIDToken: empty subject")
	}
}

var benchAlgs = []string{"RS256", "ES256", "HS256"}

// BenchmarkVerifyIDToken measures a steady-state verification: keys and the
// header are already cached, so no request is made inside the loop.
func BenchmarkVerifyIDToken(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			p, c := benchClient(b)
			raw := benchToken(p, alg)
			benchVerifyOnce(b, c, raw)
			ctx := context.Background()
			jwks := p.Count(testprovider.PathJWKS)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.VerifyIDToken(ctx, raw, benchNonce); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if n := p.Count(testprovider.PathJWKS); n != jwks {
				b.Fatalf("%d JWKS requests during the loop", n-jwks)
			}
		})
	}
}

// BenchmarkVerifyIDTokenParallel verifies from GOMAXPROCS goroutines at once
// with one shared Client: it shows whether the hot path contends on a lock.
func BenchmarkVerifyIDTokenParallel(b *testing.B) {
	for _, alg := range []string{"RS256", "HS256"} {
		b.Run(alg, func(b *testing.B) {
			p, c := benchClient(b)
			raw := benchToken(p, alg)
			benchVerifyOnce(b, c, raw)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.VerifyIDToken(ctx, raw, benchNonce); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkAuthCodeURL(b *testing.B) {
	_, c := benchClient(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.AuthCodeURL(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExchange is a whole code exchange against the loopback provider:
// callback checks, the token request over HTTP, ID token and at_hash
// verification. The token endpoint answers with one pre-signed ID token, so
// the provider's signing stays out of the measurement.
func BenchmarkExchange(b *testing.B) {
	p, c := benchClient(b)
	ar, err := c.AuthCodeURL()
	if err != nil {
		b.Fatal(err)
	}
	claims := p.Claims(benchNow, ar.Nonce)
	claims["at_hash"] = testprovider.AtHash("rb5bzkygqs5ahevp")
	p.Handle(testprovider.PathToken, testprovider.TokenResponse(testprovider.Sign("RS256", p.RSA, claims, nil)))
	cb := map[string][]string{"code": {"abcdefghijklmn"}, "state": {ar.State}}
	ctx := context.Background()
	if _, err := c.Exchange(ctx, cb, ar); err != nil { // warm keys and connections
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Exchange(ctx, cb, ar); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUserInfo is one userinfo call against the loopback provider.
func BenchmarkUserInfo(b *testing.B) {
	p, c := benchClient(b)
	const body = `{"sub":"b30647ef-7f03-4ce1-ae91-9476e49d0605","name":"John Smith","given_name":"John","family_name":"Smith","email":"john.smith@example.com","email_verified":true,"updated_at":"2021-01-07 20:44:35.176625 +0000","locale":"en-US"}`
	p.Handle(testprovider.PathUserInfo, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
	tok := &nextidentity.Token{AccessToken: "rb5bzkygqs5ahevp"}
	ctx := context.Background()
	if _, err := c.UserInfo(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.UserInfo(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyMakesNoJWKSRequestsOnceCached checks that the JWKS is fetched
// once and then served from the cache, sequentially and under concurrency,
// for every asymmetric alg the provider signs with; HS256 never fetches it.
func TestVerifyMakesNoJWKSRequestsOnceCached(t *testing.T) {
	p, c := benchClient(t)
	ctx := context.Background()
	if n := p.Count(testprovider.PathJWKS); n != 0 {
		t.Fatalf("%d JWKS requests before any verification, want 0 (keys are fetched on first use)", n)
	}
	hs := benchToken(p, "HS256")
	benchVerifyOnce(t, c, hs)
	if n := p.Count(testprovider.PathJWKS); n != 0 {
		t.Fatalf("an HS256 verification made %d JWKS requests, want 0", n)
	}

	tokens := make([]string, 0, len(benchAlgs))
	for _, alg := range benchAlgs {
		tokens = append(tokens, benchToken(p, alg))
	}
	benchVerifyOnce(t, c, tokens[0])
	after := p.Count(testprovider.PathJWKS)
	if after != 1 {
		t.Fatalf("first RS256 verification made %d JWKS requests, want 1", after)
	}

	for i := range 1000 {
		raw := tokens[i%len(tokens)]
		if _, err := c.VerifyIDToken(ctx, raw, benchNonce); err != nil {
			t.Fatalf("verification %d: %v", i, err)
		}
	}
	if n := p.Count(testprovider.PathJWKS); n != after {
		t.Fatalf("1000 cached verifications made %d more JWKS requests, want 0", n-after)
	}

	const workers, each = 16, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := c.VerifyIDToken(ctx, tokens[(w+i)%len(tokens)], benchNonce); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("parallel verification: %v", err)
	}
	if n := p.Count(testprovider.PathJWKS); n != after {
		t.Fatalf("%d parallel cached verifications made %d more JWKS requests, want 0", workers*each, n-after)
	}
	if n := p.Count(testprovider.PathDiscovery); n != 1 {
		t.Fatalf("%d discovery requests, want 1", n)
	}
}
