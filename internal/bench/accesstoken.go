package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/oidc-kit/nextidentity"
)

// This file compares the cost of verifying a JWT access token (RFC 9068) on
// a resource server: nextidentity's VerifyAccessToken on a token it has seen
// before (the cached path every request after the first takes), on a token
// it has not (every call a full verification and a cache insertion),
// go-oidc's verifier on the same token, and a hand-written floor.

// Access token verifier names, in table order.
const (
	nameATFloor    = "floor"
	nameATFresh    = "nextidentity fresh"
	nameATRepeated = "nextidentity repeated"
	nameATOIDC     = "go-oidc"
)

// atAlgs are the algs of the access token table (HS* is never used for
// access tokens).
var atAlgs = []string{"RS256", "ES256"}

const (
	apiAudience = "https://api.example.com"
	atClientID  = "orders-sync"
)

// Targets of the access token table (see README.md).
const (
	targetRepeatedSpeedup = 20.0 // repeated token >= 20 x faster than go-oidc
	targetRepeatedAllocs  = 2    // repeated token <= 2 allocs/op
	targetFreshFloor      = 1.10 // fresh token <= 1.10 x floor
)

// atEnv holds the access tokens and the resource server's clients.
type atEnv struct {
	// tokens[alg] are two access tokens differing only in jti.
	tokens map[string][2]string
	// cached is a resource server client with the default cache; fresh has
	// a one-entry cache, so alternating two tokens misses every time.
	cached, fresh *nextidentity.Client
	oidc          map[string]*oidc.IDTokenVerifier
}

func (e *env) newATEnv() (*atEnv, error) {
	a := &atEnv{tokens: map[string][2]string{}, oidc: map[string]*oidc.IDTokenVerifier{}}
	for _, alg := range atAlgs {
		var pair [2]string
		for i := range pair {
			raw, err := e.signTyped(alg, "at+jwt", map[string]any{
				"iss":       e.issuer,
				"sub":       atClientID,
				"aud":       apiAudience,
				"client_id": atClientID,
				"scope":     "orders:read orders:write",
				"jti":       fmt.Sprintf("jti-%s-%d", alg, i),
				"iat":       now.Unix(),
				"exp":       now.Add(time.Hour).Unix(),
			})
			if err != nil {
				return nil, err
			}
			pair[i] = raw
		}
		a.tokens[alg] = pair
		a.oidc[alg] = oidc.NewVerifier(e.issuer, e.remote, &oidc.Config{
			ClientID:             apiAudience, // go-oidc checks "aud" against ClientID
			SupportedSigningAlgs: []string{alg},
			Now:                  func() time.Time { return now },
		})
	}
	cfg := nextidentity.Config{
		Issuer:       e.issuer,
		ClientID:     "orders-api",
		ClientSecret: secret,
		Audience:     apiAudience,
		SigningAlgs:  atAlgs,
		Leeway:       leeway,
		Now:          func() time.Time { return now },
	}
	var err error
	if a.cached, err = nextidentity.New(context.Background(), cfg); err != nil {
		return nil, err
	}
	cfg.AccessTokenCacheSize = 1
	if a.fresh, err = nextidentity.New(context.Background(), cfg); err != nil {
		_ = a.cached.Close()
		return nil, err
	}
	return a, nil
}

// Close stops both clients.
func (a *atEnv) Close() {
	_ = a.cached.Close()
	_ = a.fresh.Close()
}

// atClaims is what a go-oidc user decodes from an access token.
type atClaims struct {
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

// atVerifier verifies access tokens; next returns the token to verify on
// each call (the same one, or alternating two).
type atVerifier struct {
	name   string
	verify func(ctx context.Context, raw string) (string, error)
	fresh  bool // alternate the alg's two tokens
}

func (a *atEnv) verifiers(e *env, alg string) []atVerifier {
	lib := func(c *nextidentity.Client) func(context.Context, string) (string, error) {
		return func(ctx context.Context, raw string) (string, error) {
			at, err := c.VerifyAccessToken(ctx, raw)
			if err != nil {
				return "", err
			}
			return at.ClientID, nil
		}
	}
	v := a.oidc[alg]
	return []atVerifier{
		{name: nameATFloor, verify: e.atFloor(alg), fresh: true},
		{name: nameATFresh, verify: lib(a.fresh), fresh: true},
		{name: nameATRepeated, verify: lib(a.cached)},
		{name: nameATOIDC, verify: func(ctx context.Context, raw string) (string, error) {
			tok, err := v.Verify(ctx, raw)
			if err != nil {
				return "", err
			}
			var c atClaims
			if err := tok.Claims(&c); err != nil {
				return "", err
			}
			return c.ClientID, nil
		}},
	}
}

// atFloorClaims are the claims the access token floor checks.
type atFloorClaims struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	Aud      json.RawMessage `json:"aud"`
	Exp      int64           `json:"exp"`
	Iat      int64           `json:"iat"`
	Nbf      int64           `json:"nbf"`
	ClientID string          `json:"client_id"`
	Scope    string          `json:"scope"`
}

type atFloorHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// atFloor is the hand-written minimum for an access token of alg: split,
// decode the header and check alg, kid and typ, one signature check with
// the known key, decode the checked claims, compare iss, aud, exp, iat, nbf
// and split the scope. No key lookup, no cache, no error detail.
func (e *env) atFloor(alg string) func(context.Context, string) (string, error) {
	var check func(signed string, sig []byte) bool
	wantKid := "rsa1"
	switch alg {
	case "RS256":
		pub := &e.rsa.PublicKey
		check = func(signed string, sig []byte) bool {
			d := sha256.Sum256([]byte(signed))
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) == nil
		}
	case "ES256":
		wantKid = "ec1"
		pub := &e.ec.PublicKey
		check = func(signed string, sig []byte) bool {
			if len(sig) != 64 {
				return false
			}
			d := sha256.Sum256([]byte(signed))
			var der [72]byte
			return ecdsa.VerifyASN1(pub, d[:], asn1Sig(der[:0], sig[:32], sig[32:]))
		}
	}
	issuer := e.issuer
	return func(_ context.Context, raw string) (string, error) {
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			return "", errFloor
		}
		hb, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			return "", errFloor
		}
		var h atFloorHeader
		if json.Unmarshal(hb, &h) != nil || h.Alg != alg || h.Kid != wantKid || h.Typ != "at+jwt" {
			return "", errFloor
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || !check(raw[:len(parts[0])+1+len(parts[1])], sig) {
			return "", errFloor
		}
		pb, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return "", errFloor
		}
		var c atFloorClaims
		if json.Unmarshal(pb, &c) != nil {
			return "", errFloor
		}
		t := now.Unix()
		lw := int64(leeway / time.Second)
		if c.Iss != issuer || !audContains(c.Aud, apiAudience) ||
			t >= c.Exp+lw || c.Iat > t+lw || c.Nbf > t+lw || len(strings.Fields(c.Scope)) == 0 {
			return "", errFloor
		}
		return c.ClientID, nil
	}
}

// measureAT is measure for an access token verifier: a fresh one
// alternates the alg's two tokens.
func measureAT(v atVerifier, pair [2]string) (run, error) {
	i := 0
	return measure(verifier{name: v.name, verify: func(ctx context.Context, _ string) (string, error) {
		raw := pair[0]
		if v.fresh {
			raw = pair[i&1]
			i++
		}
		return v.verify(ctx, raw)
	}}, pair[0])
}

// accessTokenTable measures the access token verifiers and prints their
// table and verdicts. It reports whether every target was met.
func accessTokenTable(e *env, benchtime string, rounds int) bool {
	a, err := e.newATEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer a.Close()
	ctx := context.Background()
	for _, alg := range atAlgs {
		for _, v := range a.verifiers(e, alg) {
			for _, raw := range a.tokens[alg] {
				if _, err := v.verify(ctx, raw); err != nil {
					fmt.Fprintf(os.Stderr, "bench: %s %s rejects the access token: %v\n", alg, v.name, err)
					os.Exit(1)
				}
			}
		}
	}

	fmt.Printf("\nverifying one JWT access token (RFC 9068); %s; benchtime %s x %d interleaved rounds, medians\n\n", machine(), benchtime, rounds)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "alg\tverifier\tcpu ns/op\twall ns/op\tspread\tB/op\tallocs/op\ttime/floor\tgo-oidc/time\t")
	var summary []string
	ok := true
	for _, alg := range atAlgs {
		vs := a.verifiers(e, alg)
		runs := make([][]run, len(vs))
		for range rounds {
			for i, v := range vs {
				r, err := measureAT(v, a.tokens[alg])
				if err != nil {
					fmt.Fprintf(os.Stderr, "bench: %s %s failed while measured: %v\n", alg, v.name, err)
					os.Exit(1)
				}
				runs[i] = append(runs[i], r)
			}
		}
		// vs is floor, fresh, repeated, go-oidc in that order.
		type atCell struct{ cpu, wall, spread, bytes, allocs, vsFloor, speedup, speedupWall float64 }
		cells := make([]atCell, len(vs))
		for i := range vs {
			var wall, cpu, bs, as, vf, sp, spw []float64
			for k, r := range runs[i] {
				wall = append(wall, r.wall)
				cpu = append(cpu, r.cpu)
				bs = append(bs, r.bytes)
				as = append(as, r.allocs)
				vf = append(vf, r.cpu/runs[0][k].cpu)
				sp = append(sp, runs[3][k].cpu/r.cpu)
				spw = append(spw, runs[3][k].wall/r.wall)
			}
			m := median(cpu)
			cells[i] = atCell{cpu: m, wall: median(wall), spread: (slices.Max(cpu) - slices.Min(cpu)) / m,
				bytes: median(bs), allocs: median(as), vsFloor: median(vf), speedup: median(sp), speedupWall: median(spw)}
		}
		for i, v := range vs {
			c := cells[i]
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t±%.0f%%\t%.0f\t%.0f\t%.2fx\t%.1fx\t\n",
				alg, v.name, c.cpu, c.wall, 50*c.spread, c.bytes, c.allocs, c.vsFloor, c.speedup)
		}
		fresh, rep := cells[1], cells[2]
		m1, m2, m3 := rep.speedup >= targetRepeatedSpeedup, rep.allocs <= targetRepeatedAllocs, fresh.vsFloor <= targetFreshFloor
		ok = ok && m1 && m2 && m3
		summary = append(summary, fmt.Sprintf("%s: repeated token %.0fx faster than go-oidc (target >= %.0fx, %s), %.0f allocs (target <= %d, %s); fresh token %.2fx floor (target <= %.2fx, %s) [wall: %.0fx faster]",
			alg, rep.speedup, targetRepeatedSpeedup, verdict(m1), rep.allocs, targetRepeatedAllocs, verdict(m2),
			fresh.vsFloor, targetFreshFloor, verdict(m3), rep.speedupWall))
	}
	_ = tw.Flush()
	fmt.Println()
	for _, s := range summary {
		fmt.Println(s)
	}
	return ok
}

var errNoTable = errors.New("bench: unknown -table")
