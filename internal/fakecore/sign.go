package fakecore

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"

	"github.com/golang-jwt/jwt/v5"
)

// errNoKey is returned by Sign when the signing key is missing.
var errNoKey = errors.New("fakecore: no signing key")

// Sign signs claims (copied, never changed) with method and key as a
// compact JWS. The header starts as {"alg": ..., "typ": "JWT"}; header then
// sets parameters, a nil value deleting one (e.g. {"typ": nil, "kid": k}).
func Sign(method jwt.SigningMethod, key any, header, claims map[string]any) (string, error) {
	if method == nil {
		return "", fmt.Errorf("fakecore: no signing method")
	}
	if key == nil {
		return "", errNoKey
	}
	tok := jwt.NewWithClaims(method, jwt.MapClaims(maps.Clone(claims)))
	for h, v := range header {
		if v == nil {
			delete(tok.Header, h)
		} else {
			tok.Header[h] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("fakecore: signing with %s: %w", method.Alg(), err)
	}
	return s, nil
}

// AtHash is the OpenID Connect at_hash of an access token for a SHA-256
// based algorithm (RS256, PS256, ES256, HS256): the left half of its hash,
// base64url-encoded (OpenID Connect Core section 3.1.3.6).
func AtHash(accessToken string) string {
	h := sha256.Sum256([]byte(accessToken))
	return b64(h[:len(h)/2])
}
