package fakecore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
)

// JWK is one public key of a JWK Set (RFC 7517, RFC 7518 section 6, RFC
// 8037 for Ed25519). Empty members are left out of its JSON.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// PublicJWK encodes pub, an *rsa.PublicKey, *ecdsa.PublicKey (P-256, P-384
// or P-521) or ed25519.PublicKey, as a JWK with the given kid, alg and use
// (each left out when empty).
func PublicJWK(pub crypto.PublicKey, kid, alg, use string) (JWK, error) {
	k := JWK{Kid: kid, Alg: alg, Use: use}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		k.Kty = "RSA"
		k.N = b64(pub.N.Bytes())
		k.E = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := pub.Bytes() // 0x04 || X || Y, each the curve's size
		if err != nil {
			return JWK{}, fmt.Errorf("fakecore: EC public key: %w", err)
		}
		size := (len(raw) - 1) / 2
		k.Kty = "EC"
		k.Crv = pub.Curve.Params().Name
		k.X, k.Y = b64(raw[1:1+size]), b64(raw[1+size:])
	case ed25519.PublicKey:
		k.Kty, k.Crv, k.X = "OKP", "Ed25519", b64(pub)
	default:
		return JWK{}, fmt.Errorf("fakecore: unsupported public key type %T", pub)
	}
	return k, nil
}

// MustPublicJWK is PublicJWK for keys known to be supported; it panics
// otherwise.
func MustPublicJWK(pub crypto.PublicKey, kid, alg, use string) JWK {
	k, err := PublicJWK(pub, kid, alg, use)
	if err != nil {
		panic(err)
	}
	return k
}

// Map returns k as a JSON object, for tests that edit members.
func (k JWK) Map() map[string]any {
	m := map[string]any{}
	for name, v := range map[string]string{
		"kty": k.Kty, "kid": k.Kid, "use": k.Use, "alg": k.Alg,
		"n": k.N, "e": k.E, "crv": k.Crv, "x": k.X, "y": k.Y,
	} {
		if v != "" {
			m[name] = v
		}
	}
	return m
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
