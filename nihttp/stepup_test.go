package nihttp_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// recentMaxAge is the maxAge of the test apps' /recent/ routes.
const recentMaxAge = 5 * time.Minute

// stepUpChallenge is the RFC 9470 challenge for recentMaxAge.
const stepUpChallenge = `Bearer error="insufficient_user_authentication", error_description="A more recent sign-in is required", max_age=300`

// plantSession saves s in store and gives the browser its cookie: a
// session as another version of the app, or another provider, left it.
func plantSession(t *testing.T, b *browser, a *app, store *nihttp.MemoryStore, s *nihttp.Session) {
	t.Helper()
	v, err := store.Save(context.Background(), s, time.Hour)
	require.NoError(t, err)
	b.plant(a, &http.Cookie{Name: sessionCookie, Value: v, Path: "/", Secure: true, HttpOnly: true})
}

// stepUpSetUp signs a browser in (or not) and moves the clock.
type stepUpSetUp func(t *testing.T, p *provider, a *app, store *nihttp.MemoryStore, b *browser)

// signedInAgo signs the browser in and lets d pass.
func signedInAgo(d time.Duration) stepUpSetUp {
	return func(t *testing.T, p *provider, a *app, _ *nihttp.MemoryStore, b *browser) {
		b.signIn(p, a)
		p.clock.Advance(d)
	}
}

// noAuthTime gives the browser a session whose provider never said when
// the user authenticated.
func noAuthTime(t *testing.T, p *provider, a *app, store *nihttp.MemoryStore, b *browser) {
	now := p.clock.Now()
	plantSession(t, b, a, store, &nihttp.Session{
		ID: "planted-session-without-auth-time", Subject: "someone",
		Token:     &nextidentity.Token{AccessToken: "at", TokenType: "Bearer"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour),
	})
}

func signedOut(*testing.T, *provider, *app, *nihttp.MemoryStore, *browser) {}

func TestRequireRecentLogin(t *testing.T) {
	sameOrigin := func(a *app) http.Header { return http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {a.url}} }
	const again = "/login?max_age=300&return_to=%2Frecent%2Fa%3Fb%3Dc"
	tests := []struct {
		name     string
		setUp    stepUpSetUp
		method   string
		status   int
		location string // for a redirect: the path and query
		wwwAuth  string
	}{
		{"fresh", signedInAgo(4 * time.Minute), http.MethodGet, http.StatusOK, "", ""},
		{"exactly maxAge", signedInAgo(recentMaxAge), http.MethodGet, http.StatusOK, "", ""},
		{"old", signedInAgo(10 * time.Minute), http.MethodGet, http.StatusFound, again, ""},
		{"old, HEAD", signedInAgo(10 * time.Minute), http.MethodHead, http.StatusFound, again, ""},
		{"missing auth_time", noAuthTime, http.MethodGet, http.StatusFound, again, ""},
		{"old, POST", signedInAgo(10 * time.Minute), http.MethodPost, http.StatusUnauthorized, "", stepUpChallenge},
		{"missing auth_time, POST", noAuthTime, http.MethodPost, http.StatusUnauthorized, "", stepUpChallenge},
		{"fresh, POST", signedInAgo(0), http.MethodPost, http.StatusOK, "", ""},
		// Without a session: exactly RequireLogin.
		{"no session", signedOut, http.MethodGet, http.StatusFound, "/login?return_to=%2Frecent%2Fa%3Fb%3Dc", ""},
		{"no session, POST", signedOut, http.MethodPost, http.StatusUnauthorized, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := nihttp.NewMemoryStore()
			p, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.Store = store })
			a, b := apps[0], newBrowser(t)
			tc.setUp(t, p, a, store, b)
			resp, body := b.do(tc.method, a.url+"/recent/a?b=c", sameOrigin(a))
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.Equal(t, tc.wwwAuth, resp.Header.Get("WWW-Authenticate"))
			if tc.location != "" {
				require.Equal(t, tc.location, resp.Header.Get("Location"))
			}
			if tc.status != http.StatusOK {
				require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			}
			if tc.location == "" || tc.name != "old" && tc.name != "old, HEAD" {
				return
			}
			// RequireLogin serves the same session: only the route differs.
			resp, _ = b.do(tc.method, a.url+"/private/a?b=c", sameOrigin(a))
			require.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

// stepUp follows a step-up redirect from a.url+path: the login redirect
// carries max_age, the provider asks for the password again (it does not
// hand out a code on its old session), and the sign-in comes back to path.
// It returns the provider URL the sign-in used.
func stepUp(t *testing.T, p *provider, a *app, b *browser, path string) *url.URL {
	t.Helper()
	resp, _ := b.get(a.url + path)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc := requireOnApp(t, a, resp.Header.Get("Location"))
	require.Equal(t, "/login", loc.Path)
	require.Equal(t, "300", loc.Query().Get("max_age"))
	require.Equal(t, path, loc.Query().Get("return_to"))

	resp, _ = b.get(loc.String())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	authURL := resp.Header.Get("Location")
	u, err := url.Parse(authURL)
	require.NoError(t, err)
	require.Equal(t, "300", u.Query().Get("max_age"), "the provider is asked for a recent authentication")

	_, err = p.Authorize(context.Background(), authURL)
	require.ErrorIs(t, err, nextidentitytest.ErrLoginRequired, "the provider asks for the password again")
	resp = b.finish(p, a, authURL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, path, resp.Header.Get("Location"), "back to the same URL")
	return u
}

// TestRecentLoginStepUp: a 10-minute-old session on a route that wants 5
// goes through sign-in with max_age and is then served the same URL with a
// new session whose auth_time is the new sign-in's.
func TestRecentLoginStepUp(t *testing.T) {
	p, apps := startApps(t, 1, nil)
	a, b := apps[0], newBrowser(t)
	b.signIn(p, a)
	before, err := b.sessionOf(a)
	require.NoError(t, err)
	require.WithinDuration(t, p.clock.Now(), before.AuthTime, 0)
	p.clock.Advance(10 * time.Minute)

	stepUp(t, p, a, b, "/recent/settings?tab=email")
	resp, body := b.get(a.url + "/recent/settings?tab=email")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "hello "+nextidentitytest.DefaultUserEmail, body)

	after, err := b.sessionOf(a)
	require.NoError(t, err)
	require.NotEqual(t, before.ID, after.ID, "a new sign-in is a new session")
	require.WithinDuration(t, p.clock.Now(), after.AuthTime, 0)
	require.WithinDuration(t, p.clock.Now(), after.Token.IDToken.AuthTime, 0)

	// Recent for five minutes, through refreshes, then asked again.
	p.clock.Advance(5 * time.Minute)
	resp, _ = b.get(a.url + "/recent/settings?tab=email")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p.clock.Advance(time.Hour) // the access token expires: a refresh
	resp, _ = b.get(a.url + "/private/x")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	refreshed, err := b.sessionOf(a)
	require.NoError(t, err)
	require.NotEqual(t, after.Token.AccessToken, refreshed.Token.AccessToken)
	require.WithinDuration(t, after.AuthTime, refreshed.AuthTime, 0, "a refresh is no new authentication")
	resp, _ = b.get(a.url + "/recent/settings?tab=email")
	require.Equal(t, http.StatusFound, resp.StatusCode)
}

// TestRecentLoginProviderSessionIsRecent: when the user authenticated at
// the provider more recently than the app's session began (another app's
// sign-in), the step-up needs no password: the provider's session passes
// max_age, and its auth_time is recent enough.
func TestRecentLoginProviderSessionIsRecent(t *testing.T) {
	p, apps := startApps(t, 2, nil)
	b := newBrowser(t)
	b.signIn(p, apps[0])
	p.clock.Advance(10 * time.Minute)
	p.ForgetSession()
	newBrowser(t).signIn(p, apps[1]) // a new provider session, with the password
	p.clock.Advance(time.Minute)

	resp, _ := b.get(apps[0].url + "/recent/x")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	resp, _ = b.get(apps[0].url + resp.Header.Get("Location"))
	q, err := p.Authorize(context.Background(), resp.Header.Get("Location"))
	require.NoError(t, err, "no password: the provider session is recent")
	resp, _ = b.get(apps[0].url + "/callback?" + q.Encode())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/recent/x", resp.Header.Get("Location"))
	resp, _ = b.get(apps[0].url + "/recent/x")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	s, err := b.sessionOf(apps[0])
	require.NoError(t, err)
	require.WithinDuration(t, p.clock.Now().Add(-time.Minute), s.AuthTime, 0)
}

// TestRecentLoginPromptLogin: when the provider hands back an
// authentication older than the route wants by the app's clock (here its
// clock is two minutes behind the app's, so its session passes max_age),
// the callback asks once more with prompt=login, and the user is served
// after typing the password. With more skew than maxAge even that fails,
// with an error page rather than a loop.
func TestRecentLoginPromptLogin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		skew   time.Duration
		served bool
	}{
		{"two minutes skew", 2 * time.Minute, true},
		{"six minutes skew", 6 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p0 *provider
			p, apps := startApps(t, 1, nil, func(c *nihttp.Config) {
				c.Now = func() time.Time { return p0.clock.Now().Add(tc.skew) }
			})
			p0 = p
			a, b := apps[0], newBrowser(t)
			b.signIn(p, a)
			p.clock.Advance(4 * time.Minute) // the app's clock says 4 minutes + skew

			resp, _ := b.get(a.url + "/recent/x")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			resp, _ = b.get(a.url + resp.Header.Get("Location"))
			authURL := resp.Header.Get("Location")
			q, err := p.Authorize(context.Background(), authURL)
			require.NoError(t, err, "the provider's session passes max_age by its clock")
			resp, _ = b.get(a.url + "/callback?" + q.Encode())
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc := requireOnApp(t, a, resp.Header.Get("Location"))
			require.Equal(t, "/login", loc.Path)
			require.Equal(t, "login", loc.Query().Get("prompt"))
			require.Equal(t, "300", loc.Query().Get("max_age"))
			require.Equal(t, "/recent/x", loc.Query().Get("return_to"))

			resp, _ = b.get(loc.String())
			authURL = resp.Header.Get("Location")
			u, err := url.Parse(authURL)
			require.NoError(t, err)
			require.Equal(t, "login", u.Query().Get("prompt"))
			_, err = p.Authorize(context.Background(), authURL)
			require.ErrorIs(t, err, nextidentitytest.ErrLoginRequired, "prompt=login asks for the password")
			resp = b.finish(p, a, authURL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
			if !tc.served {
				require.Equal(t, http.StatusBadGateway, resp.StatusCode, "an error, not another round")
				return
			}
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.Equal(t, "/recent/x", resp.Header.Get("Location"))
			resp, _ = b.get(a.url + "/recent/x")
			require.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

// TestLoginStepUpParams: the step-up parameters of /login ask for a more
// recent authentication and can never weaken one: a bad max_age is a
// normal sign-in, a larger one does not replace the max_age of
// AuthOptions, and prompt means only prompt=login.
func TestLoginStepUpParams(t *testing.T) {
	tests := []struct {
		name       string
		configured time.Duration // WithMaxAge in AuthOptions; 0: none
		query      string
		maxAge     string // max_age sent to the provider; "" none
		prompt     string
	}{
		{"none", 0, "", "", ""},
		{"step-up", 0, "max_age=300", "300", ""},
		{"step-up with prompt", 0, "max_age=300&prompt=login", "300", "login"},
		{"prompt alone is ignored", 0, "prompt=login", "", ""},
		{"other prompt values are ignored", 0, "max_age=300&prompt=none", "300", ""},
		{"negative", 0, "max_age=-1", "", ""},
		{"not a number", 0, "max_age=5m", "", ""},
		{"repeated", 0, "max_age=300&max_age=0", "", ""},
		{"stricter than configured", 10 * time.Minute, "max_age=300", "300", ""},
		{"looser than configured", time.Minute, "max_age=300", "60", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, apps := startApps(t, 1, nil, func(c *nihttp.Config) {
				if tc.configured > 0 {
					c.AuthOptions = append(c.AuthOptions, nextidentity.WithMaxAge(tc.configured))
				}
			})
			a, b := apps[0], newBrowser(t)
			resp, _ := b.get(a.url + "/login?" + tc.query)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			u, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, tc.maxAge, u.Query().Get("max_age"))
			require.Equal(t, tc.prompt, u.Query().Get("prompt"))
		})
	}
}
