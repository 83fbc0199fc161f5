package events_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/events"
)

// ttlCache is a memory replay cache that records the ttl it is asked for.
type ttlCache struct {
	nextidentity.ReplayCache
	mu   sync.Mutex
	ttls []time.Duration
}

func (c *ttlCache) FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	c.mu.Lock()
	c.ttls = append(c.ttls, ttl)
	c.mu.Unlock()
	return c.ReplayCache.FirstSeen(ctx, id, ttl)
}

// By default the handler refuses an event issued longer ago than the replay
// memory (ReplayTTL): a captured copy of it could no longer be recognised.
// An event without iat is accepted. With a Verifier MaxAge, MaxAge is the
// limit, and the replay memory grows to cover it.
func TestHandlerRefusesEventsOlderThanReplayMemory(t *testing.T) {
	leeway := nextidentity.DefaultLeeway
	tests := []struct {
		name      string
		maxAge    time.Duration
		replayTTL time.Duration
		age       time.Duration // -1: no iat
		want      int
		remember  time.Duration
	}{
		{"fresh", 0, 0, time.Minute, http.StatusOK, events.DefaultReplayTTL + 2*leeway + time.Second},
		{"just inside the default", 0, 0, events.DefaultReplayTTL + leeway, http.StatusOK, events.DefaultReplayTTL + 2*leeway + time.Second},
		{"older than the default ReplayTTL", 0, 0, events.DefaultReplayTTL + leeway + time.Second, http.StatusBadRequest, 0},
		{"a day old", 0, 0, 24 * time.Hour, http.StatusBadRequest, 0},
		{"no iat", 0, 0, -1, http.StatusOK, events.DefaultReplayTTL + 2*leeway + time.Second},
		{"older than a short ReplayTTL", 0, 10 * time.Minute, 20 * time.Minute, http.StatusBadRequest, 0},
		{"MaxAge longer than ReplayTTL", 3 * time.Hour, 0, 2 * time.Hour, http.StatusOK, 3*time.Hour + 2*leeway + time.Second},
		{"older than MaxAge", 3 * time.Hour, 0, 4 * time.Hour, http.StatusBadRequest, 0},
		{"MaxAge refuses no iat", 3 * time.Hour, 0, -1, http.StatusBadRequest, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jwks := newJWKSServer(t, http.StatusOK, jwkOf("k1", rsaKey()))
			v := newVerifier(t, events.Config{AllowedJKU: []string{jwks.jwksURL()}, MaxAge: tc.maxAge})
			cache := &ttlCache{ReplayCache: nextidentity.NewMemoryReplayCache(0)}
			log := &logBuffer{}
			h := events.NewHandler(v, func(context.Context, *events.Event) error { return nil },
				events.HandlerOptions{Replay: cache, ReplayTTL: tc.replayTTL, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			claims := validClaims()
			if tc.age < 0 {
				delete(claims, "iat")
			} else {
				claims["iat"] = testNow.Add(-tc.age).Unix()
			}
			body := sign(t, jwt.SigningMethodRS256, rsaKey(), rsHeader(jwks.jwksURL()), claims)
			resp, err := srv.Client().Post(srv.URL, "application/jwt", bytes.NewReader(body))
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, tc.want, resp.StatusCode, log.String())
			require.NoError(t, h.Wait(t.Context()))
			if tc.want != http.StatusOK {
				require.Contains(t, log.String(), "token expired")
				require.Empty(t, cache.ttls, "a refused event is not recorded")
				return
			}
			require.Equal(t, []time.Duration{tc.remember}, cache.ttls)
		})
	}
}

// dripReader yields one byte per tick until stop is closed.
type dripReader struct {
	tick time.Duration
	stop <-chan struct{}
}

func (d dripReader) Read(p []byte) (int, error) {
	select {
	case <-d.stop:
		return 0, io.EOF
	case <-time.After(d.tick):
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = 'e'
	return 1, nil
}

// A client trickling its body cannot hold the handler: past ReadTimeout it
// gets 408, though the server itself has no read timeout.
func TestHandlerBoundsSlowBody(t *testing.T) {
	jwks := newJWKSServer(t, http.StatusOK, jwkOf("k1", rsaKey()))
	v := newVerifier(t, events.Config{AllowedJKU: []string{jwks.jwksURL()}})
	log := &logBuffer{}
	h := events.NewHandler(v, func(context.Context, *events.Event) error { return nil },
		events.HandlerOptions{ReadTimeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })

	start := time.Now()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, dripReader{tick: 50 * time.Millisecond, stop: stop})
	require.NoError(t, err)
	client := srv.Client()
	client.Timeout = 5 * time.Second
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	require.Less(t, time.Since(start), 4*time.Second)
	require.Contains(t, log.String(), "ReadTimeout")

	// A body sent at once is unaffected, on a new connection or not.
	body := sign(t, jwt.SigningMethodRS256, rsaKey(), rsHeader(jwks.jwksURL()), validClaims())
	for range 2 {
		resp, err = client.Post(srv.URL, "application/jwt", bytes.NewReader(body))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	require.NoError(t, h.Wait(t.Context()))
}
