package redistest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStartAnswersAndStopStops(t *testing.T) {
	s := StartServer(t)
	require.NoError(t, ping(s.Addr))
	other := Start(t)
	require.NotEqual(t, s.Addr, other, "each Start gets its own server")
	require.NoError(t, ping(other))

	s.Stop()
	require.Error(t, ping(s.Addr), "a stopped server does not answer")
	s.Stop() // idempotent
	require.NoError(t, ping(other), "stopping one server leaves the other")
}
