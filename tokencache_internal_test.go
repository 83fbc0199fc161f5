package nextidentity

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTokenCacheBounded(t *testing.T) {
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	tc := newTokenCache(3, clock)
	for i := range 10 {
		tc.put(fmt.Sprint("tok-", i), &AccessToken{Subject: fmt.Sprint(i)}, now.Add(time.Hour), nil)
		require.LessOrEqual(t, tc.len(), 3)
	}
	// The last one put is always kept.
	at, ok := tc.get(t.Context(), nil, "tok-9")
	require.True(t, ok)
	require.Equal(t, "9", at.Subject)
}

func TestTokenCacheExpiredGoFirst(t *testing.T) {
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	tc := newTokenCache(2, clock)
	tc.put("live", &AccessToken{}, now.Add(time.Hour), nil)
	tc.put("dying", &AccessToken{}, now.Add(time.Second), nil)
	now = now.Add(2 * time.Second)
	tc.put("new", &AccessToken{}, now.Add(time.Hour), nil)
	_, ok := tc.get(t.Context(), nil, "live")
	require.True(t, ok, "the expired entry is evicted, not the live one")
	_, ok = tc.get(t.Context(), nil, "dying")
	require.False(t, ok)
}

func TestTokenCacheOff(t *testing.T) {
	tc := newTokenCache(-1, time.Now)
	tc.put("a", &AccessToken{}, time.Now().Add(time.Hour), nil)
	_, ok := tc.get(t.Context(), nil, "a")
	require.False(t, ok)
	tc.drop("a")
	require.Zero(t, tc.len())
}

func TestTokenCacheDrop(t *testing.T) {
	tc := newTokenCache(0, time.Now)
	tc.put("a", &AccessToken{}, time.Now().Add(time.Hour), nil)
	tc.drop("a")
	_, ok := tc.get(t.Context(), nil, "a")
	require.False(t, ok)
}
