package redisstore

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
)

// Sessions are stored in nihttp's binary encoding; values the previous
// version stored as JSON still decode, and anything else is refused.
func TestSessionCodec(t *testing.T) {
	s := storetest.NewSession(t, "user-1", "sid-1")
	data, err := encodeSession(s)
	require.NoError(t, err)
	require.Equal(t, byte(1), data[0], "the binary encoding's version byte")
	old, err := json.Marshal(s)
	require.NoError(t, err)
	for name, v := range map[string][]byte{"binary": data, "JSON of the previous version": old} {
		got := nihttp.Session{StoreSecret: "kept"}
		require.NoError(t, decodeSession(v, &got), name)
		storetest.RequireSameSession(t, s, &got)
		require.Equal(t, nihttp.StoreSecret("kept"), got.StoreSecret, "%s: the secret comes from the cookie, not the value", name)
	}
	var got nihttp.Session
	require.Error(t, decodeSession(data[:len(data)-1], &got))
	require.Error(t, decodeSession([]byte{}, &got))
	require.Error(t, decodeSession([]byte("{"), &got))
}
