package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
)

func testATEnv(t testing.TB) (*env, *atEnv) {
	t.Helper()
	e := testEnv(t)
	a, err := e.newATEnv()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return e, a
}

// TestAccessTokenVerifiersAgree checks that the access token verifiers the
// benchmark compares accept its tokens and refuse tampered ones and ID
// tokens, so the numbers compare verifiers that do the work.
func TestAccessTokenVerifiersAgree(t *testing.T) {
	e, a := testATEnv(t)
	ctx := context.Background()
	for _, alg := range atAlgs {
		for _, v := range a.verifiers(e, alg) {
			t.Run(alg+"/"+v.name, func(t *testing.T) {
				for _, raw := range a.tokens[alg] {
					for range 2 { // the second call may be served from a cache
						got, err := v.verify(ctx, raw)
						if err != nil {
							t.Fatalf("rejects the valid token: %v", err)
						}
						if got != atClientID {
							t.Fatalf("client_id %q, want %q", got, atClientID)
						}
					}
				}
				raw := a.tokens[alg][0]
				parts := strings.Split(raw, ".")
				payload, err := base64.RawURLEncoding.DecodeString(parts[1])
				if err != nil {
					t.Fatal(err)
				}
				forged := strings.Replace(string(payload), atClientID, "attacker-00", 1)
				bad := map[string]string{
					"payload changed":   parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2],
					"signature dropped": parts[0] + "." + parts[1] + ".",
					"prefix":            raw[:len(raw)-2],
				}
				if v.name != nameATOIDC { // go-oidc does not check typ
					bad["ID token"] = e.tokens[alg]
				}
				for name, tok := range bad {
					if _, err := v.verify(ctx, tok); err == nil {
						t.Errorf("accepts %s", name)
					}
				}
			})
		}
	}
}

// BenchmarkVerifyAccessToken gives the access token cells of `go run .` to
// the go test tooling (-cpuprofile, -memprofile, benchstat).
func BenchmarkVerifyAccessToken(b *testing.B) {
	e, a := testATEnv(b)
	ctx := context.Background()
	for _, alg := range atAlgs {
		for _, v := range a.verifiers(e, alg) {
			b.Run(alg+"/"+v.name, func(b *testing.B) {
				pair := a.tokens[alg]
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					raw := pair[0]
					if v.fresh {
						raw = pair[i&1]
						i++
					}
					if _, err := v.verify(ctx, raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
