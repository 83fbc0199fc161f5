// Package testprovider is a scriptable, deliberately misbehaving OpenID
// provider for the library's own tests: every response can be replaced, and
// tokens can be signed with any key, alg and claims. Apps should use the
// public nextidentitytest package instead.
package testprovider

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oidc-kit/nextidentity/internal/fakecore"
)

// Key is a signing key with its kid and JWK alg.
type Key struct {
	KID     string
	Alg     string // JWK "alg" published; "" publishes none
	Use     string // JWK "use"; default "sig"
	Private crypto.Signer
}

// Provider is a loopback provider whose every endpoint is scriptable.
type Provider struct {
	*httptest.Server
	Issuer   string
	ClientID string
	Secret   string

	// Default keys, generated once per process.
	RSA, RSA2, PS, EC, Ed *Key

	mu       sync.Mutex
	keys     []*Key
	jwksRaw  []byte // overrides keys when not nil
	handlers map[string]http.HandlerFunc
	counts   map[string]*atomic.Int64
}

var (
	keyOnce sync.Once
	rsaKeys [3]*rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey
	edKey   ed25519.PrivateKey
)

func genKeys() {
	for i := range rsaKeys {
		rsaKeys[i] = fakecore.GenerateRSA()
	}
	ecKey = fakecore.GenerateEC()
	edKey = fakecore.GenerateEd25519()
}

// Paths served: the same as the public fake's (nextidentitytest).
const (
	PathDiscovery = fakecore.PathDiscovery
	PathJWKS      = fakecore.PathJWKS
	PathToken     = fakecore.PathToken
	PathUserInfo  = fakecore.PathUserInfo
	PathAuthorize = fakecore.PathAuthorize
)

// New starts a provider with client "client-1" / "secret-1" and publishes the
// RSA (kid rsa1), PS (kid ps1), EC (kid ec1) and Ed25519 (kid ed1) keys. It is
// closed when t ends.
func New(t testing.TB) *Provider {
	keyOnce.Do(genKeys)
	p := &Provider{
		ClientID: "client-1",
		Secret:   "secret-1",
		RSA:      &Key{KID: "rsa1", Alg: "RS256", Private: rsaKeys[0]},
		RSA2:     &Key{KID: "rsa2", Alg: "RS256", Private: rsaKeys[1]},
		PS:       &Key{KID: "ps1", Alg: "PS256", Private: rsaKeys[2]},
		EC:       &Key{KID: "ec1", Alg: "ES256", Private: ecKey},
		Ed:       &Key{KID: "ed1", Alg: "EdDSA", Private: edKey},
		handlers: map[string]http.HandlerFunc{},
		counts:   map[string]*atomic.Int64{},
	}
	p.keys = []*Key{p.RSA, p.PS, p.EC, p.Ed}
	for _, path := range []string{PathDiscovery, PathJWKS, PathToken, PathUserInfo, PathAuthorize} {
		p.counts[path] = new(atomic.Int64)
	}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	p.Issuer = p.URL
	t.Cleanup(p.Close)
	return p
}

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	if c, ok := p.counts[r.URL.Path]; ok {
		c.Add(1)
	}
	p.mu.Lock()
	h := p.handlers[r.URL.Path]
	p.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	switch r.URL.Path {
	case PathDiscovery:
		WriteJSON(w, http.StatusOK, p.Discovery())
	case PathJWKS:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(p.JWKS())
	default:
		http.NotFound(w, r)
	}
}

// Handle replaces the handler of path (PathToken, PathJWKS, ...).
func (p *Provider) Handle(path string, h http.HandlerFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handlers[path] = h
}

// Count is how many requests path received.
func (p *Provider) Count(path string) int64 { return p.counts[path].Load() }

// Discovery returns the discovery document the provider serves by default.
func (p *Provider) Discovery() map[string]any {
	return map[string]any{
		"issuer":                 p.Issuer,
		"authorization_endpoint": p.URL + PathAuthorize,
		"token_endpoint":         p.URL + PathToken,
		"userinfo_endpoint":      p.URL + PathUserInfo,
		"jwks_uri":               p.URL + PathJWKS,
		"end_session_endpoint":   p.URL + fakecore.PathEndSession,
		"id_token_signing_alg_values_supported": []string{
			"RS256", "PS256", "ES256", "EdDSA", "HS256",
		},
	}
}

// SetKeys replaces the published keys.
func (p *Provider) SetKeys(keys ...*Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = keys
	p.jwksRaw = nil
}

// SetJWKS publishes raw as the JWKS body, verbatim.
func (p *Provider) SetJWKS(raw []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jwksRaw = raw
}

// JWKS is the current JWKS body.
func (p *Provider) JWKS() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jwksRaw != nil {
		return p.jwksRaw
	}
	return JWKS(p.keys...)
}

// JWKS marshals the public halves of keys as a JWK Set.
func JWKS(keys ...*Key) []byte {
	set := struct {
		Keys []map[string]any `json:"keys"`
	}{Keys: []map[string]any{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, JWK(k))
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// JWK is the public JWK of k, as a JSON object tests may edit. Its "use"
// is k.Use, default "sig"; kid and alg are left out when empty.
func JWK(k *Key) map[string]any {
	use := k.Use
	if use == "" {
		use = "sig"
	}
	return fakecore.MustPublicJWK(k.Private.Public(), k.KID, k.Alg, use).Map()
}

// Subject is the "sub" of Claims: the documented example's.
const Subject = fakecore.DefaultSubject

// AccessToken and RefreshToken are the tokens TokenResponse returns, in the
// provider's documented formats.
const (
	AccessToken  = fakecore.ExampleAccessToken
	RefreshToken = fakecore.ExampleRefreshToken
)

// Claims returns valid ID token claims for the provider's client at now.
func (p *Provider) Claims(now time.Time, nonce string) map[string]any {
	c := map[string]any{
		"iss":   p.Issuer,
		"sub":   Subject,
		"aud":   p.ClientID,
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"name":  "John Smith",
		"email": "john.smith@example.com",
		// The provider's own format.
		"updated_at":     fakecore.FormatUpdatedAt(fakecore.DefaultUpdatedAt),
		"email_verified": true,
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return c
}

// Sign signs claims with k using alg, putting k.KID in the header unless
// header overrides it (a nil value deletes the parameter). It panics on an
// unknown alg or a key that does not fit it: tests call it with fixed
// inputs.
func Sign(alg string, k *Key, claims map[string]any, header map[string]any) string {
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		panic("testprovider: unknown alg " + alg)
	}
	h := map[string]any{}
	var key any
	if k != nil {
		if k.KID != "" {
			h["kid"] = k.KID
		}
		key = k.Private
	}
	for name, v := range header {
		h[name] = v
	}
	s, err := fakecore.Sign(m, key, h, claims)
	if err != nil {
		panic(fmt.Sprintf("testprovider: sign %s: %v", alg, err))
	}
	return s
}

// SignHS signs claims with HMAC alg keyed by secret and no kid.
func SignHS(alg, secret string, claims map[string]any) string {
	s, err := fakecore.Sign(jwt.GetSigningMethod(alg), []byte(secret), nil, claims)
	if err != nil {
		panic(fmt.Sprintf("testprovider: sign %s: %v", alg, err))
	}
	return s
}

// AtHash is the at_hash of accessToken for a *256 alg.
func AtHash(accessToken string) string { return fakecore.AtHash(accessToken) }

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// TokenResponse is a handler answering the token endpoint with a token
// response carrying idToken, the access token AccessToken (sign
// at_hash = AtHash(AccessToken) into idToken for an at_hash-consistent
// response) and the refresh token RefreshToken.
func TokenResponse(idToken string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]any{
			"access_token":  AccessToken,
			"token_type":    "Bearer",
			"refresh_token": RefreshToken,
			"expires_in":    3600,
			"id_token":      idToken,
		})
	}
}
