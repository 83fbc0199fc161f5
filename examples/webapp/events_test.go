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
	h, err := newEventsHandler([]string{provider.EventsJWKSURL()}, nil, slog.New(slog.NewTextHandler(&logs, nil)))
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
	require.NoError(t, h.Close(ctx))
	out := logs.String()
	require.Equal(t, 1, strings.Count(out, `msg="workflow event"`), out)
	require.Contains(t, out, "account/v1/register")
	require.NotContains(t, out, "jane@example.com", "personal data was logged")
}

func TestEventsHandlerRefusesBadJKU(t *testing.T) {
	for _, jku := range [][]string{nil, {"http://evil.example.com/jwks"}} {
		_, err := newEventsHandler(jku, nil, slog.New(slog.DiscardHandler))
		require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	}
}

// TestEventsHandledOnceAcrossInstances: two instances given one replay
// cache (the Redis store in main) log a redelivered event once in all.
func TestEventsHandledOnceAcrossInstances(t *testing.T) {
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	t.Cleanup(provider.Close)
	var logs syncBuffer
	shared := nextidentity.NewMemoryReplayCache(0)
	var targets []string
	var endpoints []*eventsEndpoint
	for range 2 {
		h, err := newEventsHandler([]string{provider.EventsJWKSURL()}, shared, slog.New(slog.NewTextHandler(&logs, nil)))
		require.NoError(t, err)
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		targets = append(targets, ts.URL)
		endpoints = append(endpoints, h)
	}
	raw, err := provider.SignEvent(map[string]any{"account/v1/register": map[string]any{}})
	require.NoError(t, err)
	for _, target := range targets { // delivered to one instance, retried to the other
		status, err := provider.DeliverEvent(context.Background(), target, raw)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, h := range endpoints {
		require.NoError(t, h.Close(ctx))
	}
	require.Equal(t, 1, strings.Count(logs.String(), `msg="workflow event"`), logs.String())
}
