package nextidentitytest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomToken returns n lowercase alphanumerics, uniformly distributed, like
// the provider's codes and tokens ("rb5bzkygqs5ahevp").
func randomToken(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+8)
	for len(out) < n {
		rand.Read(buf) // never fails (crypto/rand, Go 1.24+)
		for _, c := range buf {
			// 252 = 7*36: reject the top values to avoid modulo bias.
			if c < 252 && len(out) < n {
				out = append(out, tokenAlphabet[c%36])
			}
		}
	}
	return string(out)
}

// randomID returns an unguessable URL-safe identifier.
func randomID() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
