package main

import (
	"context"
	"io"
	"net/http"
	"strings"
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
