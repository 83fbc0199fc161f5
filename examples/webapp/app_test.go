package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// testApp is the app served by httptest against its own fake provider, and a
// minimal browser for it: it keeps cookies by hand, because net/http's
// cookiejar never sends Secure cookies over http, even to loopback.
type testApp struct {
	base     string
	provider *nextidentitytest.Server
	cookies  map[string]*http.Cookie
	hc       *http.Client
}

func startApp(t *testing.T) *testApp {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{
		Clients: []nextidentitytest.Client{{
			ID: "webapp", Secret: "webapp-secret",
			RedirectURIs:           []string{base + "/callback"},
			PostLogoutRedirectURIs: []string{base + "/signed-out"},
		}},
	})
	t.Cleanup(provider.Close)
	provider.AddUser(nextidentitytest.User{
		Email: "ada@example.com", Password: "correct horse", Name: "Ada Lovelace",
		EmailVerified: true, Locale: "en-GB", Claims: map[string]any{"plan": "analytical"},
	})
	client, err := nextidentity.New(context.Background(), provider.Config())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	a, err := newApp(appConfig{
		Client: client, CookieKey: bytes.Repeat([]byte{7}, 32), BaseURL: base,
		Demo: &demoUser{Email: "ada@example.com", Password: "correct horse"}, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	ts.Config.Handler = a.routes()
	ts.Start()
	t.Cleanup(ts.Close)
	return &testApp{
		base: base, provider: provider, cookies: map[string]*http.Cookie{},
		hc: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// sessionCookie is the session cookie nihttp sets (Secure, so "__Host-").
const sessionCookie = "__Host-" + nihttp.DefaultSessionCookieName

// cookieWithPrefix returns a kept cookie whose name starts with prefix.
func (ta *testApp) cookieWithPrefix(prefix string) *http.Cookie {
	for name, c := range ta.cookies {
		if strings.HasPrefix(name, prefix) {
			return c
		}
	}
	return nil
}

// do requests path (or an absolute URL of the app) with the kept cookies and
// keeps the ones the response sets.
func (ta *testApp) do(t *testing.T, method, target string) (*http.Response, string) {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = ta.base + target
	}
	req, err := http.NewRequest(method, target, nil)
	require.NoError(t, err)
	for _, c := range ta.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := ta.hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(ta.cookies, c.Name)
		} else {
			ta.cookies[c.Name] = c
		}
	}
	return resp, string(body)
}

func TestSignInProfileSignOut(t *testing.T) {
	ta := startApp(t)
	ctx := context.Background()

	resp, body := ta.do(t, http.MethodGet, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `id="signin"`)
	require.Contains(t, body, "ada@example.com", "demo mode shows the test user")

	resp, _ = ta.do(t, http.MethodGet, "/login?return_to=%2Fprofile")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	authURL := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(authURL, ta.provider.URL+"/authorize?"), authURL)
	login := ta.cookieWithPrefix("__Host-nihttp_login_")
	require.NotNil(t, login)
	require.True(t, login.HttpOnly && login.Secure)
	require.Equal(t, http.SameSiteLaxMode, login.SameSite)

	q, err := ta.provider.Login(ctx, authURL, "ada@example.com", "correct horse")
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"))

	resp, _ = ta.do(t, http.MethodGet, "/callback?"+q.Encode())
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/profile", resp.Header.Get("Location"))
	require.Nil(t, ta.cookieWithPrefix("__Host-nihttp_login_"), "the login cookie is single-use")
	require.Contains(t, ta.cookies, sessionCookie)

	resp, body = ta.do(t, http.MethodGet, "/profile")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `<td id="name">Ada Lovelace</td>`)
	require.Contains(t, body, `<td id="email">ada@example.com</td>`)
	require.Contains(t, body, `<td id="email-verified">yes</td>`)
	require.Contains(t, body, `<td id="locale">en-GB</td>`)
	require.Contains(t, body, "<th>plan</th>")
	require.Contains(t, body, "<code>analytical</code>", "custom claims are shown")
	require.Equal(t, 1, ta.provider.Requests(nextidentitytest.EndpointUserInfo))

	resp, _ = ta.do(t, http.MethodPost, "/logout")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.NotContains(t, ta.cookies, sessionCookie)
	logout, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "/endsession", logout.Path)
	require.Equal(t, ta.base+"/signed-out", logout.Query().Get("post_logout_redirect_uri"))
	require.Equal(t, "webapp", logout.Query().Get("client_id"))

	landed, _, err := ta.provider.Browse(ctx, logout.String())
	require.NoError(t, err)
	require.Equal(t, ta.base+"/signed-out", landed.Scheme+"://"+landed.Host+landed.Path)
	resp, body = ta.do(t, http.MethodGet, landed.String())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "You are signed out.")

	resp, _ = ta.do(t, http.MethodGet, "/profile")
	require.Equal(t, http.StatusFound, resp.StatusCode, "signed out: the profile asks to sign in")
}

func TestProfileNeedsASession(t *testing.T) {
	ta := startApp(t)
	resp, _ := ta.do(t, http.MethodGet, "/profile")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/login?return_to=%2Fprofile", resp.Header.Get("Location"))

	ta.cookies[sessionCookie] = &http.Cookie{Name: sessionCookie, Value: "forged"}
	resp, _ = ta.do(t, http.MethodGet, "/profile")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.NotContains(t, ta.cookies, sessionCookie, "a forged session cookie is dropped")
}

func TestSignInFailures(t *testing.T) {
	ta := startApp(t)

	resp, body := ta.do(t, http.MethodGet, "/callback?code=abc&state=xyz")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "no sign-in was started")
	require.Contains(t, body, "Sign-in failed")

	resp, _ = ta.do(t, http.MethodGet, "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	state := mustQuery(t, resp.Header.Get("Location")).Get("state")
	resp, body = ta.do(t, http.MethodGet, "/callback?error=access_denied&state="+state)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, body, "Sign-in was cancelled or refused.")
	require.Zero(t, ta.provider.Requests(nextidentitytest.EndpointToken))

	// The provider fails the token request: the app says so, in a page.
	resp, _ = ta.do(t, http.MethodGet, "/login")
	q, err := ta.provider.Login(context.Background(), resp.Header.Get("Location"), "ada@example.com", "correct horse")
	require.NoError(t, err)
	ta.provider.FailNext(nextidentitytest.EndpointToken, 1, http.StatusBadGateway, "<html>bad gateway</html>")
	resp, body = ta.do(t, http.MethodGet, "/callback?"+q.Encode())
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Contains(t, body, "could not complete the sign-in")
	require.NotContains(t, ta.cookies, sessionCookie)
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Query()
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := configFromEnv(env(map[string]string{"NEXTIDENTITY_ISSUER": "https://id.example.com"}))
	require.ErrorContains(t, err, "NEXTIDENTITY_CLIENT_ID")
	_, err = configFromEnv(env(map[string]string{
		"NEXTIDENTITY_ISSUER": "https://id.example.com", "NEXTIDENTITY_CLIENT_ID": "c",
		"NEXTIDENTITY_REDIRECT_URL": "https://app.example.com/elsewhere",
	}))
	require.ErrorContains(t, err, "/callback")
	cfg, err := configFromEnv(env(map[string]string{
		"NEXTIDENTITY_ISSUER": "https://id.example.com/", "NEXTIDENTITY_CLIENT_ID": "c",
		"NEXTIDENTITY_CLIENT_SECRET": "s", "NEXTIDENTITY_REDIRECT_URL": "https://app.example.com/callback",
	}))
	require.NoError(t, err)
	require.Equal(t, "https://id.example.com/", cfg.Issuer, "the issuer is kept exactly")
	require.Equal(t, "s", cfg.ClientSecret)

	_, err = cookieKey("abcd")
	require.Error(t, err)
	k, err := cookieKey(strings.Repeat("ab", 32))
	require.NoError(t, err)
	require.Len(t, k, 32)
}

// TestRunServesAndStops runs the main job as `go run ./examples/webapp` does,
// on a free port, and stops it through its context.
func TestRunServesAndStops(t *testing.T) {
	base, stop := runApp(t)
	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), nextidentitytest.DefaultUserEmail)
	require.NoError(t, stop())
}

// runApp starts run on a free loopback port; stop ends it and returns run's
// error.
func runApp(t *testing.T) (base string, stop func() error) {
	t.Helper()
	return runAppWith(t, nil)
}

// runAppWith is runApp with environment variables.
func runAppWith(t *testing.T, env map[string]string) (base string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, io.Discard, ready)
	}()
	select {
	case base = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("the app did not start")
	}
	var once bool
	stop = func() error {
		if once {
			return nil
		}
		once = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return context.DeadlineExceeded
		}
	}
	t.Cleanup(func() { _ = stop() })
	return base, stop
}
