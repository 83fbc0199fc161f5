package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

const wantSub = "b30647ef-7f03-4ce1-ae91-9476e49d0605"

func testEnv(tb testing.TB) *env {
	tb.Helper()
	e, err := newEnv()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	return e
}

// tamperings of a valid token that every verifier must refuse.
func tamperings(t *testing.T, raw string) map[string]string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(payload), wantSub, "attacker-0000000000000000000000000000", 1)
	return map[string]string{
		// A character in the middle, so no decoder can ignore it as padding bits.
		"signature byte flipped": parts[0] + "." + parts[1] + "." + flip(parts[2], len(parts[2])/2),
		"payload changed":        parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2],
		"alg none":               base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		"signature dropped":      parts[0] + "." + parts[1] + ".",
		"two parts":              parts[0] + "." + parts[1],
	}
}

// TestVerifiersAgree checks that the three verifiers the benchmark compares
// all accept the benchmark's token and all reject tampered ones, so the
// numbers compare verifiers that do the work.
func TestVerifiersAgree(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	for _, alg := range algs {
		raw := e.tokens[alg]
		for _, v := range e.verifiers(alg) {
			t.Run(alg+"/"+v.name, func(t *testing.T) {
				// Twice: the first call may fetch the JWKS, the second is cached.
				for range 2 {
					sub, err := v.verify(ctx, raw)
					if err != nil {
						t.Fatalf("rejects the valid token: %v", err)
					}
					if sub != wantSub {
						t.Fatalf("subject %q, want %q", sub, wantSub)
					}
				}
				for name, bad := range tamperings(t, raw) {
					if _, err := v.verify(ctx, bad); err == nil {
						t.Errorf("accepts a token with %s", name)
					}
				}
			})
		}
	}
}

// TestVerifiersRejectOtherAlgsToken checks each verifier is pinned to its
// alg: a valid token of another alg is refused.
func TestVerifiersRejectOtherAlgsToken(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	for _, alg := range algs {
		for _, v := range e.verifiers(alg) {
			if v.name == nameLib {
				continue // one client accepts all three algs by design
			}
			for _, other := range algs {
				if other == alg {
					continue
				}
				if _, err := v.verify(ctx, e.tokens[other]); err == nil {
					t.Errorf("%s verifier %s accepts an %s token", alg, v.name, other)
				}
			}
		}
	}
}

// BenchmarkVerify gives the same cells as `go run .` to the go test tooling
// (-cpuprofile, -memprofile, benchstat).
func BenchmarkVerify(b *testing.B) {
	e := testEnv(b)
	ctx := context.Background()
	for _, alg := range algs {
		for _, v := range e.verifiers(alg) {
			b.Run(alg+"/"+v.name, func(b *testing.B) {
				raw := e.tokens[alg]
				if _, err := v.verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.verify(ctx, raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
