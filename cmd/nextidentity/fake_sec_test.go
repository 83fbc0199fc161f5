package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// -revoke-refresh-family, or the config file's field, turns on the fake's
// RFC 9700 refresh token reuse detection; it is off by default.
func TestFakeRevokeRefreshFamily(t *testing.T) {
	info, stop := startFake(t)
	require.False(t, info.RevokeRefreshFamilyOnReuse)
	stop()
	info, stop = startFake(t, "-revoke-refresh-family")
	require.True(t, info.RevokeRefreshFamilyOnReuse)
	stop()

	opts, err := parseFakeConfig(strings.NewReader(`{"revoke_refresh_family_on_reuse": true}`))
	require.NoError(t, err)
	require.True(t, opts.RevokeRefreshFamilyOnReuse)
	opts, err = parseFakeConfig(strings.NewReader(`{}`))
	require.NoError(t, err)
	require.False(t, opts.RevokeRefreshFamilyOnReuse)
}

// On an address other hosts can reach, the fake warns on stderr that it
// serves well-known credentials; on loopback it does not.
func TestFakeWarnsOnNonLoopbackAddress(t *testing.T) {
	_, stop := startFake(t)
	_, stderr := stop()
	require.NotContains(t, stderr, "WARNING")

	_, stop = startFake(t, "-addr", "0.0.0.0:0")
	_, stderr = stop()
	require.Contains(t, stderr, "WARNING: the fake provider listens on 0.0.0.0:")
	require.Contains(t, stderr, "not a loopback address")
	require.Contains(t, stderr, "on every interface")
	require.Contains(t, stderr, "well-known test credentials")
}
