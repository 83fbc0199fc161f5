package nihttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// pausingAnyStore pauses the first Save of a session still holding access
// token pauseAT, on any store, until release is closed.
type pausingAnyStore struct {
	nihttp.SessionStore
	mu       sync.Mutex
	pauseAT  string
	paused   chan struct{}
	release  chan struct{}
	didPause bool
}

func (ps *pausingAnyStore) Load(ctx context.Context, value string) (*nihttp.Session, error) {
	s, err := ps.SessionStore.Load(ctx, value)
	ps.mu.Lock()
	pause := err == nil && !ps.didPause && ps.pauseAT != "" && s.Token != nil && s.Token.AccessToken == ps.pauseAT
	if pause {
		ps.didPause = true
	}
	ps.mu.Unlock()
	if pause {
		close(ps.paused)
		<-ps.release
	}
	return s, err
}

// TestActivityWriteDoesNotUndoRefresh on two instances sharing
// Redis: instance A records activity (slowly) while instance B refreshes;
// A's write puts the spent refresh token back in Redis and the user is
// signed out at the next refresh.
func TestRedisActivityWriteDoesNotUndoRefresh(t *testing.T) {
	var pa *pausingAnyStore
	first := true
	wrapA := func(c *nihttp.Config) {
		if first { // instance A only
			pa = &pausingAnyStore{SessionStore: c.Store, paused: make(chan struct{}), release: make(chan struct{})}
			c.Store = pa
			first = false
		}
	}
	p, apps, _ := startRedisApps(t, redistest.Start(t), 2, wrapA)
	a, bInst, b := apps[0], apps[1], newBrowser(t)
	b.signIn(p, a)
	s0, err := b.sessionOf(a)
	require.NoError(t, err)

	p.clock.Advance(nextidentitytest.AccessTokenLifetime - 31*time.Second)
	pa.mu.Lock()
	pa.pauseAT = s0.Token.AccessToken
	pa.mu.Unlock()
	xDone := make(chan error, 1)
	go func() {
		_, err := a.h.Session(httptest.NewRecorder(), requestWith(b, a))
		xDone <- err
	}()
	<-pa.paused
	p.clock.Advance(2 * time.Second)
	s1, err := bInst.h.Session(httptest.NewRecorder(), requestWith(b, a))
	require.NoError(t, err)
	require.NotEqual(t, s0.Token.AccessToken, s1.Token.AccessToken, "B did not refresh")
	close(pa.release)
	require.NoError(t, <-xDone)

	p.clock.Advance(nextidentitytest.AccessTokenLifetime)
	resp, _ := b.get(bInst.url + "/private/x")
	require.Equal(t, http.StatusOK, resp.StatusCode, "an active user was signed out")
}
