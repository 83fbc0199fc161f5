package nextidentitytest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oidc-kit/nextidentity/internal/fakecore"
)

// signingKey is one generation of a private key with its key id.
type signingKey[K any] struct {
	kid string
	key K
}

// keyGeneration is a fresh RSA and EC key pair.
type keyGeneration struct {
	rsa *signingKey[*rsa.PrivateKey]
	ec  *signingKey[*ecdsa.PrivateKey]
}

func newKeyGeneration() keyGeneration {
	var (
		g  keyGeneration
		wg sync.WaitGroup
	)
	wg.Go(func() { g.rsa = &signingKey[*rsa.PrivateKey]{kid: newKID(), key: fakecore.GenerateRSA()} })
	g.ec = &signingKey[*ecdsa.PrivateKey]{kid: newKID(), key: fakecore.GenerateEC()}
	wg.Wait()
	return g
}

func newKID() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// rotateKeysLocked installs a new key generation, keeping the previous one.
// It must be called with s.mu held (or before the server is shared).
func (s *Server) rotateKeysLocked() { s.installKeysLocked(newKeyGeneration()) }

func (s *Server) installKeysLocked(g keyGeneration) {
	s.rsaKeys = append(s.rsaKeys, g.rsa)
	if len(s.rsaKeys) > 2 {
		s.rsaKeys = s.rsaKeys[len(s.rsaKeys)-2:]
	}
	s.ecKeys = append(s.ecKeys, g.ec)
	if len(s.ecKeys) > 2 {
		s.ecKeys = s.ecKeys[len(s.ecKeys)-2:]
	}
}

// RotateKeys generates a new RSA and a new EC signing key, each with a new
// kid, and makes them current. The JWKS publishes the new keys and the
// previous ones; older keys are dropped.
func (s *Server) RotateKeys() {
	g := newKeyGeneration() // slow: outside the lock
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installKeysLocked(g)
}

// SetSigningAlg switches the ID token algorithm to "RS256", "HS256" or
// "ES256" for tokens issued from now on. It panics on any other value.
func (s *Server) SetSigningAlg(alg string) {
	if !validAlg(alg) {
		panic(fmt.Sprintf("nextidentitytest: unsupported signing alg %q (want RS256, HS256 or ES256)", alg))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alg = alg
}

// KeyIDs returns the kids the JWKS currently publishes, current keys first.
func (s *Server) KeyIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range s.jwksLocked() {
		out = append(out, k.Kid)
	}
	return out
}

// SignIDToken signs claims, unchanged, with the server's current algorithm
// and key, with the header the server itself would use ("kid" for RS256 and
// ES256, none for HS256). For HS256 the key is the secret of the client named
// by the "aud" claim (a string or the first element of an array); it is an
// error if that client is unknown or public.
func (s *Server) SignIDToken(claims map[string]any) (string, error) {
	s.mu.Lock()
	alg := s.alg
	s.mu.Unlock()
	return s.sign(alg, claims, audience(claims))
}

// sign signs claims with alg. hmacClient names the client whose secret keys
// HS256.
func (s *Server) sign(alg string, claims map[string]any, hmacClient string) (string, error) {
	return s.signTyped(alg, claims, hmacClient, "")
}

// signTyped is sign with the header "typ" set to typ, or left out when typ
// is empty.
func (s *Server) signTyped(alg string, claims map[string]any, hmacClient, typ string) (string, error) {
	var (
		method jwt.SigningMethod
		key    any
		kid    string
	)
	s.mu.Lock()
	switch alg {
	case "RS256":
		k := s.rsaKeys[len(s.rsaKeys)-1]
		method, key, kid = jwt.SigningMethodRS256, k.key, k.kid
	case "ES256":
		k := s.ecKeys[len(s.ecKeys)-1]
		method, key, kid = jwt.SigningMethodES256, k.key, k.kid
	case "HS256":
		c, ok := s.clients[hmacClient]
		if !ok || c.Secret == "" {
			s.mu.Unlock()
			return "", fmt.Errorf("nextidentitytest: HS256 needs the secret of the audience, but %q is not a confidential client", hmacClient)
		}
		method, key = jwt.SigningMethodHS256, []byte(c.Secret)
	default:
		s.mu.Unlock()
		return "", fmt.Errorf("nextidentitytest: unsupported alg %q", alg)
	}
	s.mu.Unlock()
	header := map[string]any{"typ": nil} // the provider's ID tokens carry only alg (and kid)
	if typ != "" {
		header["typ"] = typ
	}
	if kid != "" {
		header["kid"] = kid
	}
	tok, err := fakecore.Sign(method, key, header, claims)
	if err != nil {
		return "", fmt.Errorf("nextidentitytest: %w", err)
	}
	return tok, nil
}

// audience returns the "aud" claim, or its first element when it is an array.
func audience(claims map[string]any) string {
	switch a := claims["aud"].(type) {
	case string:
		return a
	case []string:
		if len(a) > 0 {
			return a[0]
		}
	case []any:
		if len(a) > 0 {
			s, _ := a[0].(string)
			return s
		}
	}
	return ""
}

// keyFunc resolves the verification key of a token this server signed, for
// id_token_hint. HS256 tokens are verified with the secret of their audience.
func (s *Server) keyFunc(t *jwt.Token) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch t.Method.Alg() {
	case "HS256":
		claims, _ := t.Claims.(jwt.MapClaims)
		if c, ok := s.clients[audience(claims)]; ok && c.Secret != "" {
			return []byte(c.Secret), nil
		}
	case "RS256":
		for _, k := range s.rsaKeys {
			if k.kid == t.Header["kid"] {
				return &k.key.PublicKey, nil
			}
		}
	case "ES256":
		for _, k := range s.ecKeys {
			if k.kid == t.Header["kid"] {
				return &k.key.PublicKey, nil
			}
		}
	}
	return nil, errors.New("unknown key")
}

func (s *Server) jwksLocked() []fakecore.JWK {
	var out []fakecore.JWK
	for i := len(s.rsaKeys) - 1; i >= 0; i-- {
		k := s.rsaKeys[i]
		out = append(out, fakecore.MustPublicJWK(&k.key.PublicKey, k.kid, "RS256", "sig"))
	}
	for i := len(s.ecKeys) - 1; i >= 0; i-- {
		k := s.ecKeys[i]
		out = append(out, fakecore.MustPublicJWK(&k.key.PublicKey, k.kid, "ES256", "sig"))
	}
	return out
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	s.mu.Lock()
	keys := s.jwksLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// discoveryDocument is the provider's OpenID configuration.
type discoveryDocument struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserInfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	AuthorizationResponseISSParameter bool     `json:"authorization_response_iss_parameter_supported"`
	// Back-channel logout is not documented by Next Identity; the fake
	// supports it as the specification says (see backchannel.go).
	BackChannelLogoutSupported        bool `json:"backchannel_logout_supported"`
	BackChannelLogoutSessionSupported bool `json:"backchannel_logout_session_supported"`
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	writeJSON(w, http.StatusOK, discoveryDocument{
		Issuer:                            s.issuer,
		AuthorizationEndpoint:             s.endpointURL(EndpointAuthorize),
		TokenEndpoint:                     s.endpointURL(EndpointToken),
		UserInfoEndpoint:                  s.endpointURL(EndpointUserInfo),
		JWKSURI:                           s.endpointURL(EndpointJWKS),
		EndSessionEndpoint:                s.endpointURL(EndpointEndSession),
		IntrospectionEndpoint:             s.endpointURL(EndpointIntrospect),
		RevocationEndpoint:                s.endpointURL(EndpointRevoke),
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token", "client_credentials"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256", "HS256", "ES256"},
		ScopesSupported:                   []string{"openid", "profile", "email", "phone", "address", "offline_access"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{
			"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
			"name", "given_name", "family_name", "email", "email_verified",
			"phone_number", "phone_number_verified", "locale", "updated_at",
		},
		AuthorizationResponseISSParameter: true,
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	})
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeRawJSON(w, http.StatusMethodNotAllowed, bodyInvalidRequest)
}
