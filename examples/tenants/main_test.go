package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRun: go run ./examples/tenants starts, serves the index and both
// tenants, and stops with its context.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out strings.Builder
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, &syncWriter{w: &out}, ready) }()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("the app did not start")
	}
	for path, want := range map[string]string{"/": `href="/globex/"`, "/acme/": "Not signed in to acme", "/globex/": "Not signed in to globex"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, string(body), want, path)
	}
	resp, err := http.Get(base + "/initech/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no such tenant")
	cancel()
	require.NoError(t, <-done)
	require.Contains(t, out.String(), "acme: "+base+"/acme/ (sign in as ada@acme.example / password)")
}

// tenantBrowser is a browser on the demo served over TLS (so that its jar
// keeps the Secure cookies), not following redirects.
type tenantBrowser struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func startDemo(t *testing.T) (*demo, *tenantBrowser) {
	t.Helper()
	var h http.Handler
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	ts.StartTLS()
	t.Cleanup(ts.Close)
	d, err := newDemo(context.Background(), ts.URL, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(d.Close)
	h = d.Handler
	return d, newTenantBrowser(t, ts)
}

func newTenantBrowser(t *testing.T, ts *httptest.Server) *tenantBrowser {
	hc := ts.Client()
	hc.Jar, _ = cookiejar.New(nil)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &tenantBrowser{t: t, base: ts.URL, hc: hc}
}

func (b *tenantBrowser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.hc.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// signIn signs the tenant's demo user in and returns the callback's query.
func (b *tenantBrowser) signIn(d *demo, tenant string) {
	b.t.Helper()
	q := b.authorize(d, tenant)
	resp, _ := b.do(http.MethodGet, "/"+tenant+"/callback?"+q.Encode(), nil)
	require.Equal(b.t, http.StatusFound, resp.StatusCode)
	require.Equal(b.t, "/"+tenant+"/account", resp.Header.Get("Location"), "back under the tenant's prefix")
}

// authorize starts a sign-in at the tenant and completes it at its
// provider, returning the query the callback would get.
func (b *tenantBrowser) authorize(d *demo, tenant string) url.Values {
	b.t.Helper()
	resp, _ := b.do(http.MethodGet, "/"+tenant+"/account", nil)
	require.Equal(b.t, http.StatusFound, resp.StatusCode)
	require.Equal(b.t, "/"+tenant+"/login?return_to=%2Faccount", resp.Header.Get("Location"))
	resp, _ = b.do(http.MethodGet, resp.Header.Get("Location"), nil)
	require.Equal(b.t, http.StatusFound, resp.StatusCode)
	email := map[string]string{"acme": "ada@acme.example", "globex": "grace@globex.example"}[tenant]
	q, err := d.Providers[tenant].Login(context.Background(), resp.Header.Get("Location"), email, demoPassword)
	require.NoError(b.t, err)
	return q
}

func (b *tenantBrowser) user(tenant string) string {
	b.t.Helper()
	resp, body := b.do(http.MethodGet, "/"+tenant+"/", nil)
	require.Equal(b.t, http.StatusOK, resp.StatusCode)
	i := strings.Index(body, `<p id="user">`)
	require.GreaterOrEqual(b.t, i, 0)
	return body[i+len(`<p id="user">`) : i+strings.Index(body[i:], "</p>")]
}

// fresh is another browser on the same app, with an empty jar.
func (b *tenantBrowser) fresh() *tenantBrowser {
	jar, _ := cookiejar.New(nil)
	return &tenantBrowser{t: b.t, base: b.base, hc: &http.Client{Transport: b.hc.Transport, CheckRedirect: b.hc.CheckRedirect, Jar: jar}}
}

// cookies returns the jar's cookies.
func (b *tenantBrowser) cookies() []*http.Cookie {
	u, _ := url.Parse(b.base)
	return b.hc.Jar.Cookies(u)
}

func (b *tenantBrowser) plant(c *http.Cookie) {
	u, _ := url.Parse(b.base)
	b.hc.Jar.SetCookies(u, []*http.Cookie{c})
}

// TestTenantsKeepApart: what tenant A issued (a session cookie, a sign-in's
// login state, a back-channel logout token, a workflow event) is refused by
// tenant B, both ways, though both share keys and a store and their users
// share a subject.
func TestTenantsKeepApart(t *testing.T) {
	for _, pair := range [][2]string{{"acme", "globex"}, {"globex", "acme"}} {
		a, b := pair[0], pair[1]
		t.Run(a+" to "+b, func(t *testing.T) {
			d, br := startDemo(t)
			br.signIn(d, a)
			require.Contains(t, br.user(a), "Signed in to "+a)
			require.Contains(t, br.user(b), "Not signed in to "+b)

			// A's session cookie under B's name: not a session at B.
			other := br.fresh()
			for _, c := range br.cookies() {
				if strings.HasPrefix(c.Name, "__Host-nihttp_session-"+a) {
					other.plant(&http.Cookie{Name: strings.Replace(c.Name, "-"+a, "-"+b, 1), Value: c.Value, Path: "/", Secure: true})
				}
			}
			require.Contains(t, other.user(b), "Not signed in to "+b, "A's session opened at B")

			// A's sign-in finished at B's callback, with A's login state
			// under B's cookie name too: refused.
			q := other.authorize(d, a)
			for _, c := range other.cookies() {
				if strings.HasPrefix(c.Name, "__Host-nihttp_login-"+a+"_") {
					other.plant(&http.Cookie{Name: strings.Replace(c.Name, "-"+a+"_", "-"+b+"_", 1), Value: c.Value, Path: "/", Secure: true})
				}
			}
			resp, _ := other.do(http.MethodGet, "/"+b+"/callback?"+q.Encode(), nil)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "A's sign-in finished at B")
			require.Contains(t, other.user(b), "Not signed in to "+b)

			// A's back-channel logout token: refused by B, accepted by A,
			// and it ends only A's session of the shared subject.
			br.signIn(d, b)
			lt, err := d.Providers[a].SignLogoutToken(d.Providers[a].LogoutTokenClaims(a+"-web", demoSubject, ""))
			require.NoError(t, err)
			resp, _ = br.do(http.MethodPost, "/"+b+"/backchannel-logout", url.Values{"logout_token": {lt}})
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "A's logout token accepted by B")
			resp, _ = br.do(http.MethodPost, "/"+a+"/backchannel-logout", url.Values{"logout_token": {lt}})
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Contains(t, br.user(a), "Not signed in to "+a, "A's logout ended A's session")
			require.Contains(t, br.user(b), "Signed in to "+b, "A's logout ended B's session of the same subject")

			// A's workflow event: refused by B, accepted by A.
			ev, err := d.Providers[a].SignEvent(map[string]any{"account/v1/register": map[string]any{"email": "x@example.com"}})
			require.NoError(t, err)
			for tenant, want := range map[string]int{b: http.StatusBadRequest, a: http.StatusOK} {
				req, err := http.NewRequest(http.MethodPost, br.base+"/"+tenant+"/events", strings.NewReader(ev))
				require.NoError(t, err)
				resp, err := br.hc.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, want, resp.StatusCode, "A's event at %s", tenant)
			}
		})
	}
}

// syncWriter serialises writes to w: the app logs from its handlers'
// goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
