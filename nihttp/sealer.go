package nihttp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// KeySize is the size of a sealing key: AES-256.
const KeySize = 32

// MaxSealedSize is the largest sealed value Seal produces and Open accepts.
// Browsers drop cookies larger than about 4096 bytes, name and attributes
// included, so a larger value would be lost silently.
const MaxSealedSize = 3800

const sealVersion = 1

var (
	// ErrTampered means a sealed value could not be opened with any key: it
	// was modified, forged, sealed under another name, or sealed with a key
	// that has since been retired.
	ErrTampered = errors.New("nihttp: sealed value is invalid or was tampered with")
	// ErrExpired means a sealed value opened but its lifetime has passed.
	ErrExpired = errors.New("nihttp: sealed value has expired")
	// ErrTooLarge means a value is too large to seal into a cookie.
	ErrTooLarge = errors.New("nihttp: sealed value is too large for a cookie")
)

// A Sealer encrypts and authenticates small values with AES-256-GCM so they
// can be kept in cookies. Values carry their own expiry, and are bound to a
// name (the cookie name) so one cookie cannot be replayed as another.
//
// A Sealer has one or more keys: the first seals, every key opens. To rotate,
// put the new key first and keep the old one after it until every value
// sealed with it has expired.
type Sealer struct {
	aeads []cipher.AEAD
}

// NewSealer returns a Sealer for keys, each KeySize random bytes (for
// example from crypto/rand, or decoded from a secret store). The first key
// seals; all of them open.
func NewSealer(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("nihttp: NewSealer needs at least one key")
	}
	s := &Sealer{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("nihttp: sealing key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("nihttp: sealing key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("nihttp: sealing key %d: %w", i, err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// Seal encodes v as JSON and seals it under name, valid for ttl. The result
// is URL- and cookie-safe.
func (s *Sealer) Seal(name string, v any, ttl time.Duration) (string, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("nihttp: sealing %s: %w", name, err)
	}
	aead := s.aeads[0]
	// version (1) | nonce | GCM(expiry unix seconds (8) | JSON), AAD = name.
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(payload)), uint64(time.Now().Add(ttl).Unix()))
	plain = append(plain, payload...)
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return "", fmt.Errorf("nihttp: sealing %s: %w", name, err)
	}
	out = aead.Seal(out, out[1:], plain, []byte(name))
	sealed := base64.RawURLEncoding.EncodeToString(out)
	if len(sealed) > MaxSealedSize {
		return "", fmt.Errorf("%w: %s is %d bytes sealed, limit %d", ErrTooLarge, name, len(sealed), MaxSealedSize)
	}
	return sealed, nil
}

// Open opens a value sealed under name and decodes its JSON into v. It
// returns an error wrapping ErrTampered when no key opens it and ErrExpired
// when it has expired.
func (s *Sealer) Open(name, sealed string, v any) error {
	if len(sealed) > MaxSealedSize {
		return fmt.Errorf("%w: %s is too large", ErrTampered, name)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return fmt.Errorf("%w: %s is not base64url", ErrTampered, name)
	}
	// Every key is AES-256-GCM, so the layout does not depend on the key.
	ns := s.aeads[0].NonceSize()
	if len(raw) < 1+ns+s.aeads[0].Overhead()+8 || raw[0] != sealVersion {
		return fmt.Errorf("%w: %s is malformed", ErrTampered, name)
	}
	var plain []byte
	for _, aead := range s.aeads {
		if p, err := aead.Open(nil, raw[1:1+ns], raw[1+ns:], []byte(name)); err == nil {
			plain = p
			break
		}
	}
	if plain == nil {
		return fmt.Errorf("%w: %s does not open with any key", ErrTampered, name)
	}
	expiry := time.Unix(int64(binary.BigEndian.Uint64(plain[:8])), 0)
	if !time.Now().Before(expiry) {
		return fmt.Errorf("%w: %s expired at %s", ErrExpired, name, expiry.UTC().Format(time.RFC3339))
	}
	if err := json.Unmarshal(plain[8:], v); err != nil {
		// Authenticated but undecodable: sealed by this app for another type.
		return fmt.Errorf("%w: %s: %v", ErrTampered, name, err)
	}
	return nil
}
