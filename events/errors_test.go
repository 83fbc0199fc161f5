package events_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/events"
)

// TestSentinelMessagesNamePackage: every sentinel's message starts with the
// package name, and a composed rejection names it once.
func TestSentinelMessagesNamePackage(t *testing.T) {
	for _, s := range []error{
		events.ErrInvalidEvent, events.ErrEventTooLarge, events.ErrMalformedEvent,
		events.ErrJKUNotAllowed, events.ErrMissingKID, events.ErrAlgNotAllowed,
		events.ErrIssuedInFuture, events.ErrKeysUnavailable, events.ErrNoSuchEvent,
		events.ErrInvalidAction,
	} {
		require.True(t, strings.HasPrefix(s.Error(), "events: "), s.Error())
	}
	v, err := events.NewVerifier(events.Config{AllowedJKU: []string{"https://events.example.com/jwks"}, Now: fixedNow})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	_, err = v.Verify(t.Context(), []byte("not.a.jws"))
	require.ErrorIs(t, err, events.ErrInvalidEvent)
	require.ErrorIs(t, err, events.ErrMalformedEvent)
	require.True(t, strings.HasPrefix(err.Error(), "events: "), err.Error())
	require.Equal(t, 1, strings.Count(err.Error(), "events: "), err.Error())
}
