package redisstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// What Redis holds for a session, and what the cookie carries (see the
// package documentation, "What Redis holds"):
//
//	cookie value  <session ID> "." <secret>     secret: secretLen random bytes, base64url
//	key           <prefix> "sess:" <idHash(ID)>
//	value         version (1 byte) | fieldHash(sub) | fieldHash(sid) | nonce (12) | AES-GCM ciphertext and tag
//
// The AES-256-GCM key is HKDF-SHA256-Expand of the secret; the additional data is
// the key's name and the value's header, so a value moved to another key,
// or a header edited, does not open.
const (
	secretLen     = 32
	hashLen       = sha256.Size
	sealVersion   = 0x02
	headerLen     = 1 + 2*hashLen
	nonceLen      = 12
	minSealedLen  = headerLen + nonceLen + 16 // 16: the GCM tag
	cookieSep     = "."
	hkdfInfo      = "nihttp/redisstore session seal v2"
	idHashDomain  = "nihttp/redisstore session id\x00"
	subHashDomain = "nihttp/redisstore subject\x00"
	sidHashDomain = "nihttp/redisstore sid\x00"
)

var (
	b64 = base64.RawURLEncoding.Strict()
	// secretB64Len is the length of a secret in a cookie value.
	secretB64Len = base64.RawURLEncoding.EncodedLen(secretLen)
	// idHashLen is the length of idHash's result.
	idHashLen = base64.RawURLEncoding.EncodedLen(hashLen)
)

// errOpen means a stored value does not open with the cookie's secret: it
// was written under another secret or key, by an older version, or edited.
var errOpen = fmt.Errorf("redisstore: stored session does not open with this cookie: %w", nihttp.ErrNoSession)

// errBadSecret is returned by Save for a Session.StoreSecret this store
// did not write.
var errBadSecret = fmt.Errorf("redisstore: Session.StoreSecret was not written by this store: %w", nihttp.ErrNoSession)

// idHash is the name of session id in Redis (its keys and its index
// members): a one-way hash, so that nothing in Redis gives the ID back.
func idHash(id string) string {
	sum := sha256.Sum256([]byte(idHashDomain + id))
	return b64.EncodeToString(sum[:])
}

// fieldHash is the one-way form of a subject (domain subHashDomain) or a
// provider session ID (sidHashDomain) in index keys and value headers; all
// zeros for "".
func fieldHash(domain, v string) [hashLen]byte {
	if v == "" {
		return [hashLen]byte{}
	}
	return sha256.Sum256([]byte(domain + v))
}

// newSecret returns a fresh session secret as the cookie carries it.
func newSecret() nihttp.StoreSecret {
	b := make([]byte, secretLen)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return nihttp.StoreSecret(b64.EncodeToString(b))
}

// decodeSecret returns the bytes of a secret as the cookie carries it.
func decodeSecret(s string) ([]byte, bool) {
	if len(s) != secretB64Len {
		return nil, false
	}
	b, err := b64.DecodeString(s)
	return b, err == nil && len(b) == secretLen
}

// joinCookie is the cookie value of session id with secret.
func joinCookie(id string, secret nihttp.StoreSecret) string {
	return id + cookieSep + string(secret)
}

// splitCookie parses a cookie value; ok is false for anything joinCookie
// cannot have written (a cookie of the previous version, which carried the
// ID alone, included).
func splitCookie(v string) (id string, secret []byte, encoded string, ok bool) {
	id, encoded, found := strings.Cut(v, cookieSep)
	if !found || !validID(id) {
		return "", nil, "", false
	}
	secret, ok = decodeSecret(encoded)
	return id, secret, encoded, ok
}

// aeadCacheSize bounds aeads: the sealing keys of this many recently used
// sessions are kept, so that a session's loads and saves derive its key
// once (HKDF costs more than AES-GCM opening a whole session).
const aeadCacheSize = 1024

// aeads caches newAEAD by secret. An AES-GCM cipher.AEAD is safe for
// concurrent use. The cache holds nothing a request does not hold: each
// entry opens one session, as its cookie does.
var aeads struct {
	sync.Mutex
	m map[string]cipher.AEAD
}

// aeadFor is newAEAD(secret), from the cache when it is there.
func aeadFor(secret []byte) cipher.AEAD {
	aeads.Lock()
	defer aeads.Unlock()
	if a, ok := aeads.m[string(secret)]; ok {
		return a
	}
	if aeads.m == nil {
		aeads.m = make(map[string]cipher.AEAD)
	}
	if len(aeads.m) >= aeadCacheSize {
		for k := range aeads.m { // drop one: map order is random enough
			delete(aeads.m, k)
			break
		}
	}
	a := newAEAD(secret)
	aeads.m[string(secret)] = a
	return a
}

// newAEAD is AES-256-GCM under the key derived from secret.
func newAEAD(secret []byte) cipher.AEAD {
	// The secret is already a uniformly random key, so HKDF's extract
	// step is skipped and the secret is the pseudorandom key of its expand
	// step (RFC 5869, section 3.3). None of these can fail: HKDF-SHA256
	// expands to 32 bytes, AES takes a 32-byte key, GCM takes AES's block
	// size.
	key, _ := hkdf.Expand(sha256.New, secret, hkdfInfo, 32)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return aead
}

// seal returns the value stored under key for a session whose encoding is
// plain, with the index hashes hsub and hsid in clear in its header (for
// EndSessions's script).
func seal(key string, secret []byte, hsub, hsid [hashLen]byte, plain []byte) []byte {
	aead := aeadFor(secret)
	out := make([]byte, headerLen+nonceLen, headerLen+nonceLen+len(plain)+aead.Overhead())
	out[0] = sealVersion
	copy(out[1:], hsub[:])
	copy(out[1+hashLen:], hsid[:])
	nonce := out[headerLen : headerLen+nonceLen]
	rand.Read(nonce) // never fails (crypto/rand, Go 1.24+)
	return aead.Seal(out, nonce, plain, additionalData(key, out[:headerLen]))
}

// open returns the plain encoding sealed in value under key. It decrypts
// in place: value's ciphertext is overwritten.
func open(key string, secret []byte, value []byte) ([]byte, error) {
	if len(value) < minSealedLen || value[0] != sealVersion {
		return nil, errOpen
	}
	aead := aeadFor(secret)
	nonce, sealed := value[headerLen:headerLen+nonceLen], value[headerLen+nonceLen:]
	plain, err := aead.Open(sealed[:0], nonce, sealed, additionalData(key, value[:headerLen]))
	if err != nil {
		return nil, errOpen
	}
	return plain, nil
}

func additionalData(key string, header []byte) []byte {
	return append([]byte(key), header...)
}

// openSession decodes the session of ID id stored as value under key:
// everything Load does after its GET. It overwrites value. Every failure
// wraps nihttp.ErrNoSession.
func openSession(key, id string, secret []byte, value []byte) (*nihttp.Session, error) {
	if string(value) == tombstone {
		return nil, nihttp.ErrNoSession
	}
	plain, err := open(key, secret, value)
	if err != nil {
		return nil, err
	}
	var sess nihttp.Session
	if err := decodeSession(plain, &sess); err != nil {
		return nil, fmt.Errorf("redisstore: stored session cannot be decoded (%v): %w", err, nihttp.ErrNoSession)
	}
	if sess.ID != id {
		return nil, fmt.Errorf("redisstore: stored session has another ID: %w", nihttp.ErrNoSession)
	}
	return &sess, nil
}
