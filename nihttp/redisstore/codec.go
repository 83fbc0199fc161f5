package redisstore

import (
	"encoding/json"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// encodeSession and decodeSession are the one place where a session becomes
// bytes (before sealing) and back. Session.StoreSecret is not encoded: the
// value is sealed under it.
func encodeSession(s *nihttp.Session) ([]byte, error) { return json.Marshal(s) }

func decodeSession(data []byte, s *nihttp.Session) error { return json.Unmarshal(data, s) }
