package nihttp

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSessionCacheIsBounded(t *testing.T) {
	var c sessionCache
	now := time.Now()
	for i := range 3 * sessionCacheSize {
		c.put("value-"+strconv.Itoa(i), &Session{ID: strconv.Itoa(i)}, now.Add(time.Hour))
		require.LessOrEqual(t, len(c.m), sessionCacheSize)
	}
	last := "value-" + strconv.Itoa(3*sessionCacheSize-1)
	got := c.get(last, now)
	require.NotNil(t, got, "the newest entry is there")
	require.Equal(t, strconv.Itoa(3*sessionCacheSize-1), got.ID)
	require.Nil(t, c.get(last, now.Add(time.Hour)), "expired with its seal")
	require.Nil(t, c.get(last, now), "and dropped")
}
