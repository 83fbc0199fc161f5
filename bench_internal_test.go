package nextidentity

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// hs256Client is a client of a loopback provider with a fixed clock, and an
// HS256 ID token it accepts.
func hs256Client(tb testing.TB) (*Client, string) {
	tb.Helper()
	now := time.Unix(1610052530, 0)
	p := testprovider.New(tb)
	c, err := New(context.Background(), Config{
		Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.Secret,
		RedirectURL: "http://127.0.0.1:9999/callback",
		Now:         func() time.Time { return now },
	})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c, testprovider.SignHS("HS256", p.Secret, p.Claims(now, ""))
}

// BenchmarkHeaderCache measures what the verified-header cache saves on an
// HS256 verification, the cheapest one and so the one where it weighs most:
// "cached" is the steady state, "uncached" empties the cache before each
// verification (which costs a few nanoseconds of its own).
func BenchmarkHeaderCache(b *testing.B) {
	c, raw := hs256Client(b)
	ctx := context.Background()
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.VerifyIDToken(ctx, raw, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.headers.Clear()
			c.nHeaders.Store(0)
			if _, err := c.VerifyIDToken(ctx, raw, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestHeaderCacheNeverPassesItsCap: goroutines released together on a
// nearly full cache leave at most maxCachedHeaders entries, and the count
// always equals the entries, also when the same segment is cached twice (two
// verifications of one new token that both missed the cache).
func TestHeaderCacheNeverPassesItsCap(t *testing.T) {
	c, _ := hs256Client(t)
	hdr := &joseHeader{Alg: "HS256"}
	c.cacheHeader("same", hdr)
	c.cacheHeader("same", hdr)
	require.Equal(t, int32(1), c.nHeaders.Load(), "a segment cached twice takes one slot")

	for trial := range 200 {
		c.headers.Clear()
		c.nHeaders.Store(0)
		for i := range maxCachedHeaders - 1 {
			c.cacheHeader(fmt.Sprintf("full-%d", i), hdr)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				<-start
				c.cacheHeader(fmt.Sprintf("new-%d-%d", trial, g), hdr)
			})
		}
		close(start)
		wg.Wait()
		entries := 0
		c.headers.Range(func(any, any) bool { entries++; return true })
		require.Equal(t, maxCachedHeaders, entries, "trial %d", trial)
		require.Equal(t, int32(entries), c.nHeaders.Load(), "trial %d", trial)
	}
}

// BenchmarkHeaderLookup isolates the step the cache replaces: decoding and
// checking the JOSE header segment on a miss ("decode") against a hit.
func BenchmarkHeaderLookup(b *testing.B) {
	c, raw := hs256Client(b)
	seg := raw[:strings.IndexByte(raw, '.')]
	run := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.header(seg, ErrInvalidIDToken); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("decode", run) // header alone never caches: verifyJWS does
	hdr, _, err := c.header(seg, ErrInvalidIDToken)
	if err != nil {
		b.Fatal(err)
	}
	c.cacheHeader(seg, hdr)
	b.Run("hit", run)
}
