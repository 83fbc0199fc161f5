package nextidentitytest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/events"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

var registerEvent = map[string]any{
	"account/v1/register": map[string]any{"firstName": "Jane", "email": "jane@example.com"},
}

func TestSignEventHeaderAndPayload(t *testing.T) {
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
	raw, err := srv.SignEvent(registerEvent)
	require.NoError(t, err)

	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3)
	var hdr map[string]any
	decodeSegment(t, parts[0], &hdr)
	require.Equal(t, "RS256", hdr["alg"])
	require.Equal(t, srv.EventsJWKSURL(), hdr["jku"])
	require.NotEmpty(t, hdr["kid"])
	require.NotContains(t, hdr, "typ")
	require.NotContains(t, srv.KeyIDs(), hdr["kid"], "events are signed with their own key, not the ID token keys")

	var claims map[string]any
	decodeSegment(t, parts[1], &claims)
	require.Equal(t, srv.Issuer(), claims["iss"])
	require.EqualValues(t, clk.Now().Unix(), claims["iat"])
	require.NotEmpty(t, claims["jti"])
	require.Equal(t, map[string]any{"firstName": "Jane", "email": "jane@example.com"},
		claims["events"].(map[string]any)["account/v1/register"])

	again, err := srv.SignEvent(registerEvent)
	require.NoError(t, err)
	var claims2 map[string]any
	decodeSegment(t, strings.Split(again, ".")[1], &claims2)
	require.NotEqual(t, claims["jti"], claims2["jti"], "each event has a fresh jti")

	_, err = srv.SignEvent(nil)
	require.Error(t, err)
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

func TestEventsJWKSEndpoint(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	resp, err := srv.HTTPClient().Post(srv.EventsJWKSURL(), "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointEventsJWKS))
}

// eventTarget is an app's events endpoint counting fn's runs by jti.
type eventTarget struct {
	*httptest.Server
	h    *events.EventHandler
	mu   sync.Mutex
	runs map[string]int
}

func newEventTarget(t *testing.T, srv *nextidentitytest.Server) *eventTarget {
	t.Helper()
	v, err := events.NewVerifier(events.Config{AllowedJKU: []string{srv.EventsJWKSURL()}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	tg := &eventTarget{runs: map[string]int{}}
	tg.h = events.NewHandler(v, func(_ context.Context, e *events.Event) error {
		tg.mu.Lock()
		defer tg.mu.Unlock()
		tg.runs[e.ID]++
		return nil
	}, events.HandlerOptions{})
	tg.Server = httptest.NewServer(tg.h)
	t.Cleanup(tg.Close)
	return tg
}

func (tg *eventTarget) settled(t *testing.T) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, tg.h.Wait(ctx))
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := map[string]int{}
	for k, v := range tg.runs {
		out[k] = v
	}
	return out
}

func TestSendEventDuplicatesRunOnce(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	tg := newEventTarget(t, srv)

	status, err := srv.SendEvent(context.Background(), tg.URL, registerEvent)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	raw, err := srv.SignEvent(registerEvent)
	require.NoError(t, err)
	for range 3 {
		status, err := srv.DeliverEvent(context.Background(), tg.URL, raw)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	runs := tg.settled(t)
	require.Len(t, runs, 2, "two distinct events")
	for jti, n := range runs {
		require.Equal(t, 1, n, jti)
	}
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointEventsJWKS), "the JWKS is cached")
}

// TestDeliverEventRetry: the target is down for the first attempt; the
// provider's retry of the same JWT is then handled once.
func TestDeliverEventRetry(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	tg := newEventTarget(t, srv)
	var down atomic.Bool
	down.Store(true)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "deploying", http.StatusServiceUnavailable)
			return
		}
		tg.h.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	raw, err := srv.SignEvent(registerEvent)
	require.NoError(t, err)
	status, err := srv.DeliverEvent(context.Background(), front.URL, raw)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, status, "a failed attempt, to be retried")

	down.Store(false)
	for range 2 { // the retry, and a later retry the provider had queued
		status, err = srv.DeliverEvent(context.Background(), front.URL, raw)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
	}
	runs := tg.settled(t)
	require.Len(t, runs, 1)
	for _, n := range runs {
		require.Equal(t, 1, n)
	}
}

func TestDeliverEventReportsFailures(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/", http.StatusFound))
	t.Cleanup(redirect.Close)
	status, err := srv.SendEvent(context.Background(), redirect.URL, registerEvent)
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, status, "redirects are reported, not followed")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = srv.SendEvent(ctx, redirect.URL, registerEvent)
	require.ErrorIs(t, err, context.Canceled)

	_, err = srv.DeliverEvent(context.Background(), "://bad", "x")
	require.Error(t, err)
}
