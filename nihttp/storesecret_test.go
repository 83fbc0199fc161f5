package nihttp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// TestStoreSecretIsRedacted: a session's StoreSecret (half of a redisstore
// cookie value) shows in no printed, logged or encoded form of the session.
func TestStoreSecretIsRedacted(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I"
	s := &nihttp.Session{ID: "SESSIONID", Subject: "user-1", StoreSecret: secret}

	var out bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&out, f+"\n", s)
		fmt.Fprintf(&out, f+"\n", *s)
		fmt.Fprintf(&out, f+"\n", s.StoreSecret)
	}
	slog.New(slog.NewTextHandler(&out, nil)).Info("session", "s", s, "secret", s.StoreSecret, "v", *s)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("session", "s", s, "secret", s.StoreSecret, "v", *s)
	data, err := json.Marshal(s)
	require.NoError(t, err)
	out.Write(data)

	require.Contains(t, out.String(), "SESSIONID")
	require.Contains(t, out.String(), "[redacted]")
	require.NotContains(t, out.String(), secret)
	require.NotContains(t, out.String(), fmt.Sprintf("%x", secret))
}
