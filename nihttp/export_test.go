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
