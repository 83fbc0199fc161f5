package fakecore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// RSABits is the size of the RSA keys the fakes generate.
const RSABits = 2048

// GenerateRSA returns a new RSABits-bit RSA key. It panics if the system's
// random source fails, which Go's crypto/rand never reports on supported
// platforms.
func GenerateRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, RSABits)
	if err != nil {
		panic(fmt.Sprintf("fakecore: generating an RSA key: %v", err))
	}
	return k
}

// GenerateEC returns a new P-256 ECDSA key (ES256). It panics like
// GenerateRSA.
func GenerateEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("fakecore: generating an EC key: %v", err))
	}
	return k
}

// GenerateEd25519 returns a new Ed25519 key (EdDSA). It panics like
// GenerateRSA.
func GenerateEd25519() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("fakecore: generating an Ed25519 key: %v", err))
	}
	return k
}
