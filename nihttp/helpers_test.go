package nihttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// Cookie names with the default config (Secure cookies, "__Host-" prefix).
const (
	sessionCookie = "__Host-" + nihttp.DefaultSessionCookieName
	loginPrefix   = "__Host-" + nihttp.DefaultLoginCookieName + "_"
	loopCookie    = "__Host-" + nihttp.DefaultLoginCookieName + "-loop"
)

var badEscape = regexp.MustCompile(`%(?:[^0-9A-Fa-f]|.[^0-9A-Fa-f]|.?$)`)

// browserResolve reads a Location header as a browser does (WHATWG URL
// parsing of a special scheme) and resolves it against base: leading and
// trailing C0 controls and spaces are dropped, ASCII tab, LF and CR are
// removed anywhere, and every "\" is read as "/".
func browserResolve(t testing.TB, base, loc string) *url.URL {
	t.Helper()
	s := strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(s)
	s = badEscape.ReplaceAllString(s, "%25") // browsers keep a stray "%"
	b, err := url.Parse(base)
	require.NoError(t, err)
	ref, err := url.Parse(s)
	require.NoError(t, err, "Location %q does not parse", loc)
	return b.ResolveReference(ref)
}

// requireOnApp checks that loc, read as a browser reads it, stays on a.
func requireOnApp(t testing.TB, a *app, loc string) *url.URL {
	t.Helper()
	base, err := url.Parse(a.url)
	require.NoError(t, err)
	u := browserResolve(t, a.url, loc)
	require.Equal(t, base.Scheme, u.Scheme, "Location %q changes the scheme", loc)
	require.Equal(t, base.Host, u.Host, "Location %q leaves the app", loc)
	require.Empty(t, u.User, "Location %q has userinfo", loc)
	return u
}

// errRecorder records what OnError gets and answers like DefaultOnError.
type errRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (rc *errRecorder) option(c *nihttp.Config) { c.OnError = rc.onError }

func (rc *errRecorder) onError(w http.ResponseWriter, r *http.Request, err error) {
	rc.mu.Lock()
	rc.errs = append(rc.errs, err)
	rc.mu.Unlock()
	nihttp.DefaultOnError(w, r, err)
}

func (rc *errRecorder) take() []error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.errs
	rc.errs = nil
	return out
}

// newInstance starts another app instance behind the same URL as a (a load
// balancer's second backend): it shares a's Client, so the provider's
// redirects still name a, but has its own Handlers built from opts. The
// browser's jar sends it a's cookies, since cookies ignore ports.
func newInstance(t testing.TB, p *provider, a *app, opts ...appOption) *app {
	t.Helper()
	cfg := nihttp.Config{
		Client:                a.client,
		Now:                   p.clock.Now,
		PostLogoutRedirectURL: a.url + "/signed-out",
		AuthOptions:           []nextidentity.AuthOption{nextidentity.WithOfflineAccess()},
	}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := nihttp.New(cfg)
	require.NoError(t, err)
	b := &app{h: h, client: a.client}
	b.ts = httptest.NewUnstartedServer(b.routes())
	b.ts.StartTLS()
	t.Cleanup(b.ts.Close)
	b.url = b.ts.URL
	return b
}

// withKeys sets Config.Keys.
func withKeys(keys ...[]byte) appOption {
	return func(c *nihttp.Config) { c.Keys = keys }
}

// loginCookies returns the browser's login-state cookies for a (not the
// loop guard's).
func (b *browser) loginCookies(a *app) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range b.cookies(a) {
		if strings.HasPrefix(c.Name, loginPrefix) && c.Name != loopCookie {
			out = append(out, c)
		}
	}
	return out
}

// sessionCookies returns the names of the browser's session cookies for a
// (the first and its numbered chunks).
func (b *browser) sessionCookies(a *app) map[string]string {
	out := map[string]string{}
	for _, c := range b.cookies(a) {
		if c.Name == sessionCookie || strings.HasPrefix(c.Name, sessionCookie+".") {
			out[c.Name] = c.Value
		}
	}
	return out
}

// plant sets a cookie in the browser's jar for a, as an attacker who can
// write the browser's cookies (a sibling subdomain, plain HTTP) would.
func (b *browser) plant(a *app, c *http.Cookie) {
	u, _ := url.Parse(a.url)
	b.jar.SetCookies(u, []*http.Cookie{c})
}

// signedIn reports whether the browser's session on a serves /private/.
func (b *browser) signedIn(a *app) bool {
	b.t.Helper()
	resp, _ := b.get(a.url + "/private/x")
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusFound {
		b.t.Fatalf("GET /private/x answered %d", resp.StatusCode)
	}
	return resp.StatusCode == http.StatusOK
}

// sessionOf returns the session a.h finds for the browser's cookies.
func (b *browser) sessionOf(a *app) (*nihttp.Session, error) {
	req := httptest.NewRequest(http.MethodGet, a.url+"/private/x", nil)
	for _, c := range b.cookies(a) {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return a.h.Session(httptest.NewRecorder(), req)
}

// setCookieNamed returns the last Set-Cookie of resp for name, or nil.
func setCookieNamed(resp *http.Response, name string) *http.Cookie {
	var found *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == name {
			found = c
		}
	}
	return found
}

// requireQuietBody checks that an error page reveals nothing: not the
// error's text, a package prefix, the callback's code, state or error
// description, nor a cookie value.
func requireQuietBody(t testing.TB, resp *http.Response, body string, err error, q url.Values, cookies ...*http.Cookie) {
	t.Helper()
	require.NotEmpty(t, strings.TrimSpace(body))
	require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	if err != nil {
		require.NotContains(t, body, err.Error())
	}
	require.NotContains(t, body, "nihttp:")
	require.NotContains(t, body, "nextidentity:")
	for _, k := range []string{"code", "state", "error_description", "iss"} {
		if v := q.Get(k); v != "" {
			require.NotContains(t, body, v, "body echoes %s", k)
		}
	}
	for _, c := range cookies {
		if c != nil && len(c.Value) > 8 {
			require.NotContains(t, body, c.Value)
		}
	}
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// flakyStore is a SessionStore whose methods fail while down is set (or
// only Delete, with deleteDown), as a Redis that cannot be reached does.
type flakyStore struct {
	*nihttp.MemoryStore
	mu               sync.Mutex
	down, deleteDown bool
}

var errStoreDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (f *flakyStore) set(down, deleteDown bool) {
	f.mu.Lock()
	f.down, f.deleteDown = down, deleteDown
	f.mu.Unlock()
}

func (f *flakyStore) fail(deleting bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down || deleting && f.deleteDown {
		return errStoreDown
	}
	return nil
}

func (f *flakyStore) Save(ctx context.Context, s *nihttp.Session, ttl time.Duration) (string, error) {
	if err := f.fail(false); err != nil {
		return "", err
	}
	return f.MemoryStore.Save(ctx, s, ttl)
}

func (f *flakyStore) Load(ctx context.Context, v string) (*nihttp.Session, error) {
	if err := f.fail(false); err != nil {
		return nil, err
	}
	return f.MemoryStore.Load(ctx, v)
}

func (f *flakyStore) Delete(ctx context.Context, s *nihttp.Session) error {
	if err := f.fail(true); err != nil {
		return err
	}
	return f.MemoryStore.Delete(ctx, s)
}

func (f *flakyStore) Lock(ctx context.Context, id string, ttl time.Duration) (func(), error) {
	if err := f.fail(false); err != nil {
		return nil, err
	}
	return f.MemoryStore.Lock(ctx, id, ttl)
}

// rawGet GETs rawURL with the jar's cookies straight through the
// transport, storing the cookies the response sets: unlike http.Client it
// does not parse the Location header, which a browser reads more leniently
// (a stray "%" is kept, not an error).
func (b *browser) rawGet(rawURL string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	require.NoError(b.t, err)
	for _, c := range b.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	resp, err := b.hc.Transport.RoundTrip(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	b.jar.SetCookies(req.URL, resp.Cookies())
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(body)
}
