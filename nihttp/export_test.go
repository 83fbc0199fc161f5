package nihttp

import "time"

// Test hooks for package nihttp_test: they let the hostile-input tests
// forge cookies exactly as an attacker holding (or lacking) the keys would.

// LoginCookieNameForTest is the login-state cookie name of state.
func (h *Handlers) LoginCookieNameForTest(state string) string { return h.loginCookieName(state) }

// SealForTest seals v under name with h's first key, valid for ttl.
func (h *Handlers) SealForTest(name string, v any, ttl time.Duration) (string, error) {
	return h.sealer.seal(name, v, ttl)
}

// OpenForTest opens a value sealed under name with h's keys.
func (h *Handlers) OpenForTest(name, sealed string, v any) error {
	return h.sealer.open(name, sealed, 1<<20, v)
}

// NewCookieStoreForTest is the default cookie store for the session
// cookie's default (Secure) name, sealing with keys on now's clock.
func NewCookieStoreForTest(now func() time.Time, keys ...[]byte) (SessionStore, error) {
	s, err := newSealer(now, keys...)
	if err != nil {
		return nil, err
	}
	return &cookieStore{sealer: s, name: "__Host-" + DefaultSessionCookieName, now: now}, nil
}

// SealPayloadForTest seals a raw session payload as the cookie store would.
func SealPayloadForTest(now func() time.Time, key, payload []byte) string {
	s, _ := newSealer(now, key)
	return s.sealBytes("__Host-"+DefaultSessionCookieName, payload, time.Hour)
}

// DecodePayloadForTest decodes a sealed session's payload (after opening).
func DecodePayloadForTest(payload []byte) (*Session, error) { return decodePayload(payload) }

// AppendDeflateForTest and InflateForTest are the cookie store's
// compression.
func AppendDeflateForTest(dst, b []byte) []byte        { return appendDeflate(dst, b) }
func InflateForTest(b []byte, max int) ([]byte, error) { return inflate(b, max) }
