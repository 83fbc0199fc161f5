package nihttp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// TestActivityWriteDoesNotUndoRefresh on two instances sharing
// Redis: instance A records activity (slowly) while instance B refreshes;
// A's write puts the spent refresh token back in Redis and the user is
// signed out at the next refresh.
func TestRedisActivityWriteDoesNotUndoRefresh(t *testing.T) {
	var pa *pausingStore
	first := true
	wrapA := func(c *nihttp.Config) {
		if first { // instance A only
			pa = newPausingStore(c.Store)
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
