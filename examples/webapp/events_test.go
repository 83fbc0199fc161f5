package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/events"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// syncBuffer is a log destination safe for the handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEventsHandlerLogsEachEventOnce(t *testing.T) {
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	t.Cleanup(provider.Close)
	var logs syncBuffer
	h, err := newEventsHandler([]string{provider.EventsJWKSURL()}, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	target := httptest.NewServer(h)
	t.Cleanup(target.Close)

	raw, err := provider.SignEvent(map[string]any{
		"account/v1/register": map[string]any{"firstName": "Jane", "email": "jane@example.com"},
	})
	require.NoError(t, err)
	for range 2 { // a delivery and its retry
		status, err := provider.DeliverEvent(context.Background(), target.URL, raw)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	// An event signed by another provider's key, naming its own JWK Set.
	other := nextidentitytest.NewServer(nextidentitytest.Options{})
	t.Cleanup(other.Close)
	status, err := other.SendEvent(context.Background(), target.URL, map[string]any{"account/v1/register": map[string]any{}})
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, status)
	require.Zero(t, other.Requests(nextidentitytest.EndpointEventsJWKS))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.(*events.EventHandler).Wait(ctx))
	out := logs.String()
	require.Equal(t, 1, strings.Count(out, `msg="workflow event"`), out)
	require.Contains(t, out, "account/v1/register")
	require.NotContains(t, out, "jane@example.com", "personal data was logged")
}

func TestEventsHandlerRefusesBadJKU(t *testing.T) {
	for _, jku := range [][]string{nil, {"http://evil.example.com/jwks"}} {
		_, err := newEventsHandler(jku, slog.New(slog.DiscardHandler))
		require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	}
}
