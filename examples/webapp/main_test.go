package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// TestRunWithRedis: NEXTIDENTITY_REDIS_URL puts sessions in Redis; the
// app starts, serves, and mounts the events endpoint for the embedded
// provider's key.
func TestRunWithRedis(t *testing.T) {
	addr := redistest.Start(t)
	base, stop := runAppWith(t, map[string]string{"NEXTIDENTITY_REDIS_URL": "redis://" + addr + "/0"})
	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, err = http.Post(base+"/events", "application/jwt", strings.NewReader("not-a-jwt"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "the events endpoint is mounted and refuses a bad event")

	resp, err = http.PostForm(base+"/backchannel-logout", url.Values{"logout_token": {"not-a-jwt"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "back-channel logout is mounted with the Redis store")
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, stop())
}

func TestRunRefusesBadRedisURL(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"},
		func(k string) string {
			if k == "NEXTIDENTITY_REDIS_URL" {
				return "http://not-redis"
			}
			return ""
		}, io.Discard, nil)
	require.ErrorContains(t, err, "NEXTIDENTITY_REDIS_URL")
}

// TestNoBackChannelLogoutOnCookieSessions: the cookie store keeps nothing
// on the server to end, so the endpoint is not mounted.
func TestNoBackChannelLogoutOnCookieSessions(t *testing.T) {
	base, _ := runApp(t)
	resp, err := http.PostForm(base+"/backchannel-logout", url.Values{"logout_token": {"x"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestHelpExitsZero: -h prints the usage with every flag and is not an
// error (main exits 0).
func TestHelpExitsZero(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out, nil)
	require.NoError(t, err)
	for _, want := range []string{"Usage:", "-addr", "-v", "NEXTIDENTITY_COOKIE_KEY"} {
		require.Contains(t, out.String(), want)
	}
}

// TestAddressInUseHintsAtAddr: a second instance on the same address says
// what to do, not only "address already in use".
func TestAddressInUseHintsAtAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = run(context.Background(), []string{"-addr", ln.Addr().String()}, func(string) string { return "" }, io.Discard, nil)
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	require.ErrorContains(t, err, "-addr 127.0.0.1:9090")
}

// TestFakeDefaultsWorkAsPrinted: the variables `nextidentity fake` prints
// (its default client, whose loopback redirect URI has no port) start the
// app on the redirect URL's port, and a user signs in and out through it.
// The fake accepts a loopback redirect URI on any port (RFC 8252 §7.3), so
// the test picks a free one rather than the printed 8080.
func TestFakeDefaultsWorkAsPrinted(t *testing.T) {
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer provider.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	env := map[string]string{
		"NEXTIDENTITY_ISSUER":        provider.Issuer(),
		"NEXTIDENTITY_CLIENT_ID":     nextidentitytest.DefaultClientID,
		"NEXTIDENTITY_CLIENT_SECRET": nextidentitytest.DefaultClientSecret,
		"NEXTIDENTITY_REDIRECT_URL":  fmt.Sprintf("http://127.0.0.1:%d/callback", port),
	}
	ctx, cancel := context.WithCancel(t.Context())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, ready) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	require.Equal(t, fmt.Sprintf("http://127.0.0.1:%d", port), base)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(base + "/login?return_to=%2Fprofile")
	require.NoError(t, err)
	resp.Body.Close()
	q, err := provider.Login(t.Context(), resp.Header.Get("Location"), nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	resp, err = hc.Get(base + "/callback?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "/profile", resp.Header.Get("Location"))
	resp, err = hc.Get(base + "/profile")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), nextidentitytest.DefaultUserEmail)

	// Logout's end-session redirect to the app's /signed-out is accepted.
	req, _ := http.NewRequest(http.MethodPost, base+"/logout", nil)
	req.Header.Set("Origin", base)
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	loc, _, err := provider.Browse(t.Context(), resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, base+"/signed-out", loc.Scheme+"://"+loc.Host+loc.Path)
	cancel()
	require.NoError(t, <-done)
}
