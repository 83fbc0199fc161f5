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

func TestStartClusterServesEverySlotAndRefusesCrossSlot(t *testing.T) {
	addr := StartCluster(t)
	info, err := command(addr, "CLUSTER INFO")
	require.NoError(t, err)
	require.Contains(t, info, "cluster_slots_assigned:16384")
	_, err = command(addr, "SET a 1")
	require.NoError(t, err)
	_, err = command(addr, "MSET a 1 b 2") // "a" and "b" hash to different slots
	require.ErrorContains(t, err, "CROSSSLOT")
	_, err = command(addr, `EVAL "return redis.call('GET','b')" 1 a`)
	require.Error(t, err, "a script may not touch a key of another slot than its declared ones")
}

func TestStartSentinelKnowsThePrimary(t *testing.T) {
	primary := Start(t)
	sentinel := StartSentinel(t, primary, "mymaster")
	require.NoError(t, ping(sentinel))
	info, err := command(sentinel, "INFO sentinel")
	require.NoError(t, err)
	require.Contains(t, info, "name=mymaster,status=ok,address="+primary)
}
