package nihttp_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"net/http"
	"net/http/cookiejar"
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

// clock is a fake clock shared by the provider and the handlers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, nihttp.KeySize)
	_, _ = rand.Read(k)
	return k
}

// provider is a fake Next Identity provider with the clock, for apps on
// appURLs.
type provider struct {
	*nextidentitytest.Server
	clock *clock
}

func newProvider(t testing.TB, users []nextidentitytest.User, appURLs ...string) *provider {
	t.Helper()
	return newProviderWith(t, users, "", appURLs...)
}

// newProviderWith is newProvider whose client registers backChannelURI
// (when not empty) for back-channel logout.
func newProviderWith(t testing.TB, users []nextidentitytest.User, backChannelURI string, appURLs ...string) *provider {
	t.Helper()
	c := newClock()
	var redirects, logouts []string
	for _, u := range appURLs {
		redirects = append(redirects, u+"/callback")
		logouts = append(logouts, u+"/signed-out")
	}
	srv := nextidentitytest.NewServer(nextidentitytest.Options{
		Clients: []nextidentitytest.Client{{
			ID:                     nextidentitytest.DefaultClientID,
			Secret:                 nextidentitytest.DefaultClientSecret,
			RedirectURIs:           redirects,
			PostLogoutRedirectURIs: logouts,
			BackChannelLogoutURI:   backChannelURI,
		}},
		Users: users,
		Now:   c.Now,
	})
	t.Cleanup(srv.Close)
	return &provider{Server: srv, clock: c}
}

// app is the handlers mounted on a TLS test server, as an app mounts them.
type app struct {
	url    string
	h      *nihttp.Handlers
	client *nextidentity.Client
	ts     *httptest.Server
}

// appOptions adjust an app's nihttp.Config.
type appOption func(*nihttp.Config)

// startApps starts n app instances sharing keys (and store, when an option
// sets one), each with its own Client, and a provider that knows them.
func startApps(t testing.TB, n int, users []nextidentitytest.User, opts ...appOption) (*provider, []*app) {
	t.Helper()
	return startAppsWith(t, n, users, false, opts...)
}

// startAppsWith is startApps; with backChannel, the provider delivers
// back-channel logout tokens to the first app's BackChannelLogout (on a
// plain-HTTP server of its own: the fake provider does not trust the apps'
// test certificates, and the endpoint is server-to-server anyway).
func startAppsWith(t testing.TB, n int, users []nextidentitytest.User, backChannel bool, opts ...appOption) (*provider, []*app) {
	t.Helper()
	apps := make([]*app, n)
	var urls []string
	var handler = make([]http.Handler, n)
	for i := range apps {
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handler[i].ServeHTTP(w, r)
		}))
		ts.StartTLS()
		t.Cleanup(ts.Close)
		apps[i] = &app{url: ts.URL, ts: ts}
		urls = append(urls, ts.URL)
	}
	bcl := ""
	if backChannel {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			apps[0].h.BackChannelLogout(w, r)
		}))
		t.Cleanup(ts.Close)
		bcl = ts.URL
	}
	p := newProviderWith(t, users, bcl, urls...)
	key := newKey(t)
	for i, a := range apps {
		cfg := p.Config()
		cfg.RedirectURL = a.url + "/callback"
		cfg.Now = p.clock.Now
		client, err := nextidentity.New(context.Background(), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = client.Close() })
		ncfg := nihttp.Config{
			Client:                client,
			Keys:                  [][]byte{key},
			Now:                   p.clock.Now,
			PostLogoutRedirectURL: a.url + "/signed-out",
			AuthOptions:           []nextidentity.AuthOption{nextidentity.WithOfflineAccess()},
		}
		for _, o := range opts {
			o(&ncfg)
		}
		h, err := nihttp.New(ncfg)
		require.NoError(t, err)
		a.h, a.client = h, client
		handler[i] = a.routes()
	}
	return p, apps
}

// routes mounts the handlers and a protected page that names the session.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", a.h.Login)
	mux.HandleFunc("GET /callback", a.h.Callback)
	mux.HandleFunc("/logout", a.h.Logout)
	mux.HandleFunc("POST /refresh", func(w http.ResponseWriter, r *http.Request) {
		s, err := a.h.Refresh(w, r)
		if err != nil {
			nihttp.DefaultOnError(w, r, err)
			return
		}
		w.Write([]byte(s.Token.AccessToken))
	})
	protected := a.h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := nihttp.SessionFrom(r.Context())
		w.Header().Set("X-Session", s.ID)
		w.Header().Set("X-Subject", s.Subject)
		w.Header().Set("X-Access-Token", s.Token.AccessToken)
		w.Write([]byte("hello " + s.Token.IDToken.Email))
	}))
	mux.Handle("/private/", protected)
	mux.Handle("/recent/", a.h.RequireRecentLogin(recentMaxAge, protected)) // step-up: stepup_test.go
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("home")) })
	mux.Handle("GET /signed-out", a.h.LogoutReturn(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("signed out"))
	})))
	return mux
}

// browser is a user agent with its own cookie jar that does not follow
// redirects, so tests see every hop. One jar serves every app on
// 127.0.0.1, as a real browser's would (cookies ignore ports).
type browser struct {
	t   testing.TB
	hc  *http.Client
	jar *cookiejar.Jar
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, jar: jar, hc: &http.Client{
		Jar:       jar,
		Timeout:   20 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// do sends a request and returns the response with its body read.
func (b *browser) do(method, rawURL string, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	require.NoError(b.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.hc.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, sb.String()
}

func (b *browser) get(rawURL string) (*http.Response, string) {
	b.t.Helper()
	return b.do(http.MethodGet, rawURL, nil)
}

// logout posts to /logout as a same-origin form would.
func (b *browser) logout(a *app) *http.Response {
	b.t.Helper()
	resp, _ := b.do(http.MethodPost, a.url+"/logout", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {a.url}})
	return resp
}

// startLogin GETs a's /login and returns the provider URL it redirects to.
func (b *browser) startLogin(a *app, returnTo string) string {
	b.t.Helper()
	target := a.url + "/login"
	if returnTo != "" {
		target += "?return_to=" + url.QueryEscape(returnTo)
	}
	resp, _ := b.get(target)
	require.Equal(b.t, http.StatusFound, resp.StatusCode)
	return resp.Header.Get("Location")
}

// finish signs the user in at the provider for authURL and GETs the
// callback, returning its response.
func (b *browser) finish(p *provider, a *app, authURL, email, password string) *http.Response {
	b.t.Helper()
	q, err := p.Login(context.Background(), authURL, email, password)
	require.NoError(b.t, err)
	require.NotEmpty(b.t, q.Get("code"), "provider answered %v", q)
	resp, _ := b.get(a.url + "/callback?" + q.Encode())
	return resp
}

// signIn runs a whole sign-in of the default user on a.
func (b *browser) signIn(p *provider, a *app) *http.Response {
	b.t.Helper()
	resp := b.finish(p, a, b.startLogin(a, ""), nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.Equal(b.t, http.StatusFound, resp.StatusCode, "callback failed")
	return resp
}

// cookies returns the jar's cookies for a.
func (b *browser) cookies(a *app) []*http.Cookie {
	u, _ := url.Parse(a.url)
	return b.jar.Cookies(u)
}

// copyCookies gives other the cookies b holds for a (a stolen cookie).
func (b *browser) copyCookies(a *app, other *browser) {
	u, _ := url.Parse(a.url)
	other.jar.SetCookies(u, b.jar.Cookies(u))
}
