package events_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/events"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

// Keys are generated once per test binary: RSA generation is slow under -race.
var (
	rsaKey      = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	otherRSAKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	ecKey       = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// jwkOf is the public JWK of key under kid.
func jwkOf(kid string, key crypto.Signer) map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		pub, err := k.ECDH()
		if err != nil {
			panic(err)
		}
		raw := pub.Bytes()
		return map[string]string{"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:65])}
	}
	panic("unsupported key")
}

// jwksServer serves a JWK Set and counts the requests it gets.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64
}

// newJWKSServer serves the public JWKs given, or the status when it is not 200.
func newJWKSServer(t testing.TB, status int, jwks ...map[string]string) *jwksServer {
	t.Helper()
	body, err := json.Marshal(map[string]any{"keys": jwks})
	require.NoError(t, err)
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// jwksURL is the URL events are signed against in the tests.
func (s *jwksServer) jwksURL() string { return s.URL + "/jwks.json" }

// sign builds a compact JWS over header and claims by hand, so tests can
// send any header; key signs with method (nil method: empty signature).
func sign(t testing.TB, method jwt.SigningMethod, key any, header, claims map[string]any) []byte {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	return signRaw(t, method, key, h, c)
}

func signRaw(t testing.TB, method jwt.SigningMethod, key any, header, payload []byte) []byte {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	signing := b64(header) + "." + b64(payload)
	sig := []byte("x")
	if method != nil {
		var err error
		sig, err = method.Sign(signing, key)
		require.NoError(t, err)
	}
	return []byte(signing + "." + b64(sig))
}

// validClaims is a well-formed event payload issued at testNow.
func validClaims() map[string]any {
	return map[string]any{
		"iss": "https://id.example.com",
		"jti": "evt-1",
		"iat": testNow.Unix(),
		"events": map[string]any{
			"account/v1/register": map[string]any{"firstName": "Jane", "email": "jane@example.com"},
		},
	}
}

// rsHeader is the provider's header for rsaKey under kid "k1" at jku.
func rsHeader(jku string) map[string]any {
	return map[string]any{"alg": "RS256", "kid": "k1", "jku": jku}
}

// newVerifier returns a Verifier on the fixed clock, closed with the test.
func newVerifier(t *testing.T, cfg events.Config) *events.Verifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	v, err := events.NewVerifier(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v
}
