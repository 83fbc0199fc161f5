package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
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
