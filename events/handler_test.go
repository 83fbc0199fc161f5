package events_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/events"
)

// logBuffer is a log destination safe for the handler's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// handlerEnv is an events endpoint whose events are signed by rsaKey.
type handlerEnv struct {
	jwks *jwksServer
	h    *events.EventHandler
	srv  *httptest.Server
	log  *logBuffer
}

func newHandlerEnv(t *testing.T, opts events.HandlerOptions, fn func(context.Context, *events.Event) error) *handlerEnv {
	t.Helper()
	env := &handlerEnv{jwks: newJWKSServer(t, http.StatusOK, jwkOf("k1", rsaKey())), log: &logBuffer{}}
	v := newVerifier(t, events.Config{AllowedJKU: []string{env.jwks.jwksURL()}, MaxEventBytes: 4096})
	opts.Logger = slog.New(slog.NewTextHandler(env.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env.h = events.NewHandler(v, fn, opts)
	env.srv = httptest.NewServer(env.h)
	t.Cleanup(env.srv.Close)
	return env
}

func (env *handlerEnv) event(t *testing.T, claims map[string]any) []byte {
	return sign(t, jwt.SigningMethodRS256, rsaKey(), rsHeader(env.jwks.jwksURL()), claims)
}

func (env *handlerEnv) post(t *testing.T, body []byte) int {
	t.Helper()
	resp, err := env.srv.Client().Post(env.srv.URL, "application/jwt", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// postNoFail is post for other goroutines than the test's: it reports a
// transport error as status 0 instead of stopping the test.
func (env *handlerEnv) postNoFail(t *testing.T, body []byte) int {
	resp, err := env.srv.Client().Post(env.srv.URL, "application/jwt", bytes.NewReader(body))
	if !assert.NoError(t, err) {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// wait lets every started fn finish.
func (env *handlerEnv) wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, env.h.Wait(ctx))
}

func TestHandlerStatuses(t *testing.T) {
	var calls atomic.Int32
	env := newHandlerEnv(t, events.HandlerOptions{}, func(context.Context, *events.Event) error {
		calls.Add(1)
		return nil
	})
	valid := env.event(t, validClaims())
	forged := sign(t, jwt.SigningMethodRS256, otherRSAKey(), rsHeader(env.jwks.jwksURL()), validClaims())

	require.Equal(t, http.StatusBadRequest, env.post(t, forged))
	require.Equal(t, http.StatusBadRequest, env.post(t, []byte("not a jwt")))
	require.Equal(t, http.StatusRequestEntityTooLarge, env.post(t, make([]byte, 4097)))

	// A chunked body has no Content-Length: the bounded read catches it.
	resp, err := env.srv.Client().Post(env.srv.URL, "application/jwt", io.MultiReader(strings.NewReader(strings.Repeat("a", 5000))))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodHead} {
		req, err := http.NewRequest(m, env.srv.URL, bytes.NewReader(valid))
		require.NoError(t, err)
		resp, err := env.srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, m)
		require.Equal(t, http.MethodPost, resp.Header.Get("Allow"))
	}
	env.wait(t)
	require.Zero(t, calls.Load(), "fn ran for a refused delivery")
	require.Contains(t, env.log.String(), "delivery refused")

	require.Equal(t, http.StatusOK, env.post(t, valid))
	env.wait(t)
	require.EqualValues(t, 1, calls.Load())
}

func TestHandlerDropsDuplicates(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	env := newHandlerEnv(t, events.HandlerOptions{}, func(_ context.Context, e *events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen[e.ID]++
		return nil
	})
	first := env.event(t, validClaims())
	second := validClaims()
	second["jti"] = "evt-2"

	// A retry repeats the JWT; a re-signed copy keeps the jti.
	resigned := validClaims()
	resigned["iat"] = testNow.Add(-time.Second).Unix()
	for _, body := range [][]byte{first, first, env.event(t, resigned), env.event(t, second), first} {
		require.Equal(t, http.StatusOK, env.post(t, body), "duplicates are acknowledged too")
	}
	// Concurrent deliveries of one new event: fn runs once.
	third := validClaims()
	third["jti"] = "evt-3"
	body := env.event(t, third)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { assert.Equal(t, http.StatusOK, env.postNoFail(t, body)) })
	}
	wg.Wait()
	env.wait(t)
	require.Equal(t, map[string]int{"evt-1": 1, "evt-2": 1, "evt-3": 1}, seen)
	require.Contains(t, env.log.String(), "duplicate delivery dropped")
}

func TestHandlerDropsDuplicatesWithoutJTIByBody(t *testing.T) {
	var calls atomic.Int32
	env := newHandlerEnv(t, events.HandlerOptions{}, func(context.Context, *events.Event) error {
		calls.Add(1)
		return nil
	})
	claims := validClaims()
	delete(claims, "jti")
	body := env.event(t, claims)
	claims["iat"] = testNow.Add(-time.Second).Unix()
	other := env.event(t, claims)
	for _, b := range [][]byte{body, body, other, other} {
		require.Equal(t, http.StatusOK, env.post(t, b))
	}
	env.wait(t)
	require.EqualValues(t, 2, calls.Load())
}

// TestHandlerAnswersBeforeFn: the 200 leaves while fn is still running, and
// fn's context survives the request.
func TestHandlerAnswersBeforeFn(t *testing.T) {
	release := make(chan struct{})
	ctxErr := make(chan error, 1)
	var deadline atomic.Bool
	env := newHandlerEnv(t, events.HandlerOptions{FuncTimeout: time.Hour}, func(ctx context.Context, e *events.Event) error {
		_, ok := ctx.Deadline()
		deadline.Store(ok)
		<-release
		ctxErr <- ctx.Err()
		return nil
	})
	require.Equal(t, http.StatusOK, env.post(t, env.event(t, validClaims())))
	close(release)
	env.wait(t)
	require.NoError(t, <-ctxErr, "fn's context ended with the request")
	require.True(t, deadline.Load(), "fn's context has no deadline")
}

func TestHandlerLogsFnFailures(t *testing.T) {
	env := newHandlerEnv(t, events.HandlerOptions{}, func(_ context.Context, e *events.Event) error {
		if e.ID == "boom" {
			panic("boom")
		}
		return errors.New("crm unreachable")
	})
	claims := validClaims()
	require.Equal(t, http.StatusOK, env.post(t, env.event(t, claims)))
	claims["jti"] = "boom"
	require.Equal(t, http.StatusOK, env.post(t, env.event(t, claims)))
	env.wait(t)
	logs := env.log.String()
	require.Contains(t, logs, "crm unreachable")
	require.Contains(t, logs, "handler panicked")
}

// failingCache is a replay cache that is down.
type failingCache struct{}

func (failingCache) FirstSeen(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("redis: connection refused")
}

func TestHandlerUnavailable(t *testing.T) {
	var calls atomic.Int32
	fn := func(context.Context, *events.Event) error { calls.Add(1); return nil }
	env := newHandlerEnv(t, events.HandlerOptions{Replay: failingCache{}}, fn)
	require.Equal(t, http.StatusServiceUnavailable, env.post(t, env.event(t, validClaims())), "the provider retries later")

	down := newJWKSServer(t, http.StatusBadGateway)
	v := newVerifier(t, events.Config{AllowedJKU: []string{down.jwksURL()}})
	srv := httptest.NewServer(events.Handler(v, fn))
	t.Cleanup(srv.Close)
	body := sign(t, jwt.SigningMethodRS256, rsaKey(), rsHeader(down.jwksURL()), validClaims())
	resp, err := srv.Client().Post(srv.URL, "application/jwt", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Zero(t, calls.Load())
}

// TestHandlerSharedReplayCache: two instances sharing a cache run fn once
// for an event delivered to both.
func TestHandlerSharedReplayCache(t *testing.T) {
	shared := nextidentity.NewMemoryReplayCache(100)
	var calls atomic.Int32
	fn := func(context.Context, *events.Event) error { calls.Add(1); return nil }
	a := newHandlerEnv(t, events.HandlerOptions{Replay: shared}, fn)
	b := newHandlerEnv(t, events.HandlerOptions{Replay: shared}, fn)
	body := a.event(t, validClaims())
	require.Equal(t, http.StatusOK, a.post(t, body))
	// b trusts another jku in this test, so give it its own signature of
	// the same event (same jti).
	require.Equal(t, http.StatusOK, b.post(t, b.event(t, validClaims())))
	a.wait(t)
	b.wait(t)
	require.EqualValues(t, 1, calls.Load())
}

func TestHandlerWaitHonoursContext(t *testing.T) {
	release := make(chan struct{})
	env := newHandlerEnv(t, events.HandlerOptions{}, func(context.Context, *events.Event) error {
		<-release
		return nil
	})
	require.Equal(t, http.StatusOK, env.post(t, env.event(t, validClaims())))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, env.h.Wait(ctx), context.Canceled)
	close(release)
	env.wait(t)
}
