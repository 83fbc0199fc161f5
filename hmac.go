package nextidentity

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"sync"
)

// hmacVerifiers verify HS256, HS384 and HS512 signatures with the client
// secret. Keying an HMAC (hashing the padded key into its inner and outer
// states) and allocating its buffers took about a tenth of an HS256 ID
// token verification (profiled against internal/bench's hand-written
// floor), so each alg keeps a pool of keyed states that Reset returns to
// the keyed start.
type hmacVerifiers struct {
	pools [3]sync.Pool // HS256, HS384, HS512
}

// keyedMAC is one pooled HMAC with buffers for the signed input (a token
// arrives as a string, and hash.Hash takes bytes) and the sum, so that a
// verification allocates neither.
type keyedMAC struct {
	h   hash.Hash
	in  [512]byte
	sum [64]byte
}

// verify reports whether sig is the HMAC of signed under key for alg
// ("HS256", "HS384" or "HS512"; any other alg is false).
func (v *hmacVerifiers) verify(alg string, key []byte, signed string, sig []byte) bool {
	var i int
	var hf func() hash.Hash
	switch alg {
	case "HS256":
		i, hf = 0, sha256.New
	case "HS384":
		i, hf = 1, sha512.New384
	case "HS512":
		i, hf = 2, sha512.New
	default:
		return false
	}
	m, _ := v.pools[i].Get().(*keyedMAC)
	if m == nil {
		m = &keyedMAC{h: hmac.New(hf, key)}
	} else {
		m.h.Reset()
	}
	defer v.pools[i].Put(m)
	for len(signed) > 0 {
		n := copy(m.in[:], signed)
		m.h.Write(m.in[:n])
		signed = signed[n:]
	}
	return hmac.Equal(m.h.Sum(m.sum[:0]), sig)
}
