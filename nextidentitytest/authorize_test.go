package nextidentitytest_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

var hostedEndpoints = []nextidentitytest.Endpoint{
	nextidentitytest.EndpointAuthorize,
	nextidentitytest.EndpointRegister,
	nextidentitytest.EndpointPersonalDetails,
}

func TestAuthorizeRejectsBadClientOrRedirectWithAPage(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	for _, e := range hostedEndpoints {
		for name, edit := range map[string]map[string]string{
			"unknown client":       {"client_id": "nobody"},
			"missing client":       {"client_id": ""},
			"redirect mismatch":    {"redirect_uri": "http://127.0.0.1/callback/other"},
			"redirect prefix only": {"redirect_uri": "http://127.0.0.1/call"},
			"missing redirect":     {"redirect_uri": ""},
			// These would be redirect errors, but the client check comes first.
			"unknown client and bad response_type": {"client_id": "nobody", "response_type": "token"},
		} {
			t.Run(string(e)+" "+name, func(t *testing.T) {
				r := get(t, srv, authURL(srv, e, authParams(p, edit)))
				require.Equal(t, http.StatusBadRequest, r.status)
				require.Empty(t, r.header.Get("Location"))
				require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
				require.Contains(t, r.body, "<h1")
			})
		}
	}
}

func TestAuthorizeRedirectsErrors(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	for _, e := range hostedEndpoints {
		for _, tc := range []struct {
			name string
			edit map[string]string
			want string
		}{
			{"response_type token", map[string]string{"response_type": "token"}, "unsupported_response_type"},
			{"response_type missing", map[string]string{"response_type": ""}, "invalid_request"},
			{"scope without openid", map[string]string{"scope": "profile email"}, "invalid_scope"},
			{"scope missing", map[string]string{"scope": ""}, "invalid_scope"},
			{"no code_challenge", map[string]string{"code_challenge": ""}, "invalid_request"},
			{"no code_challenge_method", map[string]string{"code_challenge_method": ""}, "invalid_request"},
			{"plain PKCE", map[string]string{"code_challenge_method": "plain"}, "invalid_request"},
			{"malformed challenge", map[string]string{"code_challenge": "short"}, "invalid_request"},
			{"prompt=none without session", map[string]string{"prompt": "none"}, "login_required"},
			{"prompt=none combined", map[string]string{"prompt": "none login"}, "invalid_request"},
			{"bad max_age", map[string]string{"max_age": "-1"}, "invalid_request"},
		} {
			t.Run(string(e)+" "+tc.name, func(t *testing.T) {
				r := get(t, srv, authURL(srv, e, authParams(p, tc.edit)))
				require.Equal(t, http.StatusFound, r.status, r.body)
				u := location(t, r)
				require.Equal(t, nextidentitytest.DefaultRedirectURI, u.Scheme+"://"+u.Host+u.Path)
				q := u.Query()
				require.Equal(t, tc.want, q.Get("error"))
				require.NotEmpty(t, q.Get("error_description"))
				require.Equal(t, "st-123", q.Get("state"))
				require.Equal(t, srv.Issuer(), q.Get("iss"))
				require.Empty(t, q.Get("code"))
			})
		}
	}
}

func TestAuthorizeRepeatedParameter(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	v := authParams(newPKCE(t), nil)
	v.Add("scope", "openid")
	u := location(t, get(t, srv, authURL(srv, nextidentitytest.EndpointAuthorize, v)))
	require.Equal(t, "invalid_request", u.Query().Get("error"))
}

func TestHostedLoginPage(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	for e, heading := range map[nextidentitytest.Endpoint]string{
		nextidentitytest.EndpointAuthorize:       "Sign in",
		nextidentitytest.EndpointRegister:        "Create your account",
		nextidentitytest.EndpointPersonalDetails: "Your personal details",
	} {
		t.Run(string(e), func(t *testing.T) {
			r := get(t, srv, authURL(srv, e, authParams(p, map[string]string{"login_hint": "a<b>@example.com"})))
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
			require.Contains(t, r.body, "<h1>"+heading+"</h1>")
			require.Contains(t, r.body, `action="/login"`)
			require.Contains(t, r.body, `id="email" name="email"`)
			require.Contains(t, r.body, `id="password" name="password"`)
			require.Contains(t, r.body, `id="signin"`)
			require.Contains(t, r.body, `id="cancel"`)
			require.Regexp(t, `<input type="hidden" name="request" value="[A-Za-z0-9_-]{32}">`, r.body)
			require.Contains(t, r.body, `value="a&lt;b&gt;@example.com"`, "login_hint prefilled, escaped")
			require.NotContains(t, r.body, "a<b>")
		})
	}
}

var requestIDRe = regexp.MustCompile(`name="request" value="([^"]+)"`)

// showLogin renders the sign-in page and returns its pending request id and
// a postForm edit that sends the browser cookie the page was bound to.
func showLogin(t *testing.T, srv *nextidentitytest.Server, v url.Values) (string, func(*http.Request)) {
	t.Helper()
	r := get(t, srv, authURL(srv, nextidentitytest.EndpointAuthorize, v))
	require.Equal(t, http.StatusOK, r.status)
	m := requestIDRe.FindStringSubmatch(r.body)
	require.NotNil(t, m)
	var browser *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == nextidentitytest.BrowserCookieName {
			browser = c
		}
	}
	require.NotNil(t, browser, "the sign-in page sets the browser cookie")
	return m[1], func(req *http.Request) { req.AddCookie(&http.Cookie{Name: browser.Name, Value: browser.Value}) }
}

func TestLoginFormRawHTTP(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	id, sameBrowser := showLogin(t, srv, authParams(p, nil))

	// Wrong password: the page again, with an error, same request.
	r := postForm(t, srv, "/login", url.Values{"request": {id}, "email": {"jane@example.com"}, "password": {"nope"}}, sameBrowser)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `<p id="error" role="alert">The email address or password is incorrect.</p>`)
	require.Contains(t, r.body, `value="`+id+`"`)
	require.Empty(t, r.header.Get("Set-Cookie"))

	// Right password (email is case-insensitive): session cookie and code.
	r = postForm(t, srv, "/login", url.Values{"request": {id}, "email": {"JANE@example.com"}, "password": {"password"}}, sameBrowser)
	require.Equal(t, http.StatusSeeOther, r.status)
	cookie := r.header.Get("Set-Cookie")
	require.Contains(t, cookie, nextidentitytest.SessionCookieName+"=")
	require.Contains(t, cookie, "Max-Age=1209600")
	require.Contains(t, cookie, "HttpOnly")
	q := location(t, r).Query()
	require.Regexp(t, `^[a-z0-9]{14}$`, q.Get("code"))
	require.Equal(t, "st-123", q.Get("state"))
	require.Equal(t, srv.Issuer(), q.Get("iss"))

	// The pending request is spent.
	r = postForm(t, srv, "/login", url.Values{"request": {id}, "email": {"jane@example.com"}, "password": {"password"}}, sameBrowser)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.body, "expired")

	r = postForm(t, srv, "/login", url.Values{"request": {"made-up"}}, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, http.StatusMethodNotAllowed, get(t, srv, srv.URL+"/login").status)
}

func TestLoginCancel(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	id, sameBrowser := showLogin(t, srv, authParams(newPKCE(t), nil))
	r := postForm(t, srv, "/login", url.Values{"request": {id}, "action": {"cancel"}}, sameBrowser)
	q := location(t, r).Query()
	require.Equal(t, "access_denied", q.Get("error"))
	require.NotEmpty(t, q.Get("error_description"))
	require.Equal(t, "st-123", q.Get("state"))
	require.Equal(t, srv.Issuer(), q.Get("iss"))
}

func TestPendingLoginExpires(t *testing.T) {
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
	id, sameBrowser := showLogin(t, srv, authParams(newPKCE(t), nil))
	clk.Advance(nextidentitytest.PendingLoginLifetime)
	r := postForm(t, srv, "/login", url.Values{"request": {id}, "email": {"jane@example.com"}, "password": {"password"}}, sameBrowser)
	require.Equal(t, http.StatusBadRequest, r.status)
}

func TestLoginHelper(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	ctx := context.Background()
	p := newPKCE(t)

	_, err := srv.Login(ctx, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, nil)), "jane@example.com", "wrong")
	require.ErrorIs(t, err, nextidentitytest.ErrInvalidCredentials)
	require.ErrorContains(t, err, "incorrect")

	_, err = srv.Login(ctx, "http://127.0.0.2:1/authorize", "jane@example.com", "password")
	require.ErrorContains(t, err, "not a URL of this server")

	// A provider error page is an error, a redirected OAuth error is not.
	_, err = srv.Login(ctx, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"client_id": "x"})), "jane@example.com", "password")
	require.ErrorContains(t, err, "400")
	q, err := srv.Login(ctx, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"scope": "email"})), "jane@example.com", "password")
	require.NoError(t, err)
	require.Equal(t, "invalid_scope", q.Get("error"))

	for _, e := range hostedEndpoints {
		srv.ForgetSession()
		q, err := srv.Login(ctx, authURL(srv, e, authParams(p, nil)), "jane@example.com", "password")
		require.NoError(t, err)
		require.Regexp(t, `^[a-z0-9]{14}$`, q.Get("code"))
		require.Equal(t, "st-123", q.Get("state"))
		require.Equal(t, srv.Issuer(), q.Get("iss"))
	}
}

func TestBrowserSession(t *testing.T) {
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
	ctx := context.Background()
	p := newPKCE(t)
	u := func(edit map[string]string) string {
		return authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, edit))
	}

	// No session yet.
	_, err := srv.Authorize(ctx, u(nil))
	require.ErrorIs(t, err, nextidentitytest.ErrLoginRequired)
	q, err := srv.Authorize(ctx, u(map[string]string{"prompt": "none"}))
	require.NoError(t, err)
	require.Equal(t, "login_required", q.Get("error"))

	login(t, srv, p, nil)

	// With the session: codes without credentials, also via prompt=none.
	for _, edit := range []map[string]string{nil, {"prompt": "none"}, {"prompt": "consent"}} {
		q, err = srv.Authorize(ctx, u(edit))
		require.NoError(t, err)
		require.Regexp(t, `^[a-z0-9]{14}$`, q.Get("code"))
		require.Equal(t, srv.Issuer(), q.Get("iss"))
	}
	// Login with a live session does not need the password either.
	q, err = srv.Login(ctx, u(nil), "", "")
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"))

	// prompt=login forces the page.
	_, err = srv.Authorize(ctx, u(map[string]string{"prompt": "login"}))
	require.ErrorIs(t, err, nextidentitytest.ErrLoginRequired)

	// max_age: an old authentication needs a new sign-in.
	clk.Advance(10 * time.Minute)
	q, err = srv.Authorize(ctx, u(map[string]string{"prompt": "none", "max_age": "60"}))
	require.NoError(t, err)
	require.Equal(t, "login_required", q.Get("error"))
	q, err = srv.Authorize(ctx, u(map[string]string{"prompt": "none", "max_age": "3600"}))
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"))

	// Sessions last 14 days.
	clk.Advance(nextidentitytest.SessionLifetime - 11*time.Minute)
	q, err = srv.Authorize(ctx, u(map[string]string{"prompt": "none"}))
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"))
	clk.Advance(2 * time.Minute)
	q, err = srv.Authorize(ctx, u(map[string]string{"prompt": "none"}))
	require.NoError(t, err)
	require.Equal(t, "login_required", q.Get("error"))

	// ForgetSession signs the fake browser out.
	login(t, srv, p, nil)
	srv.ForgetSession()
	q, err = srv.Authorize(ctx, u(map[string]string{"prompt": "none"}))
	require.NoError(t, err)
	require.Equal(t, "login_required", q.Get("error"))
}

func TestAuthorizeKeepsRedirectURIQuery(t *testing.T) {
	const cb = "http://127.0.0.1/cb?tenant=a%20b"
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{{ID: "c", Secret: "s", RedirectURIs: []string{cb}}}})
	v := authParams(newPKCE(t), map[string]string{"client_id": "c", "redirect_uri": cb})
	q, err := srv.Login(context.Background(), authURL(srv, nextidentitytest.EndpointAuthorize, v), "jane@example.com", "password")
	require.NoError(t, err)
	require.Equal(t, "a b", q.Get("tenant"))
	require.NotEmpty(t, q.Get("code"))
}

func TestAuthorizeWithPOST(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	r := postForm(t, srv, "/authorize", authParams(newPKCE(t), nil), nil)
	require.Equal(t, http.StatusOK, r.status)
	require.True(t, strings.Contains(r.body, `id="signin-form"`))
}
