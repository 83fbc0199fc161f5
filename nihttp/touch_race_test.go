package nihttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// pausingStore wraps a store: its first Load of a session still holding
// access token pauseAT stops until release is closed, as a request that was
// slow between loading the session and writing it back (a goroutine
// descheduled, a Redis round trip) would.
type pausingStore struct {
	nihttp.SessionStore
	mu       sync.Mutex
	pauseAT  string
	paused   chan struct{} // closed when the paused Load has returned from the store
	release  chan struct{}
	didPause bool
}

func newPausingStore(st nihttp.SessionStore) *pausingStore {
	return &pausingStore{SessionStore: st, paused: make(chan struct{}), release: make(chan struct{})}
}

func (ps *pausingStore) Load(ctx context.Context, value string) (*nihttp.Session, error) {
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

// requestWith builds a request to a carrying the browser's cookies.
func requestWith(b *browser, a *app) *http.Request {
	req := httptest.NewRequest(http.MethodGet, a.url+"/private/x", nil)
	for _, c := range b.cookies(a) {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return req
}

// The once-a-minute activity write (Session's touch) must not write back
// tokens that a concurrent request has just refreshed: the provider has
// rotated the refresh token, so the session the touch restores holds a
// spent refresh token, and its next refresh is refused with invalid_grant,
// which ends the session. A signed-in, active user is signed out.
func TestActivityWriteDoesNotUndoRefresh(t *testing.T) {
	tests := []struct {
		name string
		// refreshNow: the concurrent refresh is the "Refresh now"
		// action (Handlers.Refresh) rather than a due access token.
		refreshNow bool
	}{
		{"due access token", false},
		{"refresh now", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := newPausingStore(nihttp.NewMemoryStore())
			p, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.Store = ps })
			a, b := apps[0], newBrowser(t)
			b.signIn(p, a)
			s0, err := b.sessionOf(a)
			require.NoError(t, err)
			at0 := s0.Token.AccessToken

			// 31 s before the access token is due, and over a minute
			// since the session was last written: request X records
			// activity (a Save of the tokens it loaded), and is slow to.
			if tc.refreshNow {
				p.clock.Advance(2 * time.Minute)
			} else {
				p.clock.Advance(nextidentitytest.AccessTokenLifetime - 31*time.Second)
			}
			ps.mu.Lock()
			ps.pauseAT = at0
			ps.mu.Unlock()
			xDone := make(chan error, 1)
			go func() {
				_, err := a.h.Session(httptest.NewRecorder(), requestWith(b, a))
				xDone <- err
			}()
			<-ps.paused

			// Meanwhile request Y refreshes the session.
			var s1 *nihttp.Session
			if tc.refreshNow {
				s1, err = a.h.Refresh(httptest.NewRecorder(), requestWith(b, a))
			} else {
				p.clock.Advance(2 * time.Second) // now due
				s1, err = a.h.Session(httptest.NewRecorder(), requestWith(b, a))
			}
			require.NoError(t, err)
			require.NotEqual(t, at0, s1.Token.AccessToken, "Y did not refresh")
			close(ps.release)
			require.NoError(t, <-xDone)

			stored, err := ps.SessionStore.Load(context.Background(), s0.ID)
			require.NoError(t, err)
			require.Equal(t, s1.Token.AccessToken, stored.Token.AccessToken,
				"the activity write restored the tokens from before the refresh")

			// The consequence: past the refreshed access token's life,
			// the user (active all along) is still signed in.
			p.clock.Advance(nextidentitytest.AccessTokenLifetime)
			resp, _ := b.get(a.url + "/private/x")
			require.Equal(t, http.StatusOK, resp.StatusCode, "an active user was signed out")
		})
	}
}

// failingSaveStore is a MemoryStore whose next failSaves Saves fail as an
// unreachable Redis does.
type failingSaveStore struct {
	*nihttp.MemoryStore
	mu        sync.Mutex
	failSaves int
}

func (fs *failingSaveStore) Save(ctx context.Context, s *nihttp.Session, ttl time.Duration) (string, error) {
	fs.mu.Lock()
	fail := fs.failSaves > 0
	if fail {
		fs.failSaves--
	}
	fs.mu.Unlock()
	if fail {
		return "", errStoreDown
	}
	return fs.MemoryStore.Save(ctx, s, ttl)
}

// A store that fails to write the refreshed session once (a Redis blip)
// must not sign the user out: the provider has already rotated the
// refresh token, and the handlers hold the new tokens. Today they are
// dropped, the store keeps the spent refresh token, and the next request,
// with the store back, redeems it, gets invalid_grant and ends the session.
func TestStoreBlipDuringRefreshKeepsSession(t *testing.T) {
	fs := &failingSaveStore{MemoryStore: nihttp.NewMemoryStore()}
	p, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.Store = fs })
	a, b := apps[0], newBrowser(t)
	b.signIn(p, a)
	p.clock.Advance(2 * time.Hour)

	fs.mu.Lock()
	fs.failSaves = 1
	fs.mu.Unlock()
	resp, _ := b.get(a.url + "/private/x")
	require.Equal(t, http.StatusOK, resp.StatusCode, "served with the old tokens while the store failed")
	require.Equal(t, 2, p.Requests(nextidentitytest.EndpointToken), "the refresh reached the provider")

	// The store is back, a second later and a minute later.
	for _, d := range []time.Duration{time.Second, time.Minute} {
		p.clock.Advance(d)
		resp, _ = b.get(a.url + "/private/x")
		require.Equal(t, http.StatusOK, resp.StatusCode, "a store blip during a refresh signed the user out (%v later)", d)
	}
}

// The cookie store's version of TestActivityWriteDoesNotUndoRefresh:
// two requests of one page in flight at once, the one that only records
// activity answering last. Its Set-Cookie carries the tokens from before
// the other's refresh, the browser keeps it, and the next refresh redeems
// a spent refresh token: the user is signed out.
func TestCookieStoreActivityCookieDoesNotUndoRefresh(t *testing.T) {
	p, apps := startApps(t, 1, nil)
	a, b := apps[0], newBrowser(t)
	b.signIn(p, a)
	u, err := url.Parse(a.url)
	require.NoError(t, err)

	// X: 31 s before the access token is due, a minute after the last
	// write. Y, two seconds later with the same cookies, refreshes.
	p.clock.Advance(nextidentitytest.AccessTokenLifetime - 31*time.Second)
	x := httptest.NewRecorder()
	_, err = a.h.Session(x, requestWith(b, a))
	require.NoError(t, err)
	// X writes no cookie: a refresh is due within a minute and records
	// the activity itself.
	require.Empty(t, x.Result().Cookies(), "X wrote a cookie that can undo the refresh")
	p.clock.Advance(2 * time.Second)
	y := httptest.NewRecorder()
	s1, err := a.h.Session(y, requestWith(b, a))
	require.NoError(t, err)
	require.Equal(t, 2, p.Requests(nextidentitytest.EndpointToken), "Y did not refresh")

	// Y's response reaches the browser first, then X's.
	b.jar.SetCookies(u, y.Result().Cookies())
	b.jar.SetCookies(u, x.Result().Cookies())

	p.clock.Advance(nextidentitytest.AccessTokenLifetime)
	resp, _ := b.get(a.url + "/private/x")
	require.Equal(t, http.StatusOK, resp.StatusCode, "an active user was signed out")
	require.NotEqual(t, s1.Token.AccessToken, resp.Header.Get("X-Access-Token"))
}
