package fakecore_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/fakecore"
)

// Every key the fakes publish parses with a third-party JWK library back to
// the same public key.
func TestPublicJWKRoundTrips(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		key     crypto.Signer
		kty     string
		crv     string
		xLength int
	}{
		{"RSA", fakecore.GenerateRSA(), "RSA", "", 0},
		{"EC P-256", fakecore.GenerateEC(), "EC", "P-256", 43},
		{"EC P-384", p384, "EC", "P-384", 64},
		{"Ed25519", fakecore.GenerateEd25519(), "OKP", "Ed25519", 43},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := fakecore.PublicJWK(tc.key.Public(), "kid-1", "ALG", "sig")
			require.NoError(t, err)
			require.Equal(t, tc.kty, k.Kty)
			require.Equal(t, tc.crv, k.Crv)
			if tc.xLength > 0 {
				require.Len(t, k.X, tc.xLength, "fixed-size coordinates")
			}
			b, err := json.Marshal(k)
			require.NoError(t, err)
			var m jwkset.JWKMarshal
			require.NoError(t, json.Unmarshal(b, &m))
			parsed, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
			require.NoError(t, err)
			require.Equal(t, "kid-1", parsed.Marshal().KID)
			require.True(t, tc.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(parsed.Key()))
			require.Equal(t, map[string]any{"kty": k.Kty, "kid": "kid-1", "alg": "ALG", "use": "sig"},
				filter(k.Map(), "kty", "kid", "alg", "use"))
		})
	}
	_, err = fakecore.PublicJWK("not a key", "", "", "")
	require.EqualError(t, err, "fakecore: unsupported public key type string")
}

func filter(m map[string]any, keep ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keep {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestJWKLeavesOutEmptyMembers(t *testing.T) {
	k, err := fakecore.PublicJWK(fakecore.GenerateEd25519().Public(), "", "", "")
	require.NoError(t, err)
	b, err := json.Marshal(k)
	require.NoError(t, err)
	require.JSONEq(t, `{"kty":"OKP","crv":"Ed25519","x":"`+k.X+`"}`, string(b))
	require.Equal(t, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": k.X}, k.Map())
}

// The expected value was computed independently (Python's hashlib):
// base64url(sha256(token)[:16]).
func TestAtHash(t *testing.T) {
	require.Equal(t, "Uph609BIrGoE5h8BI0_SAg", fakecore.AtHash(fakecore.ExampleAccessToken))
}

func TestSignHeaderEdits(t *testing.T) {
	key := fakecore.GenerateEC()
	claims := map[string]any{"sub": "x"}
	for _, tc := range []struct {
		name   string
		header map[string]any
		want   map[string]any
	}{
		{"default", nil, map[string]any{"alg": "ES256", "typ": "JWT"}},
		{"provider style", map[string]any{"typ": nil, "kid": "k1"}, map[string]any{"alg": "ES256", "kid": "k1"}},
		{"extra", map[string]any{"jku": "https://x/jwks"}, map[string]any{"alg": "ES256", "typ": "JWT", "jku": "https://x/jwks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := fakecore.Sign(jwt.SigningMethodES256, key, tc.header, claims)
			require.NoError(t, err)
			tok, err := jwt.Parse(s, func(*jwt.Token) (any, error) { return &key.PublicKey, nil })
			require.NoError(t, err)
			require.Equal(t, tc.want, tok.Header)
		})
	}
	require.Equal(t, map[string]any{"sub": "x"}, claims, "claims are not changed")
	_, err := fakecore.Sign(jwt.SigningMethodRS256, nil, nil, claims)
	require.EqualError(t, err, "fakecore: no signing key")
	_, err = fakecore.Sign(jwt.SigningMethodRS256, key, nil, claims)
	require.ErrorContains(t, err, "fakecore: signing with RS256")
}

func TestFormatUpdatedAt(t *testing.T) {
	require.Equal(t, "2021-01-07 20:44:35.176625 +0000", fakecore.FormatUpdatedAt(fakecore.DefaultUpdatedAt))
	require.Equal(t, "2021-01-07 20:44:35.176625 +0000", fakecore.FormatUpdatedAt(fakecore.DefaultUpdatedAt.In(time.FixedZone("x", 3600))))
}
