package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// testConcurrent has workers use the store at once (run it under -race):
// each works on sessions of its own user, all replace one shared session,
// and all contend for one lock, which at most one may hold at a time.
func testConcurrent(t *testing.T, st nihttp.ServerStore) {
	const workers, rounds = 8, 25
	ctx := context.Background()
	shared := NewSession(t, "user-shared", "sid-shared")
	save(t, st, shared, hour)
	lockID := NewID(t)

	var holders, acquired atomic.Int32
	sessions := make([][]*nihttp.Session, workers)
	for w := range workers {
		for range rounds {
			sessions[w] = append(sessions[w], NewSession(t, fmt.Sprintf("user-%d", w), fmt.Sprintf("sid-%d", w)))
		}
	}

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			kept := 0
			for i, s := range sessions[w] {
				if _, err := saveValue(ctx, st, s, hour); !assert.NoError(t, err) {
					return
				}
				got, err := st.Load(ctx, Cookie(s.ID))
				if !assert.NoError(t, err) || !assert.Equal(t, s.Subject, got.Subject) {
					return
				}
				if i%2 == 0 {
					if !assert.NoError(t, st.Delete(ctx, s)) {
						return
					}
					_, err = st.Load(ctx, Cookie(s.ID))
					assert.ErrorIs(t, err, nihttp.ErrNoSession)
				} else {
					kept++
				}

				mine := *shared
				mine.Token = NewToken(t, fmt.Sprintf("writer-%d-%d", w, i), "sid-shared")
				_, err = saveValue(ctx, st, &mine, hour)
				assert.NoError(t, err)
				got, err = st.Load(ctx, Cookie(shared.ID))
				if assert.NoError(t, err) {
					assert.Equal(t, shared.ID, got.ID)
				}

				unlock, err := st.Lock(ctx, lockID, hour)
				switch {
				case err == nil:
					acquired.Add(1)
					assert.Equal(t, int32(1), holders.Add(1), "two holders of one lock")
					holders.Add(-1)
					unlock()
				case !errors.Is(err, nihttp.ErrLocked):
					assert.NoError(t, err)
				}
			}
			n, err := st.EndSessions(ctx, fmt.Sprintf("user-%d", w), "")
			assert.NoError(t, err)
			assert.Equal(t, kept, n, "worker %d", w)
		})
	}
	wg.Wait()
	require.Positive(t, acquired.Load())
	requireGone(t, st, sessions[0][1].ID)
	got, err := st.Load(ctx, Cookie(shared.ID))
	require.NoError(t, err)
	require.Contains(t, got.Token.AccessToken, "at-writer-")
}
