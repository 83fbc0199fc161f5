package redisstore

import (
	"encoding/json"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// encodeSession and decodeSession are the one place where a session becomes
// bytes (before sealing) and back: nihttp's binary session encoding
// (Session.MarshalBinary), which keeps the ID token's claims once and
// decodes without scanning JSON twice. Values the previous version wrote as
// JSON (a leading '{'; the binary form starts with its version byte) are
// still read until they expire. Session.StoreSecret is not encoded: the
// value is sealed under it.
func encodeSession(s *nihttp.Session) ([]byte, error) { return s.MarshalBinary() }

func decodeSession(data []byte, s *nihttp.Session) error {
	if len(data) > 0 && data[0] == '{' {
		return json.Unmarshal(data, s)
	}
	return s.UnmarshalBinary(data)
}
