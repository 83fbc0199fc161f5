package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
)

func lock(t *testing.T, st nihttp.ServerStore, id string, ttl time.Duration) func() {
	t.Helper()
	unlock, err := st.Lock(context.Background(), id, ttl)
	require.NoError(t, err)
	require.NotNil(t, unlock)
	return unlock
}

func requireLocked(t *testing.T, st nihttp.ServerStore, id string) {
	t.Helper()
	unlock, err := st.Lock(context.Background(), id, hour)
	require.ErrorIs(t, err, nihttp.ErrLocked)
	require.Nil(t, unlock)
}

func testLockExclusive(t *testing.T, st nihttp.ServerStore) {
	a, b := NewID(t), NewID(t)
	unlockA := lock(t, st, a, hour)
	requireLocked(t, st, a)
	unlockB := lock(t, st, b, hour) // locks of other sessions are independent
	requireLocked(t, st, b)

	unlockA()
	requireLocked(t, st, b)
	unlockA2 := lock(t, st, a, hour) // unlock released it
	requireLocked(t, st, a)

	unlockA() // a second unlock by the old holder does not release the new one
	requireLocked(t, st, a)
	unlockA2()
	unlockB()
	lock(t, st, a, hour)()
	lock(t, st, b, hour)()
}

func testLockExpiry(t *testing.T, st nihttp.ServerStore) {
	id := NewID(t)
	stale := lock(t, st, id, ShortTTL)
	requireLocked(t, st, id)

	var fresh func()
	require.Eventually(t, func() bool {
		u, err := st.Lock(context.Background(), id, hour)
		if err != nil {
			require.ErrorIs(t, err, nihttp.ErrLocked)
			return false
		}
		fresh = u
		return true
	}, expiryWait, 50*time.Millisecond, "a lock expires after its ttl")

	stale() // the expired holder's unlock must not release the new holder
	requireLocked(t, st, id)
	fresh()
	lock(t, st, id, hour)()
}
