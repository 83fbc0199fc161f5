package nextidentitytest_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// subjectOf redeems a callback's code and returns the ID token's "sub".
func subjectOf(t *testing.T, srv *nextidentitytest.Server, q url.Values, p pkce) string {
	t.Helper()
	require.NotEmpty(t, q.Get("code"), "callback: %v", q)
	_, claims := verify(t, srv, exchange(t, srv, q.Get("code"), p).IDToken)
	sub, _ := claims["sub"].(string)
	return sub
}

func TestBrowsersHoldSeparateSessions(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	srv.AddUser(nextidentitytest.User{Subject: "bob", Email: "bob@example.com", Password: "hunter2"})
	ctx := t.Context()
	p := newPKCE(t)
	u := func(edit map[string]string) string {
		return authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, edit))
	}

	jane, bob := srv.NewBrowser(), srv.NewBrowser()
	q, err := jane.Login(ctx, u(nil), nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	require.Equal(t, nextidentitytest.DefaultUserSubject, subjectOf(t, srv, q, p))
	q, err = bob.Login(ctx, u(nil), "bob@example.com", "hunter2")
	require.NoError(t, err)
	require.Equal(t, "bob", subjectOf(t, srv, q, p))

	// Each browser's silent sign-in is its own user's.
	none := u(map[string]string{"prompt": "none"})
	for _, tc := range []struct {
		b    *nextidentitytest.Browser
		want string
	}{{jane, nextidentitytest.DefaultUserSubject}, {bob, "bob"}, {jane, nextidentitytest.DefaultUserSubject}} {
		q, err = tc.b.Authorize(ctx, none)
		require.NoError(t, err)
		require.Equal(t, tc.want, subjectOf(t, srv, q, p))
	}

	// The Server's own browser is a third one, still signed out.
	q, err = srv.Authorize(ctx, none)
	require.NoError(t, err)
	require.Equal(t, "login_required", q.Get("error"))
	_, err = srv.NewBrowser().Authorize(ctx, u(nil))
	require.ErrorIs(t, err, nextidentitytest.ErrLoginRequired)

	// Forgetting one browser's session leaves the other signed in.
	jane.ForgetSession()
	q, err = jane.Authorize(ctx, none)
	require.NoError(t, err)
	require.Equal(t, "login_required", q.Get("error"))
	q, err = bob.Authorize(ctx, none)
	require.NoError(t, err)
	require.Equal(t, "bob", subjectOf(t, srv, q, p))

	// Logging one browser out at /endsession leaves the other signed in.
	end := srv.URL + "/endsession?" + url.Values{
		"client_id":                {nextidentitytest.DefaultClientID},
		"post_logout_redirect_uri": {"http://127.0.0.1/"},
	}.Encode()
	_, _, err = bob.Browse(ctx, end)
	require.NoError(t, err)
	q, err = bob.Authorize(ctx, none)
	require.NoError(t, err)
	require.Equal(t, "login_required", q.Get("error"))
}

func TestLoginReturnsTheErrorPagesMessage(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	for _, tc := range []struct {
		name         string
		edit         map[string]string
		title, front string
	}{
		{"unregistered redirect URI", map[string]string{"redirect_uri": "http://127.0.0.1/elsewhere"},
			"Invalid redirect URI", `The redirect_uri "http://127.0.0.1/elsewhere" is not registered for this application.`},
		{"unknown client", map[string]string{"client_id": "nobody"},
			"Invalid client", `The application (client_id "nobody") is not registered.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, b := range []interface {
				Login(ctx context.Context, authURL, email, password string) (url.Values, error)
			}{srv, srv.NewBrowser()} {
				_, err := b.Login(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, tc.edit)), "jane@example.com", "password")
				var pe *nextidentitytest.PageError
				require.ErrorAs(t, err, &pe)
				require.Equal(t, http.StatusBadRequest, pe.Status)
				require.Equal(t, tc.title, pe.Title)
				require.Equal(t, tc.front, pe.Message)
				require.Equal(t, "nextidentitytest: the provider showed an error page (400 "+tc.title+"): "+tc.front, err.Error())
			}
		})
	}
}

// jarClient is a raw browser: a cookie jar, no automatic redirects.
func jarClient(t *testing.T, srv *nextidentitytest.Server) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := rawClient(srv)
	c.Jar = jar
	return c
}

// showLoginIn shows the sign-in page in c and returns the request id.
func showLoginIn(t *testing.T, srv *nextidentitytest.Server, c *http.Client, p pkce) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, nil)), nil)
	require.NoError(t, err)
	r := do(t, c, req)
	require.Equal(t, http.StatusOK, r.status, r.body)
	m := requestIDRe.FindStringSubmatch(r.body)
	require.NotNil(t, m)
	return m[1]
}

func postLogin(t *testing.T, srv *nextidentitytest.Server, c *http.Client, form url.Values) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/login", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}

func sessionCookie(t *testing.T, srv *nextidentitytest.Server, c *http.Client) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == nextidentitytest.SessionCookieName {
			return ck.Value
		}
	}
	return ""
}

func TestLoginCSRFIsRefused(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	srv.AddUser(nextidentitytest.User{Subject: "mallory", Email: "mallory@example.com", Password: "evil"})
	p := newPKCE(t)

	// The victim is signed in as Jane.
	victim := jarClient(t, srv)
	id := showLoginIn(t, srv, victim, p)
	r := postLogin(t, srv, victim, url.Values{"request": {id}, "email": {"jane@example.com"}, "password": {"password"}, "action": {"signin"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	janeSession := sessionCookie(t, srv, victim)
	require.NotEmpty(t, janeSession)

	// Mallory starts a sign-in in her browser and makes the victim's browser
	// post it with her credentials; a browser with no cookies at all is
	// refused the same way.
	mallory := jarClient(t, srv)
	stolen := showLoginIn(t, srv, mallory, p)
	csrf := url.Values{"request": {stolen}, "email": {"mallory@example.com"}, "password": {"evil"}, "action": {"signin"}}
	for name, c := range map[string]*http.Client{"signed-in victim": victim, "fresh browser": rawClient(srv)} {
		r = postLogin(t, srv, c, csrf)
		require.Equal(t, http.StatusForbidden, r.status, name)
		require.Contains(t, r.body, `<h1 id="title">Sign-in failed</h1>`, name)
		require.Contains(t, r.body, `<p id="message">This sign-in was started in another browser. Return to the application and start again.</p>`, name)
		require.Empty(t, r.header.Values("Set-Cookie"), name)
		require.Empty(t, r.header.Get("Location"), name)
	}
	// Cancelling someone else's sign-in is refused too.
	r = postLogin(t, srv, victim, url.Values{"request": {stolen}, "action": {"cancel"}})
	require.Equal(t, http.StatusForbidden, r.status)

	// The victim's session is unchanged: still Jane.
	require.Equal(t, janeSession, sessionCookie(t, srv, victim))
	req, err := http.NewRequest(http.MethodGet, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"prompt": "none"})), nil)
	require.NoError(t, err)
	q := location(t, do(t, victim, req)).Query()
	require.Equal(t, nextidentitytest.DefaultUserSubject, subjectOf(t, srv, q, p))

	// In the browser that started it, the sign-in still works.
	r = postLogin(t, srv, mallory, csrf)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, "mallory", subjectOf(t, srv, location(t, r).Query(), p))
}
