package nextidentity

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// Shared set-up of the fuzz targets (fuzz_*_test.go): a client on a fixed
// clock, signers, and oracles written independently of the code under test.

// The fuzz client's fixed identity. The issuer is not the test provider's
// loopback URL (its port changes every run) so that the HS256 tokens stored
// in testdata/idtokens stay valid; every endpoint is configured, so the client
// never asks for discovery.
const (
	fuzzIssuer   = "https://id.example.com"
	fuzzClientID = "client-1" // testprovider's client
	fuzzSecret   = "secret-1" // testprovider's secret, keys HS* tokens
	fuzzNonce    = "yMLsS49XhyEcxJESP9YEN2QetYrVWVzPxJAvF7wkaDLWAn9PyK"
	fuzzState    = "af0ifjsldkj"
	fuzzCode     = "SplxlOBeZQQYbYS6WxSbIA"
	fuzzVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)

// fuzzNow is one minute after the documented token's iat; its exp
// (1611262130) is two weeks later.
var fuzzNow = time.Unix(1610052590, 0)

type fuzzEnv struct {
	p *testprovider.Provider
	c *Client
}

// newFuzzEnv starts a test provider and a client for it with a fixed clock
// and every algorithm allowed, so all verification paths are reachable.
func newFuzzEnv(tb testing.TB, edit func(*Config)) *fuzzEnv {
	tb.Helper()
	p := testprovider.New(tb)
	require.Equal(tb, fuzzClientID, p.ClientID)
	require.Equal(tb, fuzzSecret, p.Secret)
	p.Issuer = fuzzIssuer // set before the first request; used by Discovery only
	cfg := Config{
		Issuer:                fuzzIssuer,
		ClientID:              fuzzClientID,
		ClientSecret:          fuzzSecret,
		RedirectURL:           "http://127.0.0.1:9999/callback",
		AuthorizationEndpoint: p.URL + testprovider.PathAuthorize,
		TokenEndpoint:         p.URL + testprovider.PathToken,
		UserInfoEndpoint:      p.URL + testprovider.PathUserInfo,
		JWKSURL:               p.URL + testprovider.PathJWKS,
		SigningAlgs:           slices.Clone(supportedAlgs),
		Now:                   func() time.Time { return fuzzNow },
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(context.Background(), cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return &fuzzEnv{p: p, c: c}
}

// claims are valid claims for the fuzz client.
func (e *fuzzEnv) claims() map[string]any {
	cl := e.p.Claims(fuzzNow.Add(-time.Minute), fuzzNonce)
	cl["iss"] = fuzzIssuer
	return cl
}

// freshTokens signs valid tokens with every published key, and checks that
// the client accepts them (so a target that never succeeds is noticed).
func (e *fuzzEnv) freshTokens(tb testing.TB) []string {
	tb.Helper()
	cl := e.claims()
	withHash := e.claims()
	withHash["at_hash"] = testprovider.AtHash("rb5bzkygqs5ahevp")
	withHash["aud"] = []string{"other", fuzzClientID}
	withHash["azp"] = fuzzClientID
	toks := []string{
		testprovider.Sign("RS256", e.p.RSA, cl, nil),
		testprovider.Sign("PS256", e.p.PS, cl, nil),
		testprovider.Sign("ES256", e.p.EC, cl, nil),
		testprovider.Sign("EdDSA", e.p.Ed, cl, nil),
		testprovider.Sign("ES256", e.p.EC, withHash, map[string]any{"kid": nil}),
		testprovider.SignHS("HS256", fuzzSecret, cl),
		testprovider.SignHS("HS256", fuzzSecret, withHash),
	}
	for _, raw := range toks {
		_, err := e.c.VerifyIDToken(context.Background(), raw, fuzzNonce)
		require.NoError(tb, err, "fresh token must verify: %s", raw)
	}
	return toks
}

// checkVerify is the invariant of every VerifyIDToken call: an error wraps
// ErrInvalidIDToken; a success is a token that an independent verifier
// accepts too.
func (e *fuzzEnv) checkVerify(t *testing.T, raw, nonce string, tok *IDToken, err error) {
	t.Helper()
	if err != nil {
		require.ErrorIs(t, err, ErrInvalidIDToken)
		require.Nil(t, tok)
		return
	}
	require.NotNil(t, tok)
	e.requireGenuine(t, raw, nonce, tok)
}

// requireGenuine re-checks an accepted token from scratch, with the standard
// library only: strict base64url, the header and claims decoded into maps
// (claim names are case-sensitive, RFC 7515 section 4 / RFC 7519 section 4),
// the signature recomputed with the provider's public keys or the client
// secret, and the OpenID Connect Core 3.1.3.7 claim checks.
func (e *fuzzEnv) requireGenuine(t *testing.T, raw, nonce string, tok *IDToken) {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3, "accepted token is not three segments")
	strict := base64.RawURLEncoding.Strict()
	hdrJSON, err := strict.DecodeString(parts[0])
	require.NoError(t, err, "accepted token: header is not strict base64url")
	payload, err := strict.DecodeString(parts[1])
	require.NoError(t, err, "accepted token: payload is not strict base64url")
	sig, err := strict.DecodeString(parts[2])
	require.NoError(t, err, "accepted token: signature is not strict base64url")

	var hdr map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(hdrJSON, &hdr), "accepted token: header %q is not a JSON object", hdrJSON)
	alg, ok := jsonString(hdr["alg"])
	require.True(t, ok, "accepted token: header %s has no string \"alg\"", hdrJSON)
	require.True(t, slices.Contains(supportedAlgs, alg), "accepted token: alg %q", alg)
	_, hasCrit := hdr["crit"]
	require.False(t, hasCrit, "accepted token: header %s has crit", hdrJSON)
	kid := ""
	if v, ok := hdr["kid"]; ok && string(v) != "null" {
		kid, ok = jsonString(v)
		require.True(t, ok, "accepted token: kid %s is not a string", v)
	}
	require.True(t, e.signatureValid(alg, kid, parts[0]+"."+parts[1], sig),
		"accepted token: signature does not verify independently (alg %q, kid %q)", alg, kid)

	var cl map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(payload, &cl), "accepted token: payload %q is not a JSON object", payload)
	iss, _ := jsonString(cl["iss"])
	require.Equal(t, fuzzIssuer, iss, "accepted token: \"iss\" claim, payload %s", payload)
	require.Equal(t, fuzzIssuer, tok.Issuer)

	var auds []string
	if a, ok := jsonString(cl["aud"]); ok {
		auds = []string{a}
	} else {
		require.NoError(t, json.Unmarshal(cl["aud"], &auds), "accepted token: \"aud\" claim, payload %s", payload)
	}
	require.Contains(t, auds, fuzzClientID, "accepted token: \"aud\" claim, payload %s", payload)
	require.Contains(t, tok.Audience, fuzzClientID)
	azp := ""
	if v, ok := cl["azp"]; ok && string(v) != "null" {
		azp, ok = jsonString(v)
		require.True(t, ok, "accepted token: azp %s is not a string", v)
	}
	if len(auds) > 1 || azp != "" {
		require.Equal(t, fuzzClientID, azp, "accepted token: \"azp\" claim, payload %s", payload)
	}

	sub, _ := jsonString(cl["sub"])
	require.NotEmpty(t, sub, "accepted token: \"sub\" claim, payload %s", payload)
	require.Equal(t, sub, tok.Subject)

	leeway := e.c.leeway.Seconds()
	now := float64(fuzzNow.Unix())
	exp, ok := jsonNumber(cl["exp"])
	require.True(t, ok, "accepted token: \"exp\" claim is not a number, payload %s", payload)
	require.Less(t, now, exp+leeway+1, "accepted token: expired, payload %s", payload)
	iat, ok := jsonNumber(cl["iat"])
	require.True(t, ok, "accepted token: \"iat\" claim is not a number, payload %s", payload)
	require.LessOrEqual(t, iat, now+leeway+1, "accepted token: issued in the future, payload %s", payload)
	require.False(t, tok.Expiry.IsZero())

	if nonce != "" {
		got, _ := jsonString(cl["nonce"])
		require.Equal(t, nonce, got, "accepted token: \"nonce\" claim, payload %s", payload)
		require.Equal(t, nonce, tok.Nonce)
	}

	// The claims the caller can read back are the signed payload.
	var back map[string]any
	require.NoError(t, tok.Claims(&back))
	_ = tok.VerifyAccessToken("rb5bzkygqs5ahevp") // must not panic
}

// jsonString decodes a JSON string; ok is false for anything else.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// jsonNumber decodes a JSON number; ok is false for anything else.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

func algHash(alg string) crypto.Hash {
	switch {
	case strings.HasSuffix(alg, "384"):
		return crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		return crypto.SHA512
	}
	return crypto.SHA256
}

func hashFunc(h crypto.Hash) func() hash.Hash {
	switch h {
	case crypto.SHA384:
		return sha512.New384
	case crypto.SHA512:
		return sha512.New
	}
	return sha256.New
}

// signatureValid verifies sig over input with the client secret (HS*) or one
// of the keys the provider publishes whose kid and JWK alg fit.
func (e *fuzzEnv) signatureValid(alg, kid, input string, sig []byte) bool {
	if strings.HasPrefix(alg, "HS") {
		m := hmac.New(hashFunc(algHash(alg)), []byte(fuzzSecret))
		m.Write([]byte(input))
		return hmac.Equal(m.Sum(nil), sig)
	}
	h := hashFunc(algHash(alg))()
	h.Write([]byte(input))
	digest := h.Sum(nil)
	for _, k := range []*testprovider.Key{e.p.RSA, e.p.PS, e.p.EC, e.p.Ed} {
		if k.Alg != alg || (kid != "" && kid != k.KID) {
			continue
		}
		switch pub := k.Private.Public().(type) {
		case *rsa.PublicKey:
			var err error
			if strings.HasPrefix(alg, "PS") {
				err = rsa.VerifyPSS(pub, algHash(alg), digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
			} else {
				err = rsa.VerifyPKCS1v15(pub, algHash(alg), digest, sig)
			}
			if err == nil {
				return true
			}
		case *ecdsa.PublicKey:
			size := (pub.Curve.Params().BitSize + 7) / 8
			if len(sig) == 2*size && ecdsa.Verify(pub, digest,
				new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])) {
				return true
			}
		case ed25519.PublicKey:
			if ed25519.Verify(pub, []byte(input), sig) {
				return true
			}
		}
	}
	return false
}

// seedFiles returns the files matching pattern (sorted), by base name.
func seedFiles(tb testing.TB, pattern string) (names []string, data [][]byte) {
	tb.Helper()
	paths, err := filepath.Glob(pattern)
	require.NoError(tb, err)
	require.NotEmpty(tb, paths, "no seed files match %s", pattern)
	slices.Sort(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(tb, err)
		names = append(names, filepath.Base(p))
		data = append(data, b)
	}
	return names, data
}

// seedLines returns the lines of a seed file, without line endings.
func seedLines(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	require.NoError(tb, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(tb, sc.Err())
	return lines
}

// sign signs input as signer (see FuzzVerifyIDTokenSegments) chooses. RSA is
// slow, so it gets 2 of 16 choices.
func (e *fuzzEnv) sign(t *testing.T, signer uint8, header []byte, input string, stale []byte) []byte {
	var (
		m   jwt.SigningMethod
		key any
	)
	switch signer % 16 {
	case 0, 1, 2, 3, 4, 5:
		var hdr struct{ Alg string }
		_ = json.Unmarshal(header, &hdr)
		m = jwt.SigningMethodHS256
		if hdr.Alg == "HS384" || hdr.Alg == "HS512" {
			m = jwt.GetSigningMethod(hdr.Alg)
		}
		key = []byte(fuzzSecret)
	case 6, 7, 8:
		m, key = jwt.SigningMethodES256, e.p.EC.Private
	case 9, 10, 11:
		m, key = jwt.SigningMethodEdDSA, e.p.Ed.Private
	case 12:
		m, key = jwt.SigningMethodRS256, e.p.RSA.Private
	case 13:
		m, key = jwt.SigningMethodPS256, e.p.PS.Private
	case 14:
		return stale
	default:
		return nil
	}
	sig, err := m.Sign(input, key)
	require.NoError(t, err)
	return sig
}
