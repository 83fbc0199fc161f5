package events

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oidc-kit/nextidentity"
)

// Action is the decision an enrich answer carries.
type Action string

// The actions the provider understands.
const (
	ActionAllow     Action = "allow"
	ActionBlock     Action = "block"
	ActionChallenge Action = "challenge"
)

// ErrInvalidAction is returned by Sign and Respond for an action other than
// ActionAllow, ActionBlock and ActionChallenge.
var ErrInvalidAction = errors.New("events: invalid action")

// ResponderConfig configures a Responder. Issuer and Key are required.
type ResponderConfig struct {
	// Issuer is the "iss" claim of every answer: the name the tenant knows
	// this target by.
	Issuer string
	// Key signs the answers: an *rsa.PrivateKey of at least 2048 bits signs
	// RS256, an *ecdsa.PrivateKey on P-256 signs ES256.
	Key crypto.Signer
	// KeyID is the "kid" of the answers and of the published key. Default:
	// the key's RFC 7638 thumbprint.
	KeyID string
	// ExtraKeys are public keys (RSA of at least 2048 bits, ECDSA P-256)
	// published in the JWK Set next to Key's, each under its RFC 7638
	// thumbprint, but never used to sign. They make rotation safe: publish
	// the next key here and give the tenant the new set; once the tenant has
	// it, make the next key Key.
	ExtraKeys []crypto.PublicKey
	// Now is the clock for "iat"; default time.Now.
	Now func() time.Time
}

// Responder signs the answers to the provider's synchronous enrich steps,
// and publishes the public key the provider verifies them with. It is safe
// for concurrent use.
type Responder struct {
	issuer string
	kid    string
	key    crypto.Signer
	method jwt.SigningMethod
	now    func() time.Time
	jwks   []byte
}

// NewResponder validates cfg and returns a Responder.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	if cfg.Issuer == "" {
		return nil, responderConfigError("Issuer", "is required")
	}
	r := &Responder{issuer: cfg.Issuer, key: cfg.Key, now: cfg.Now}
	if r.now == nil {
		r.now = time.Now
	}
	var (
		pub crypto.PublicKey
		err error
	)
	switch k := cfg.Key.(type) {
	case *rsa.PrivateKey:
		if k != nil {
			pub = &k.PublicKey
		}
	case *ecdsa.PrivateKey:
		if k != nil {
			pub = &k.PublicKey
		}
	case nil:
	default:
		return nil, responderConfigError("Key", "%T is neither *rsa.PrivateKey nor *ecdsa.PrivateKey", cfg.Key)
	}
	if pub == nil {
		return nil, responderConfigError("Key", "is required")
	}
	jwk, method, err := publicJWK(pub)
	if err != nil {
		return nil, responderConfigError("Key", "%v", err)
	}
	r.method = method
	r.kid = cfg.KeyID
	if r.kid == "" {
		r.kid = thumbprint(jwk)
	}
	jwk["kid"], jwk["use"], jwk["alg"] = r.kid, "sig", r.method.Alg()
	set := []map[string]string{jwk}
	for i, pub := range cfg.ExtraKeys {
		extra, method, err := publicJWK(pub)
		if err != nil {
			return nil, responderConfigError(fmt.Sprintf("ExtraKeys[%d]", i), "%v", err)
		}
		extra["kid"], extra["use"], extra["alg"] = thumbprint(extra), "sig", method.Alg()
		set = append(set, extra)
	}
	r.jwks, err = json.Marshal(map[string]any{"keys": set})
	if err != nil {
		return nil, fmt.Errorf("events: encoding the JWK Set: %w", err)
	}
	return r, nil
}

// publicJWK returns the public JWK members of pub (without kid, use, alg)
// and the algorithm it signs with.
func publicJWK(pub crypto.PublicKey) (map[string]string, jwt.SigningMethod, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return nil, nil, errors.New("is a nil RSA key")
		}
		if k.N.BitLen() < 2048 {
			return nil, nil, fmt.Errorf("RSA key of %d bits is below 2048", k.N.BitLen())
		}
		return map[string]string{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}, jwt.SigningMethodRS256, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return nil, nil, errors.New("ECDSA key must be on P-256 (ES256)")
		}
		ec, err := k.ECDH()
		if err != nil {
			return nil, nil, err
		}
		raw := ec.Bytes() // 0x04 || X || Y, 32 bytes each
		return map[string]string{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:65])}, jwt.SigningMethodES256, nil
	}
	return nil, nil, fmt.Errorf("%T is neither an RSA nor an ECDSA public key", pub)
}

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 over the required
// members in lexicographic order, base64url. json.Marshal sorts map keys.
func thumbprint(jwk map[string]string) string {
	req := map[string]string{"kty": jwk["kty"]}
	for _, m := range []string{"n", "e", "crv", "x", "y"} {
		if v, ok := jwk[m]; ok {
			req[m] = v
		}
	}
	b, _ := json.Marshal(req) // a map of strings always encodes
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// KeyID returns the "kid" of the answers.
func (r *Responder) KeyID() string { return r.kid }

// Sign returns an answer JWT: {"iss", "iat", "jti", "action",
// "custom_claims"}, with a fresh random "jti" and "iat" now. customClaims
// may be nil; it is sent as an empty object then.
func (r *Responder) Sign(action Action, customClaims map[string]any) (string, error) {
	switch action {
	case ActionAllow, ActionBlock, ActionChallenge:
	default:
		return "", fmt.Errorf("%w %q (want allow, block or challenge)", ErrInvalidAction, action)
	}
	if customClaims == nil {
		customClaims = map[string]any{}
	}
	tok := jwt.NewWithClaims(r.method, jwt.MapClaims{
		"iss":           r.issuer,
		"iat":           r.now().Unix(),
		"jti":           rand.Text(),
		"action":        string(action),
		"custom_claims": customClaims,
	})
	tok.Header["kid"] = r.kid
	s, err := tok.SignedString(r.key)
	if err != nil {
		return "", fmt.Errorf("events: signing the answer: %w", err)
	}
	return s, nil
}

// Respond signs an answer and writes it as the response: 200, the JWT as
// the body, Content-Type application/jwt. When signing fails it writes 500
// and returns the error.
func (r *Responder) Respond(w http.ResponseWriter, action Action, customClaims map[string]any) error {
	tok, err := r.Sign(action, customClaims)
	if err != nil {
		http.Error(w, "events: cannot sign the answer", http.StatusInternalServerError)
		return err
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(tok))
	return err
}

// JWKS returns the public JWK Set to give the provider, as JSON.
func (r *Responder) JWKS() []byte { return append([]byte(nil), r.jwks...) }

// JWKSHandler serves JWKS at GET and HEAD, for a tenant configured with the
// URL of the set rather than its content.
func (r *Responder) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "events: GET only", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(r.jwks)
	})
}

func responderConfigError(field, format string, args ...any) error {
	return fmt.Errorf("events: %w: ResponderConfig.%s %s", nextidentity.ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}
