package nextidentity

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fastUpdatedAt gives what time.ParseInLocation gives for the provider's
// layout, value for value (zone included), or declines.
func TestFastUpdatedAtIsTimeParse(t *testing.T) {
	layout := updatedAtLayouts[0]
	inputs := []string{
		"2021-01-07 20:44:35.176625 +0000", "2020-12-14 21:22:11.304747 +0000", "2021-01-07 20:44:35 +0000",
		"0000-01-01 00:00:00.000000 +0000", "9999-12-31 23:59:59.999999999 +0000", "2021-01-07 20:44:35.1 +0000",
		"2024-02-29 12:00:00 +0000", "2023-02-29 12:00:00 +0000", "2021-04-31 00:00:00 +0000", "2021-13-01 00:00:00 +0000",
		"2021-01-07 24:00:00 +0000", "2021-01-07 20:60:00 +0000", "2021-01-07 20:44:60 +0000", "2021-01-07 20:44:35. +0000",
		"2021-01-07 20:44:35.1234567890 +0000", "2021-01-07 20:44:35,176625 +0000", "2021-01-07 20:44:35.176625 -0000",
		"2021-01-07 20:44:35.176625 +0100", "2021-01-07T20:44:35.176625 +0000", "2021-1-07 20:44:35 +0000",
		"2021-01-07 20:44:35.17a625 +0000", "+021-01-07 20:44:35 +0000", "2021-01-07 20:44:35.176625 +0000 UTC",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		frac := ""
		if n := r.IntN(11); n > 0 {
			frac = "." + fmt.Sprintf("%09d", r.IntN(1e9))[:min(n, 9)] + strings.Repeat("7", max(0, n-9))
		}
		inputs = append(inputs, fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d%s +0000",
			r.IntN(10000), r.IntN(14), r.IntN(33), r.IntN(25), r.IntN(61), r.IntN(61), frac))
	}
	hits := 0
	for _, loc := range []*time.Location{time.Local, time.UTC, time.FixedZone("CET", 3600), time.FixedZone("", 0)} {
		for _, s := range inputs {
			got, ok := fastUpdatedAt(s, loc)
			want, err := time.ParseInLocation(layout, s, loc)
			if !ok {
				continue
			}
			hits++
			require.NoError(t, err, s)
			require.True(t, want == got, "%s in %v: time.Parse %#v, fast path %#v", s, loc, want, got)
		}
	}
	require.Greater(t, hits, 4*10000, "the fast path takes the common shapes")
	_, ok := fastUpdatedAt("2021-01-07 20:44:35.176625 +0000", time.Local)
	require.True(t, ok, "the provider's format takes the fast path")
}

// The pooled HMAC states verify as a fresh HMAC does, for every HS alg,
// from many goroutines at once.
func TestHMACVerifiers(t *testing.T) {
	key := []byte("client-secret-0123456789")
	var v hmacVerifiers
	for alg, h := range map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New} {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					signed := strings.Repeat("x", g*300+i) // shorter and longer than the buffer
					m := hmac.New(h, key)
					m.Write([]byte(signed))
					sig := m.Sum(nil)
					if !v.verify(alg, key, signed, sig) {
						t.Errorf("%s: a good signature is refused (len %d)", alg, len(signed))
					}
					sig[i%len(sig)] ^= 1
					if v.verify(alg, key, signed, sig) {
						t.Errorf("%s: a bad signature verifies", alg)
					}
					if v.verify(alg, key, signed+"y", sig) || v.verify(alg, key, signed, sig[:len(sig)-1]) {
						t.Errorf("%s: a wrong input verifies", alg)
					}
				}
			}()
		}
		wg.Wait()
	}
	require.False(t, v.verify("RS256", key, "a", nil))
}
