package nihttp

import (
	"bytes"
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

// KeySize is the size of a sealing key (Config.Keys): AES-256.
const KeySize = 32

const sealVersion = 1

var (
	// ErrTampered means a sealed cookie could not be opened with any key:
	// it was modified, forged, sealed under another name, or sealed with a
	// key that has since been retired.
	ErrTampered = errors.New("nihttp: sealed cookie is invalid or was tampered with")
	// ErrExpired means a sealed cookie opened but its lifetime has passed.
	ErrExpired = errors.New("nihttp: sealed cookie has expired")
)

// sealer encrypts and authenticates small values with AES-256-GCM so they
// can be kept in cookies. Values carry their own expiry, and are bound to a
// name (the cookie name) so one cookie cannot be replayed as another.
//
// The first key seals, every key opens. To rotate, put the new key first
// and keep the old one after it until every value sealed with it has
// expired.
type sealer struct {
	aeads []cipher.AEAD
	now   func() time.Time
}

func newSealer(now func() time.Time, keys ...[]byte) (*sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("nihttp: at least one sealing key is required")
	}
	s := &sealer{now: now}
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

// seal encodes v as JSON and seals it under name, valid for ttl. The result
// is URL- and cookie-safe; callers bound its length.
func (s *sealer) seal(name string, v any, ttl time.Duration) (string, error) {
	// Without HTML escaping: "&", "<" and ">" (common in return paths)
	// would each take six bytes of a cookie.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("nihttp: sealing %s: %w", name, err)
	}
	return s.sealBytes(name, bytes.TrimSuffix(buf.Bytes(), []byte("\n")), ttl), nil
}

// sealBytes seals payload under name, valid for ttl.
func (s *sealer) sealBytes(name string, payload []byte, ttl time.Duration) string {
	aead := s.aeads[0]
	// version (1) | nonce | GCM(expiry unix seconds (8) | JSON), AAD = name.
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(payload)), uint64(s.now().Add(ttl).Unix()))
	plain = append(plain, payload...)
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:]) // never fails (crypto/rand, Go 1.24+)
	out = aead.Seal(out, out[1:], plain, []byte(name))
	return base64.RawURLEncoding.EncodeToString(out)
}

// open opens a value sealed under name, at most max bytes long, and decodes
// its JSON into v. It returns an error wrapping ErrTampered when no key
// opens it and ErrExpired when it has expired.
func (s *sealer) open(name, sealed string, max int, v any) error {
	payload, err := s.openBytes(name, sealed, max)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(payload, v); err != nil {
		// Authenticated but undecodable: sealed by this app for another type.
		return fmt.Errorf("%w: %s: %v", ErrTampered, name, err)
	}
	return nil
}

// openBytes opens a value sealed under name, at most max bytes long, and
// returns its payload; errors as open's.
func (s *sealer) openBytes(name, sealed string, max int) ([]byte, error) {
	payload, _, err := s.openExpiry(name, sealed, max)
	return payload, err
}

// openExpiry is openBytes that also returns when the value expires.
func (s *sealer) openExpiry(name, sealed string, max int) ([]byte, time.Time, error) {
	if len(sealed) > max {
		return nil, time.Time{}, fmt.Errorf("%w: %s is too large", ErrTampered, name)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %s is not base64url", ErrTampered, name)
	}
	// Every key is AES-256-GCM, so the layout does not depend on the key.
	ns := s.aeads[0].NonceSize()
	if len(raw) < 1+ns+s.aeads[0].Overhead()+8 || raw[0] != sealVersion {
		return nil, time.Time{}, fmt.Errorf("%w: %s is malformed", ErrTampered, name)
	}
	var plain []byte
	for _, aead := range s.aeads {
		// Not in place: a failed Open overwrites its output, and the next
		// key needs the ciphertext.
		if p, err := aead.Open(nil, raw[1:1+ns], raw[1+ns:], []byte(name)); err == nil {
			plain = p
			break
		}
	}
	if plain == nil {
		return nil, time.Time{}, fmt.Errorf("%w: %s does not open with any key", ErrTampered, name)
	}
	expiry := time.Unix(int64(binary.BigEndian.Uint64(plain[:8])), 0)
	if !s.now().Before(expiry) {
		return nil, time.Time{}, fmt.Errorf("%w: %s expired at %s", ErrExpired, name, expiry.UTC().Format(time.RFC3339))
	}
	return plain[8:], expiry, nil
}
