package nihttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// appURL is where the application under test pretends to live: the host of
// the provider's default redirect URI.
const appURL = "http://127.0.0.1"

// recorder records what the handlers hand to the application's callbacks.
type recorder struct {
	mu        sync.Mutex
	logins    []recordedLogin
	errs      []error
	logouts   int
	logoutHnt string
}

type recordedLogin struct {
	tok      *nextidentity.Token
	returnTo string
}

func (rc *recorder) onLogin(w http.ResponseWriter, r *http.Request, tok *nextidentity.Token, returnTo string) {
	rc.mu.Lock()
	rc.logins = append(rc.logins, recordedLogin{tok, returnTo})
	rc.mu.Unlock()
	http.Redirect(w, r, returnTo, http.StatusFound)
}

// onError records err and answers like DefaultOnError.
func (rc *recorder) onError(w http.ResponseWriter, r *http.Request, err error) {
	rc.mu.Lock()
	rc.errs = append(rc.errs, err)
	rc.mu.Unlock()
	nihttp.DefaultOnError(w, r, err)
}

func (rc *recorder) onLogout(w http.ResponseWriter, r *http.Request) string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.logouts++
	return rc.logoutHnt
}

func (rc *recorder) snapshot() ([]recordedLogin, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recordedLogin(nil), rc.logins...), append([]error(nil), rc.errs...)
}

// env is a fake provider, a client for it, and handlers with a recorder.
type env struct {
	srv    *nextidentitytest.Server
	client *nextidentity.Client
	key    []byte
	h      *nihttp.Handlers
	rec    *recorder
}

func newServer(t testing.TB) *nextidentitytest.Server {
	t.Helper()
	srv := nextidentitytest.NewServer(nextidentitytest.Options{
		Clients: []nextidentitytest.Client{{
			ID:           nextidentitytest.DefaultClientID,
			Secret:       nextidentitytest.DefaultClientSecret,
			RedirectURIs: []string{appURL + "/callback"},
		}},
	})
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t testing.TB, srv *nextidentitytest.Server) *nextidentity.Client {
	t.Helper()
	c, err := nextidentity.New(context.Background(), srv.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newEnv starts a provider and handlers keyed with one fresh key. mod, when
// not nil, adjusts the Config before New.
func newEnv(t testing.TB, mod func(*nihttp.Config)) *env {
	t.Helper()
	srv := newServer(t)
	return newEnvOn(t, srv, newClient(t, srv), mod)
}

func newEnvOn(t testing.TB, srv *nextidentitytest.Server, client *nextidentity.Client, mod func(*nihttp.Config)) *env {
	t.Helper()
	e := &env{srv: srv, client: client, key: newKey(t), rec: &recorder{}}
	cfg := nihttp.Config{
		Client:   client,
		Keys:     [][]byte{e.key},
		OnLogin:  e.rec.onLogin,
		OnError:  e.rec.onError,
		OnLogout: e.rec.onLogout,
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := nihttp.New(cfg)
	require.NoError(t, err)
	e.h = h
	return e
}

// login runs h.Login for rawQuery ("return_to=..." or "") and returns the
// response.
func login(t testing.TB, h *nihttp.Handlers, rawQuery string) *http.Response {
	t.Helper()
	target := appURL + "/login"
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	w := httptest.NewRecorder()
	require.NotPanics(t, func() { h.Login(w, httptest.NewRequest(http.MethodGet, target, nil)) })
	return w.Result()
}

// findCookie returns the cookie named name that resp sets, or nil.
func findCookie(resp *http.Response, name string) *http.Cookie {
	var found *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == name {
			found = c
		}
	}
	return found
}

// started is a sign-in begun with h.Login.
type started struct {
	cookie  *http.Cookie // as set by Login
	authURL string       // the Location Login redirected to
}

// start runs Login and checks the basic shape of its response.
func start(t testing.TB, h *nihttp.Handlers, rawQuery string) started {
	t.Helper()
	resp := login(t, h, rawQuery)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	c := findCookie(resp, nihttp.DefaultCookieName)
	require.NotNil(t, c, "Login set no login cookie")
	require.NotEmpty(t, c.Value)
	return started{cookie: c, authURL: resp.Header.Get("Location")}
}

// signIn sends the fake browser through the provider and returns the
// callback query.
func signIn(t testing.TB, srv *nextidentitytest.Server, authURL string) url.Values {
	t.Helper()
	q, err := srv.Login(context.Background(), authURL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"), "provider answered %v", q)
	return q
}

// callback runs h.Callback with query and, when not nil, cookie.
func callback(t testing.TB, h *nihttp.Handlers, query url.Values, cookie *http.Cookie) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, appURL+"/callback?"+query.Encode(), nil)
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	w := httptest.NewRecorder()
	require.NotPanics(t, func() { h.Callback(w, req) })
	return w.Result()
}

// requireCleared checks that resp deletes the login cookie named name.
func requireCleared(t testing.TB, resp *http.Response, name string, secure bool) {
	t.Helper()
	c := findCookie(resp, name)
	require.NotNil(t, c, "the login cookie was not cleared")
	require.Less(t, c.MaxAge, 0, "the login cookie was not cleared (Max-Age)")
	require.Empty(t, c.Value)
	require.Equal(t, "/", c.Path)
	require.True(t, c.HttpOnly)
	require.Equal(t, secure, c.Secure)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
}

// reseal opens a login cookie value with key and seals its content again
// with sealer under name for ttl: the same sign-in, re-wrapped.
func reseal(t testing.TB, key []byte, value string, sealer *nihttp.Sealer, name string, ttl time.Duration) string {
	t.Helper()
	var st map[string]any
	require.NoError(t, mustSealer(t, key).Open(nihttp.DefaultCookieName, value, &st))
	require.NotEmpty(t, st)
	out, err := sealer.Seal(name, st, ttl)
	require.NoError(t, err)
	return out
}

func TestNewValidatesConfig(t *testing.T) {
	srv := newServer(t)
	client := newClient(t, srv)
	rec := &recorder{}
	valid := func() nihttp.Config {
		return nihttp.Config{
			Client:   client,
			Keys:     [][]byte{newKey(t)},
			OnLogin:  rec.onLogin,
			OnLogout: rec.onLogout,
		}
	}
	tests := []struct {
		name string
		mod  func(*nihttp.Config)
	}{
		{"no client", func(c *nihttp.Config) { c.Client = nil }},
		{"no OnLogin", func(c *nihttp.Config) { c.OnLogin = nil }},
		{"no OnLogout", func(c *nihttp.Config) { c.OnLogout = nil }},
		{"no keys", func(c *nihttp.Config) { c.Keys = nil }},
		{"empty key list", func(c *nihttp.Config) { c.Keys = [][]byte{} }},
		{"short key", func(c *nihttp.Config) { c.Keys = [][]byte{make([]byte, 16)} }},
		{"long key", func(c *nihttp.Config) { c.Keys = [][]byte{make([]byte, 33)} }},
		{"second key bad", func(c *nihttp.Config) { c.Keys = append(c.Keys, make([]byte, 8)) }},
		{"DefaultReturnTo absolute", func(c *nihttp.Config) { c.DefaultReturnTo = "https://evil.example/" }},
		{"DefaultReturnTo scheme-relative", func(c *nihttp.Config) { c.DefaultReturnTo = "//evil.example" }},
		{"DefaultReturnTo backslash", func(c *nihttp.Config) { c.DefaultReturnTo = "/\\evil.example" }},
		{"DefaultReturnTo relative", func(c *nihttp.Config) { c.DefaultReturnTo = "home" }},
		{"DefaultReturnTo javascript", func(c *nihttp.Config) { c.DefaultReturnTo = "javascript:alert(1)" }},
		{"DefaultReturnTo CRLF", func(c *nihttp.Config) { c.DefaultReturnTo = "/\r\nSet-Cookie: x=y" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.mod(&cfg)
			h, err := nihttp.New(cfg)
			require.Error(t, err)
			require.Nil(t, h)
		})
	}

	t.Run("valid", func(t *testing.T) {
		cfg := valid()
		cfg.DefaultReturnTo = "/home?tab=1"
		h, err := nihttp.New(cfg)
		require.NoError(t, err)
		require.NotNil(t, h)
		require.NotNil(t, h.Sealer())
	})

	t.Run("Sealer instead of Keys", func(t *testing.T) {
		s := mustSealer(t, newKey(t))
		cfg := valid()
		cfg.Keys = nil
		cfg.Sealer = s
		h, err := nihttp.New(cfg)
		require.NoError(t, err)
		require.Same(t, s, h.Sealer())
	})
}

func TestLoginSetsCookieAndRedirects(t *testing.T) {
	tests := []struct {
		name       string
		mod        func(*nihttp.Config)
		cookieName string
		path       string
		maxAge     int
		secure     bool
	}{
		{"defaults", nil, nihttp.DefaultCookieName, "/", int(nihttp.DefaultLoginTTL / time.Second), true},
		{"LoginTTL", func(c *nihttp.Config) { c.LoginTTL = 3 * time.Minute }, nihttp.DefaultCookieName, "/", 180, true},
		{"InsecureCookie", func(c *nihttp.Config) { c.InsecureCookie = true }, nihttp.DefaultCookieName, "/", 600, false},
		{"name and path", func(c *nihttp.Config) {
			c.CookieName = "my_login"
			c.CookiePath = "/auth"
		}, "my_login", "/auth", 600, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.mod)
			resp := login(t, e.h, "")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

			c := findCookie(resp, tc.cookieName)
			require.NotNil(t, c, "no %s cookie in %v", tc.cookieName, resp.Header["Set-Cookie"])
			require.NotEmpty(t, c.Value)
			require.LessOrEqual(t, len(c.Value), nihttp.MaxSealedSize)
			require.True(t, c.HttpOnly, "cookie must be HttpOnly")
			require.Equal(t, tc.secure, c.Secure)
			require.Equal(t, http.SameSiteLaxMode, c.SameSite)
			require.Equal(t, tc.path, c.Path)
			require.Empty(t, c.Domain)
			require.InDelta(t, tc.maxAge, c.MaxAge, 1)

			// Redirect to the provider's authorize endpoint with a full request.
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, e.srv.URL+string(nextidentitytest.EndpointAuthorize), loc.Scheme+"://"+loc.Host+loc.Path)
			q := loc.Query()
			require.Equal(t, "code", q.Get("response_type"))
			require.Equal(t, nextidentitytest.DefaultClientID, q.Get("client_id"))
			require.Equal(t, appURL+"/callback", q.Get("redirect_uri"))
			require.NotEmpty(t, q.Get("state"))
			require.NotEmpty(t, q.Get("nonce"))
			require.NotEmpty(t, q.Get("code_challenge"))
			require.Equal(t, "S256", q.Get("code_challenge_method"))

			// The cookie carries the request's secrets sealed: none of them
			// appears in it in clear, and it opens only with the key.
			require.NotContains(t, c.Value, q.Get("state"))
			require.NotContains(t, c.Value, q.Get("nonce"))
			var st map[string]string
			require.NoError(t, mustSealer(t, e.key).Open(tc.cookieName, c.Value, &st))
			require.Contains(t, st, "s")
			require.Equal(t, q.Get("state"), st["s"])
			require.Equal(t, q.Get("nonce"), st["n"])
			require.ErrorIs(t, mustSealer(t, newKey(t)).Open(tc.cookieName, c.Value, &st), nihttp.ErrTampered)
		})
	}

	t.Run("fresh request each time", func(t *testing.T) {
		e := newEnv(t, nil)
		a, b := start(t, e.h, ""), start(t, e.h, "")
		require.NotEqual(t, a.cookie.Value, b.cookie.Value)
		qa, qb := mustQuery(t, a.authURL), mustQuery(t, b.authURL)
		require.NotEqual(t, qa.Get("state"), qb.Get("state"))
		require.NotEqual(t, qa.Get("nonce"), qb.Get("nonce"))
		require.NotEqual(t, qa.Get("code_challenge"), qb.Get("code_challenge"))
	})

	t.Run("AuthOptions are sent", func(t *testing.T) {
		e := newEnv(t, func(c *nihttp.Config) {
			c.AuthOptions = []nextidentity.AuthOption{nextidentity.WithLoginHint("jane@example.com")}
		})
		s := start(t, e.h, "")
		require.Equal(t, "jane@example.com", mustQuery(t, s.authURL).Get("login_hint"))
	})

	t.Run("invalid AuthOptions go to OnError without a cookie", func(t *testing.T) {
		e := newEnv(t, func(c *nihttp.Config) {
			c.AuthOptions = []nextidentity.AuthOption{nextidentity.WithParam("state", "fixed")}
		})
		resp := login(t, e.h, "")
		_, errs := e.rec.snapshot()
		require.Len(t, errs, 1)
		require.ErrorIs(t, errs[0], nextidentity.ErrInvalidConfig)
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.Nil(t, findCookie(resp, nihttp.DefaultCookieName))
		require.Empty(t, resp.Header.Get("Location"))
	})
}

func mustQuery(t testing.TB, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Query()
}

func TestLoginAndCallbackSuccess(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		t.Run(fmt.Sprintf("insecure=%v", insecure), func(t *testing.T) {
			e := newEnv(t, func(c *nihttp.Config) { c.InsecureCookie = insecure })
			s := start(t, e.h, "")
			require.Equal(t, !insecure, s.cookie.Secure)
			q := signIn(t, e.srv, s.authURL)
			tokensBefore := e.srv.Requests(nextidentitytest.EndpointToken)

			resp := callback(t, e.h, q, s.cookie)
			logins, errs := e.rec.snapshot()
			require.Empty(t, errs)
			require.Len(t, logins, 1)
			tok := logins[0].tok
			require.NotNil(t, tok)
			require.NotEmpty(t, tok.AccessToken)
			require.NotEmpty(t, tok.RawIDToken)
			require.NotNil(t, tok.IDToken, "OnLogin must get a verified ID token")
			require.Equal(t, nextidentitytest.DefaultUserEmail, tok.IDToken.Email)
			require.Equal(t, nextidentitytest.DefaultUserSubject, tok.IDToken.Subject)
			require.Equal(t, mustQuery(t, s.authURL).Get("nonce"), tok.IDToken.Nonce)
			require.Equal(t, "/", logins[0].returnTo, "DefaultReturnTo defaults to /")
			require.Equal(t, tokensBefore+1, e.srv.Requests(nextidentitytest.EndpointToken))

			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.Equal(t, "/", resp.Header.Get("Location"))
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			requireCleared(t, resp, nihttp.DefaultCookieName, !insecure)
		})
	}

	t.Run("custom cookie name and path", func(t *testing.T) {
		e := newEnv(t, func(c *nihttp.Config) {
			c.CookieName = "my_login"
			c.CookiePath = "/auth"
		})
		resp := login(t, e.h, "")
		c := findCookie(resp, "my_login")
		require.NotNil(t, c)
		q := signIn(t, e.srv, resp.Header.Get("Location"))

		// The default name is not read.
		resp = callback(t, e.h, q, &http.Cookie{Name: nihttp.DefaultCookieName, Value: c.Value})
		_, errs := e.rec.snapshot()
		require.Len(t, errs, 1)
		require.ErrorIs(t, errs[0], nihttp.ErrNoLoginState)

		resp = callback(t, e.h, q, c)
		logins, _ := e.rec.snapshot()
		require.Len(t, logins, 1)
		cleared := findCookie(resp, "my_login")
		require.NotNil(t, cleared)
		require.Less(t, cleared.MaxAge, 0)
		require.Equal(t, "/auth", cleared.Path)
	})
}

func TestReturnTo(t *testing.T) {
	const def = "/dashboard"
	tests := []struct {
		name     string
		rawQuery string // the login request's query, as sent on the wire
		want     string
	}{
		{"local path", "return_to=" + url.QueryEscape("/orders?id=1"), "/orders?id=1"},
		{"root", "return_to=/", "/"},
		{"nested path", "return_to=/a/b/c", "/a/b/c"},
		{"path with fragment", "return_to=" + url.QueryEscape("/page#top"), "/page#top"},
		{"missing", "", def},
		{"empty", "return_to=", def},
		{"scheme-relative", "return_to=//evil.example", def},
		{"scheme-relative with path", "return_to=" + url.QueryEscape("//evil.example/login"), def},
		{"triple slash", "return_to=" + url.QueryEscape("///evil.example"), def},
		{"quadruple slash", "return_to=" + url.QueryEscape("////evil.example"), def},
		{"slash backslash slash", "return_to=" + url.QueryEscape("/\\/evil.example"), def},
		{"backslash", "return_to=" + url.QueryEscape("/\\evil.example"), def},
		{"double backslash", "return_to=" + url.QueryEscape("\\\\evil.example"), def},
		{"absolute https", "return_to=" + url.QueryEscape("https://evil.example"), def},
		{"absolute http", "return_to=" + url.QueryEscape("http://evil.example/x"), def},
		{"javascript", "return_to=" + url.QueryEscape("javascript:alert(1)"), def},
		{"data url", "return_to=" + url.QueryEscape("data:text/html,<script>alert(1)</script>"), def},
		{"relative", "return_to=orders", def},
		{"CRLF header injection", "return_to=/%0d%0aSet-Cookie:x", def},
		{"LF", "return_to=/%0aSet-Cookie:x", def},
		{"tab then slash (browsers strip tabs)", "return_to=/%09/evil.example", def},
		{"newline then slash (browsers strip newlines)", "return_to=/%0a/evil.example", def},
		{"NUL", "return_to=/%00evil", def},
		{"userinfo-looking", "return_to=" + url.QueryEscape("https://127.0.0.1@evil.example"), def},
		{"two values, first wins", "return_to=/first&return_to=//evil.example", "/first"},
		{"two values, first bad", "return_to=//evil.example&return_to=/second", def},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *nihttp.Config) { c.DefaultReturnTo = def })
			s := start(t, e.h, tc.rawQuery)
			q := signIn(t, e.srv, s.authURL)
			resp := callback(t, e.h, q, s.cookie)
			logins, errs := e.rec.snapshot()
			require.Empty(t, errs)
			require.Len(t, logins, 1)
			require.Equal(t, tc.want, logins[0].returnTo)
			// What the recorder's OnLogin redirects to stays on this site.
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Empty(t, loc.Scheme)
			require.Empty(t, loc.Host)
		})
	}
}

func TestCallbackFailures(t *testing.T) {
	type setup struct {
		e      *env
		s      started    // a sign-in started on e
		q      url.Values // the provider's answer to s
		cookie *http.Cookie
	}
	tests := []struct {
		name string
		// prepare returns the query and cookie the callback gets, starting
		// from a genuine sign-in: each case breaks exactly one thing.
		prepare func(t *testing.T, su *setup) (url.Values, *http.Cookie)
		wantErr error
		status  int
		// tokenRequests is how many token requests the callback may make.
		tokenRequests int
		// noCookie: the callback got no login cookie, so has none to clear.
		noCookie bool
	}{
		{
			name:     "missing cookie",
			prepare:  func(t *testing.T, su *setup) (url.Values, *http.Cookie) { return su.q, nil },
			wantErr:  nihttp.ErrNoLoginState,
			status:   http.StatusBadRequest,
			noCookie: true,
		},
		{
			name: "empty cookie",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				return su.q, &http.Cookie{Name: nihttp.DefaultCookieName, Value: ""}
			},
			wantErr:  nihttp.ErrNoLoginState,
			status:   http.StatusBadRequest,
			noCookie: true,
		},
		{
			name: "cookie under another name",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				return su.q, &http.Cookie{Name: "other", Value: su.cookie.Value}
			},
			wantErr:  nihttp.ErrNoLoginState,
			status:   http.StatusBadRequest,
			noCookie: true,
		},
		{
			name: "tampered cookie",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				v := []byte(su.cookie.Value)
				i := len(v) / 2
				if v[i] == 'A' {
					v[i] = 'B'
				} else {
					v[i] = 'A'
				}
				return su.q, &http.Cookie{Name: nihttp.DefaultCookieName, Value: string(v)}
			},
			wantErr: nihttp.ErrTampered,
			status:  http.StatusBadRequest,
		},
		{
			name: "garbage cookie",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				return su.q, &http.Cookie{Name: nihttp.DefaultCookieName, Value: "not-a-sealed-value"}
			},
			wantErr: nihttp.ErrTampered,
			status:  http.StatusBadRequest,
		},
		{
			name: "huge cookie",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				return su.q, &http.Cookie{Name: nihttp.DefaultCookieName, Value: strings.Repeat("A", 8000)}
			},
			wantErr: nihttp.ErrTampered,
			status:  http.StatusBadRequest,
		},
		{
			name: "expired cookie",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				v := reseal(t, su.e.key, su.cookie.Value, mustSealer(t, su.e.key), nihttp.DefaultCookieName, -time.Minute)
				return su.q, &http.Cookie{Name: nihttp.DefaultCookieName, Value: v}
			},
			wantErr: nihttp.ErrExpired,
			status:  http.StatusBadRequest,
		},
		{
			name: "cookie sealed with a retired key",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				v := reseal(t, su.e.key, su.cookie.Value, mustSealer(t, newKey(t)), nihttp.DefaultCookieName, time.Minute)
				return su.q, &http.Cookie{Name: nihttp.DefaultCookieName, Value: v}
			},
			wantErr: nihttp.ErrTampered,
			status:  http.StatusBadRequest,
		},
		{
			name: "cookie sealed under another name",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				v := reseal(t, su.e.key, su.cookie.Value, mustSealer(t, su.e.key), "ni_session", time.Minute)
				return su.q, &http.Cookie{Name: nihttp.DefaultCookieName, Value: v}
			},
			wantErr: nihttp.ErrTampered,
			status:  http.StatusBadRequest,
		},
		{
			name: "state mismatch (cookie from another sign-in)",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				other := start(t, su.e.h, "")
				return su.q, other.cookie
			},
			wantErr: nextidentity.ErrStateMismatch,
			status:  http.StatusBadRequest,
		},
		{
			name: "state missing from the callback",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				q := cloneValues(su.q)
				q.Del("state")
				return q, su.cookie
			},
			wantErr: nextidentity.ErrStateMismatch,
			status:  http.StatusBadRequest,
		},
		{
			name: "issuer mismatch",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				q := cloneValues(su.q)
				q.Set("iss", "https://evil.example")
				return q, su.cookie
			},
			wantErr: nextidentity.ErrIssuerMismatch,
			status:  http.StatusBadRequest,
		},
		{
			name: "code missing",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				q := cloneValues(su.q)
				q.Del("code")
				return q, su.cookie
			},
			wantErr: nextidentity.ErrMissingCode,
			status:  http.StatusBadRequest,
		},
		{
			name: "access denied",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				return url.Values{
					"error":             {"access_denied"},
					"error_description": {"The user cancelled the sign-in."},
					"state":             {su.q.Get("state")},
					"iss":               {su.q.Get("iss")},
				}, su.cookie
			},
			wantErr: nextidentity.ErrAccessDenied,
			status:  http.StatusForbidden,
		},
		{
			name: "login required",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				return url.Values{"error": {"login_required"}, "state": {su.q.Get("state")}}, su.cookie
			},
			wantErr: nextidentity.ErrLoginRequired,
			status:  http.StatusForbidden,
		},
		{
			name: "forged code",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				q := cloneValues(su.q)
				q.Set("code", "AAAAAAAAAAAAAA")
				return q, su.cookie
			},
			wantErr:       nextidentity.ErrInvalidGrant,
			status:        http.StatusBadGateway,
			tokenRequests: 1,
		},
		{
			name: "token endpoint fails",
			prepare: func(t *testing.T, su *setup) (url.Values, *http.Cookie) {
				su.e.srv.FailNext(nextidentitytest.EndpointToken, 1, http.StatusInternalServerError, "<html>boom</html>")
				return su.q, su.cookie
			},
			wantErr:       nextidentity.ErrMalformedResponse,
			status:        http.StatusBadGateway,
			tokenRequests: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			su := &setup{e: e}
			su.s = start(t, e.h, "return_to=/secret")
			su.cookie = su.s.cookie
			su.q = signIn(t, e.srv, su.s.authURL)
			q, cookie := tc.prepare(t, su)
			before := e.srv.Requests(nextidentitytest.EndpointToken)

			resp := callback(t, e.h, q, cookie)

			logins, errs := e.rec.snapshot()
			require.Empty(t, logins, "OnLogin must not be called")
			require.Len(t, errs, 1, "OnError must be called once")
			require.ErrorIs(t, errs[0], tc.wantErr)
			require.Equal(t, tc.status, nihttp.StatusCode(errs[0]))
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, tc.tokenRequests, e.srv.Requests(nextidentitytest.EndpointToken)-before,
				"unexpected token requests")
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			require.Empty(t, resp.Header.Get("Location"))
			if tc.noCookie {
				require.Nil(t, findCookie(resp, nihttp.DefaultCookieName))
			} else {
				requireCleared(t, resp, nihttp.DefaultCookieName, true)
			}
			requireQuietBody(t, resp, errs[0], q, cookie)
		})
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// requireQuietBody checks that an error page reveals nothing: not the
// error's text, the code, the state, or the cookie.
func requireQuietBody(t testing.TB, resp *http.Response, err error, q url.Values, cookie *http.Cookie) {
	t.Helper()
	body := readAll(t, resp)
	require.NotEmpty(t, body)
	require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.NotContains(t, body, err.Error())
	require.NotContains(t, body, "nihttp:")
	require.NotContains(t, body, "nextidentity:")
	for _, k := range []string{"code", "state", "error_description"} {
		if v := q.Get(k); v != "" {
			require.NotContains(t, body, v, "body echoes %s", k)
		}
	}
	if cookie != nil && cookie.Value != "" {
		require.NotContains(t, body, cookie.Value)
	}
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestCallbackAfterLoginTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *nihttp.Config) { c.LoginTTL = time.Second })
	s := start(t, e.h, "")
	require.Equal(t, 1, s.cookie.MaxAge)
	q := signIn(t, e.srv, s.authURL)
	// The sealed expiry has one-second resolution: after two seconds the
	// sign-in has expired, even though the browser still sends the cookie.
	time.Sleep(2100 * time.Millisecond)
	before := e.srv.Requests(nextidentitytest.EndpointToken)
	resp := callback(t, e.h, q, s.cookie)
	logins, errs := e.rec.snapshot()
	require.Empty(t, logins)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], nihttp.ErrExpired)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, before, e.srv.Requests(nextidentitytest.EndpointToken))
	requireCleared(t, resp, nihttp.DefaultCookieName, true)
}

func TestCallbackReplay(t *testing.T) {
	e := newEnv(t, nil)
	s := start(t, e.h, "")
	q := signIn(t, e.srv, s.authURL)

	resp := callback(t, e.h, q, s.cookie)
	requireCleared(t, resp, nihttp.DefaultCookieName, true)
	logins, errs := e.rec.snapshot()
	require.Len(t, logins, 1)
	require.Empty(t, errs)

	// An attacker who captured the cookie and the callback URL replays both:
	// the cookie still opens (it is stateless), but the code is one-time.
	before := e.srv.Requests(nextidentitytest.EndpointToken)
	resp = callback(t, e.h, q, s.cookie)
	logins, errs = e.rec.snapshot()
	require.Len(t, logins, 1, "a replayed callback must not sign in")
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], nextidentity.ErrInvalidGrant)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Equal(t, before+1, e.srv.Requests(nextidentitytest.EndpointToken))
	requireCleared(t, resp, nihttp.DefaultCookieName, true)
	requireQuietBody(t, resp, errs[0], q, s.cookie)
}

func TestCallbackStateMismatchBetweenTwoLogins(t *testing.T) {
	e := newEnv(t, nil)
	a := start(t, e.h, "return_to=/a")
	b := start(t, e.h, "return_to=/b")
	qa := signIn(t, e.srv, a.authURL)
	qb := signIn(t, e.srv, b.authURL)
	before := e.srv.Requests(nextidentitytest.EndpointToken)

	// Login CSRF: the victim's cookie is from sign-in a, the callback from b.
	resp := callback(t, e.h, qb, a.cookie)
	logins, errs := e.rec.snapshot()
	require.Empty(t, logins)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], nextidentity.ErrStateMismatch)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, before, e.srv.Requests(nextidentitytest.EndpointToken), "no token request on a state mismatch")
	requireCleared(t, resp, nihttp.DefaultCookieName, true)

	// Each matching pair still works.
	callback(t, e.h, qa, a.cookie)
	callback(t, e.h, qb, b.cookie)
	logins, _ = e.rec.snapshot()
	require.Len(t, logins, 2)
	require.Equal(t, "/a", logins[0].returnTo)
	require.Equal(t, "/b", logins[1].returnTo)
}

func TestCallbackDefaultOnError(t *testing.T) {
	// Without an OnError the handlers answer with DefaultOnError.
	srv := newServer(t)
	client := newClient(t, srv)
	rec := &recorder{}
	h, err := nihttp.New(nihttp.Config{
		Client:   client,
		Keys:     [][]byte{newKey(t)},
		OnLogin:  rec.onLogin,
		OnLogout: rec.onLogout,
	})
	require.NoError(t, err)

	resp := callback(t, h, url.Values{"code": {"c"}, "state": {"s"}}, nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.NotContains(t, readAll(t, resp), nihttp.ErrNoLoginState.Error())

	s := start(t, h, "")
	q := url.Values{"error": {"access_denied"}, "state": {mustQuery(t, s.authURL).Get("state")}}
	resp = callback(t, h, q, s.cookie)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	requireCleared(t, resp, nihttp.DefaultCookieName, true)
	logins, _ := rec.snapshot()
	require.Empty(t, logins)
}

func TestDefaultOnErrorRevealsNothing(t *testing.T) {
	const secret = "eyJhbGciOiJSUzI1NiJ9.SECRET-ID-TOKEN.sig access_token=SECRETACCESS"
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"tampered", fmt.Errorf("%w: %s", nihttp.ErrTampered, secret), http.StatusBadRequest},
		{"expired", fmt.Errorf("%w: %s", nihttp.ErrExpired, secret), http.StatusBadRequest},
		{"access denied", &nextidentity.Error{Endpoint: "authorize", Code: "access_denied", Description: secret}, http.StatusForbidden},
		{"invalid grant", &nextidentity.Error{Endpoint: "token", StatusCode: 400, Code: "invalid_grant", Description: secret}, http.StatusBadGateway},
		{"provider body", &nextidentity.Error{Endpoint: "token", StatusCode: 500, Body: secret}, http.StatusBadGateway},
		{"other", errors.New(secret), http.StatusInternalServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			nihttp.DefaultOnError(w, httptest.NewRequest(http.MethodGet, appURL+"/callback", nil), tc.err)
			require.Equal(t, tc.status, w.Code)
			require.Equal(t, "text/plain; charset=utf-8", w.Header().Get("Content-Type"))
			require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
			body := w.Body.String()
			require.NotEmpty(t, strings.TrimSpace(body))
			require.NotContains(t, body, "SECRET")
			require.NotContains(t, body, "eyJ")
			require.NotContains(t, body, tc.err.Error())
			require.NotContains(t, body, "<")
		})
	}
}

func TestKeyRotationAcrossInstances(t *testing.T) {
	srv := newServer(t)
	client := newClient(t, srv)
	k1, k2 := newKey(t), newKey(t)

	mk := func(keys ...[]byte) (*nihttp.Handlers, *recorder) {
		rec := &recorder{}
		h, err := nihttp.New(nihttp.Config{
			Client:   client,
			Keys:     keys,
			OnLogin:  rec.onLogin,
			OnError:  rec.onError,
			OnLogout: rec.onLogout,
		})
		require.NoError(t, err)
		return h, rec
	}
	a, _ := mk(k1)           // an instance not yet rotated
	b, recB := mk(k2, k1)    // a rotated instance
	c, recC := mk(k2)        // an instance that has retired k1
	d, recD := mk(newKey(t)) // an instance with an unrelated key

	// Login on A, callback on B: works.
	s := start(t, a, "return_to=/rotated")
	q := signIn(t, srv, s.authURL)
	resp := callback(t, b, q, s.cookie)
	logins, errs := recB.snapshot()
	require.Empty(t, errs)
	require.Len(t, logins, 1)
	require.Equal(t, "/rotated", logins[0].returnTo)
	require.Equal(t, nextidentitytest.DefaultUserEmail, logins[0].tok.IDToken.Email)
	requireCleared(t, resp, nihttp.DefaultCookieName, true)

	// Login on B (sealed with k2), callback on C: works.
	s = start(t, b, "")
	q = signIn(t, srv, s.authURL)
	callback(t, c, q, s.cookie)
	logins, errs = recC.snapshot()
	require.Empty(t, errs)
	require.Len(t, logins, 1)

	// Login on A (k1), callback on C (k1 retired): refused.
	s = start(t, a, "")
	q = signIn(t, srv, s.authURL)
	before := srv.Requests(nextidentitytest.EndpointToken)
	resp = callback(t, c, q, s.cookie)
	logins, errs = recC.snapshot()
	require.Len(t, logins, 1)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], nihttp.ErrTampered)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, before, srv.Requests(nextidentitytest.EndpointToken))
	requireCleared(t, resp, nihttp.DefaultCookieName, true)

	// And an unrelated key opens nothing.
	callback(t, d, q, s.cookie)
	logins, errs = recD.snapshot()
	require.Empty(t, logins)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], nihttp.ErrTampered)
}

func TestLogout(t *testing.T) {
	tests := []struct {
		name     string
		post     string
		hint     string
		wantPost bool
		wantHint bool
	}{
		{"post-logout URL and hint", appURL + "/signed-out", "raw.id.token", true, true},
		{"no hint", appURL + "/signed-out", "", true, false},
		{"no post-logout URL", "", "raw.id.token", false, true},
		{"nothing", "", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *nihttp.Config) { c.PostLogoutRedirectURL = tc.post })
			e.rec.logoutHnt = tc.hint
			w := httptest.NewRecorder()
			require.NotPanics(t, func() {
				e.h.Logout(w, httptest.NewRequest(http.MethodPost, appURL+"/logout", nil))
			})
			resp := w.Result()
			require.Equal(t, 1, e.rec.logouts, "OnLogout must be called once")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))

			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, e.srv.URL+string(nextidentitytest.EndpointEndSession), loc.Scheme+"://"+loc.Host+loc.Path)
			q := loc.Query()
			require.Equal(t, nextidentitytest.DefaultClientID, q.Get("client_id"))
			require.Equal(t, tc.wantPost, q.Has("post_logout_redirect_uri"))
			require.Equal(t, tc.post, q.Get("post_logout_redirect_uri"))
			require.Equal(t, tc.wantHint, q.Has("id_token_hint"))
			require.Equal(t, tc.hint, q.Get("id_token_hint"))
		})
	}

	t.Run("provider accepts the logout after a real sign-in", func(t *testing.T) {
		e := newEnv(t, func(c *nihttp.Config) { c.PostLogoutRedirectURL = appURL + "/signed-out" })
		s := start(t, e.h, "")
		q := signIn(t, e.srv, s.authURL)
		callback(t, e.h, q, s.cookie)
		logins, _ := e.rec.snapshot()
		require.Len(t, logins, 1)
		e.rec.logoutHnt = logins[0].tok.RawIDToken

		w := httptest.NewRecorder()
		e.h.Logout(w, httptest.NewRequest(http.MethodPost, appURL+"/logout", nil))
		require.Equal(t, http.StatusSeeOther, w.Code)
		require.Equal(t, logins[0].tok.RawIDToken, mustQuery(t, w.Header().Get("Location")).Get("id_token_hint"))

		// The provider ends its session and sends the browser back.
		target, _, err := e.srv.Browse(context.Background(), w.Header().Get("Location"))
		require.NoError(t, err)
		require.Equal(t, appURL+"/signed-out", target.String())

		// The provider session is gone: a prompt=none sign-in needs a login.
		ar, err := e.client.AuthCodeURL(nextidentity.WithPrompt("none"))
		require.NoError(t, err)
		cq, err := e.srv.Authorize(context.Background(), ar.URL)
		require.NoError(t, err)
		require.Equal(t, "login_required", cq.Get("error"))
	})
}

func TestStatusCode(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"access denied", &nextidentity.Error{Endpoint: "authorize", Code: "access_denied"}, http.StatusForbidden},
		{"access denied wrapped", wrap(&nextidentity.Error{Endpoint: "authorize", Code: "access_denied"}), http.StatusForbidden},
		{"access denied sentinel", nextidentity.ErrAccessDenied, http.StatusForbidden},
		{"login required", &nextidentity.Error{Endpoint: "authorize", Code: "login_required"}, http.StatusForbidden},
		{"no login state", nihttp.ErrNoLoginState, http.StatusBadRequest},
		{"tampered", wrap(nihttp.ErrTampered), http.StatusBadRequest},
		{"expired", wrap(nihttp.ErrExpired), http.StatusBadRequest},
		{"state mismatch", wrap(nextidentity.ErrStateMismatch), http.StatusBadRequest},
		{"missing code", nextidentity.ErrMissingCode, http.StatusBadRequest},
		{"callback issuer mismatch", wrap(nextidentity.ErrIssuerMismatch), http.StatusBadRequest},
		{"id_token issuer mismatch", fmt.Errorf("%w: %w", nextidentity.ErrInvalidIDToken, nextidentity.ErrIssuerMismatch), http.StatusBadGateway},
		{"invalid id_token", wrap(nextidentity.ErrInvalidIDToken), http.StatusBadGateway},
		{"nonce mismatch in id_token", fmt.Errorf("%w: %w", nextidentity.ErrInvalidIDToken, nextidentity.ErrNonceMismatch), http.StatusBadGateway},
		{"invalid grant", &nextidentity.Error{Endpoint: "token", StatusCode: 400, Code: "invalid_grant"}, http.StatusBadGateway},
		{"invalid client", &nextidentity.Error{Endpoint: "token", StatusCode: 401, Code: "invalid_client"}, http.StatusBadGateway},
		{"provider 500", &nextidentity.Error{Endpoint: "token", StatusCode: 500, Body: "oops"}, http.StatusBadGateway},
		{"malformed response", wrap(nextidentity.ErrMalformedResponse), http.StatusBadGateway},
		{"response too large", wrap(nextidentity.ErrResponseTooLarge), http.StatusBadGateway},
		{"too large to seal", wrap(nihttp.ErrTooLarge), http.StatusInternalServerError},
		{"invalid config", nextidentity.ErrInvalidConfig, http.StatusInternalServerError},
		{"network", errors.New("dial tcp: connection refused"), http.StatusInternalServerError},
		{"context canceled", context.Canceled, http.StatusInternalServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, nihttp.StatusCode(tc.err))
		})
	}
}
