package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// loginSetup is a fake provider with a client whose redirect URL is a
// loopback listener the test opened, so no port can be taken in between.
type loginSetup struct {
	srv      *nextidentitytest.Server
	ln       net.Listener
	redirect string
	env      map[string]string
	// pages receives the body of each page the fake browser landed on at
	// the loopback callback.
	pages chan string
}

func newLoginSetup(t *testing.T, opts nextidentitytest.Options) *loginSetup {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	redirect := "http://" + ln.Addr().String() + "/callback"
	opts.Clients = []nextidentitytest.Client{{ID: "cli", Secret: "cli-secret", RedirectURIs: []string{redirect}}}
	srv := newFake(t, opts)
	return &loginSetup{srv: srv, ln: ln, redirect: redirect, pages: make(chan string, 4), env: map[string]string{
		envIssuer: srv.Issuer(), envClientID: "cli", envClientSecret: "cli-secret", envRedirectURL: redirect,
	}}
}

// cli returns a command whose listener is the setup's and whose browser is
// browse (nil: a browser must not be opened).
func (s *loginSetup) cli(t *testing.T, browse func(ctx context.Context, authURL string) error) *testCLI {
	c := newTestCLI(s.env, "")
	c.listen = func(network, addr string) (net.Listener, error) {
		require.Equal(t, s.ln.Addr().String(), addr)
		return s.ln, nil
	}
	c.openBrowser = func(ctx context.Context, u string) error {
		if browse == nil {
			t.Errorf("a browser was opened with -no-browser")
			return nil
		}
		return browse(ctx, u)
	}
	return c
}

// fakeBrowser is a new fake browser (its own cookie jar) that signs in at
// the fake's hosted form with email and password, then follows the
// provider's redirect to the loopback callback, as a browser would: in the
// background, since opening a browser returns at once and the callback's
// page waits for the terminal's result. The page lands in s.pages.
func (s *loginSetup) fakeBrowser(t *testing.T, email, password string) func(ctx context.Context, authURL string) error {
	b := s.srv.NewBrowser()
	return func(ctx context.Context, authURL string) error {
		q, err := b.Login(ctx, authURL, email, password)
		if err != nil {
			t.Errorf("fake browser: %v", err)
			return err
		}
		done := make(chan struct{})
		t.Cleanup(func() { <-done })
		go func() {
			defer close(done)
			page, err := visitPage(context.WithoutCancel(ctx), s.redirect+"?"+q.Encode())
			if err != nil {
				t.Errorf("fake browser at the callback: %v", err)
			}
			s.pages <- page
		}()
		return nil
	}
}

// visitPage requests u and returns the page.
func visitPage(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Timeout: 40 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func visit(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func TestLoginEndToEnd(t *testing.T) {
	s := newLoginSetup(t, nextidentitytest.Options{})
	c := s.cli(t, s.fakeBrowser(t, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword))
	code := c.run(t.Context(), []string{"login", "-json", "-offline", "-wait", "30s"})
	require.Equal(t, exitOK, code, c.errOut.String())

	var rep loginReport
	require.NoError(t, json.Unmarshal([]byte(c.out.String()), &rep), c.out.String())
	require.Equal(t, nextidentitytest.DefaultUserSubject, rep.Subject)
	var claims, info map[string]any
	require.NoError(t, json.Unmarshal(rep.IDTokenClaims, &claims))
	require.NoError(t, json.Unmarshal(rep.UserInfo, &info))
	require.Equal(t, "cli", claims["aud"])
	require.Equal(t, nextidentitytest.DefaultUserEmail, info["email"])
	require.Equal(t, "gold", info["membership"])

	// Masked by default: the JSON says so, and no token appears whole.
	require.Empty(t, rep.Warnings, "-offline brought a refresh token")
	require.True(t, rep.Tokens.Masked)
	require.Contains(t, rep.Tokens.AccessToken, "-show-tokens to show")
	require.Contains(t, rep.Tokens.RefreshToken, "-show-tokens to show")
	require.Contains(t, rep.Tokens.IDToken, "-show-tokens to show")
	require.NotRegexp(t, regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.`), c.out.String())
	require.Contains(t, c.errOut.String(), "Opened the browser")
	page := <-s.pages
	require.Contains(t, page, `Signed in as <span id="account" class="account">jane@example.com</span>`, "the page says which account signed in")
}

func TestLoginShowTokensAndText(t *testing.T) {
	s := newLoginSetup(t, nextidentitytest.Options{})
	c := s.cli(t, s.fakeBrowser(t, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword))
	code := c.run(t.Context(), []string{"login", "-show-tokens", "-wait", "30s"})
	require.Equal(t, exitOK, code, c.errOut.String())
	out := c.out.String()
	require.Contains(t, out, "Signed in as "+nextidentitytest.DefaultUserSubject+" (jane@example.com); the ID token verified.")
	require.Contains(t, out, `"membership": "gold"`)
	require.Contains(t, out, "/userinfo: {")
	require.Regexp(t, `id_token:\s+eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n`, out)
	require.NotContains(t, out, "-show-tokens to show")
}

// printedAuthURL waits for login -no-browser to print the sign-in URL on
// stderr and returns it.
func printedAuthURL(t *testing.T, c *testCLI) string {
	t.Helper()
	printed := regexp.MustCompile(`(?m)^  (http://\S+/authorize\?\S+)$`)
	var authURL string
	require.Eventually(t, func() bool {
		if m := printed.FindStringSubmatch(c.errOut.String()); m != nil {
			authURL = m[1]
		}
		return authURL != ""
	}, 10*time.Second, 10*time.Millisecond)
	return authURL
}

// With -no-browser the URL goes to stderr and the user opens it.
func TestLoginNoBrowser(t *testing.T) {
	s := newLoginSetup(t, nextidentitytest.Options{})
	c := s.cli(t, nil)
	done := make(chan int, 1)
	go func() { done <- c.run(t.Context(), []string{"login", "-no-browser", "-wait", "30s"}) }()

	authURL := printedAuthURL(t, c)
	require.NoError(t, s.fakeBrowser(t, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)(t.Context(), authURL))
	require.Equal(t, exitOK, <-done, c.errOut.String())
	require.Contains(t, c.errOut.String(), "Open this URL in a browser")
}

func TestLoginFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		browse func(s *loginSetup, t *testing.T) func(ctx context.Context, u string) error
		want   string
	}{
		{"the user cancels", nil, func(s *loginSetup, t *testing.T) func(context.Context, string) error {
			return func(ctx context.Context, u string) error {
				au, err := url.Parse(u)
				require.NoError(t, err)
				return visit(ctx, s.redirect+"?"+url.Values{
					"error": {"access_denied"}, "error_description": {"The user cancelled the sign-in."},
					"state": {au.Query().Get("state")}, "iss": {s.srv.Issuer()},
				}.Encode())
			}
		}, "access_denied: The user cancelled the sign-in."},
		{"the browser never comes back", []string{"-wait", "50ms"}, func(*loginSetup, *testing.T) func(context.Context, string) error {
			return func(context.Context, string) error { return nil }
		}, "did not come back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLoginSetup(t, nextidentitytest.Options{})
			c := s.cli(t, tc.browse(s, t))
			args := append([]string{"login", "-wait", "30s"}, tc.args...)
			code := c.run(t.Context(), args)
			require.Equal(t, exitFail, code)
			require.Contains(t, c.errOut.String(), tc.want)
			require.Empty(t, c.out.String())
		})
	}
}

func TestLoginBrowserFailsToOpen(t *testing.T) {
	s := newLoginSetup(t, nextidentitytest.Options{})
	c := s.cli(t, func(context.Context, string) error { return net.ErrClosed })
	code := c.run(t.Context(), []string{"login", "-wait", "50ms"})
	require.Equal(t, exitFail, code)
	require.Contains(t, c.errOut.String(), "Could not open a browser")
	require.Contains(t, c.errOut.String(), "/authorize?")
}

func TestLoginUsage(t *testing.T) {
	env := map[string]string{envIssuer: "http://127.0.0.1:1", envClientID: "cli"}
	for _, tc := range []struct{ redirect, want string }{
		{"", "-redirect-url (or $NEXTIDENTITY_REDIRECT_URL) is required"},
		{"https://app.example.com/callback", "must be http on a loopback host"},
		{"http://192.0.2.1:8080/callback", "must be http on a loopback host"},
		{"http://127.0.0.1/callback", "needs an explicit port"},
	} {
		t.Run(tc.redirect, func(t *testing.T) {
			code, _, stderr := runCmd(t, env, "", "login", "-redirect-url", tc.redirect)
			require.Equal(t, exitUsage, code)
			require.Contains(t, stderr, tc.want)
		})
	}
}

func TestLoginAuthStyle(t *testing.T) {
	s := newLoginSetup(t, nextidentitytest.Options{})
	c := s.cli(t, s.fakeBrowser(t, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword))
	require.Equal(t, exitOK, c.run(t.Context(), []string{"login", "-auth-style", "post", "-wait", "30s"}), c.errOut.String())

	code, _, stderr := runCmd(t, s.env, "", "login", "-auth-style", "jwt")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `-auth-style "jwt": want basic or post`)
}

func TestLoginPortInUse(t *testing.T) {
	s := newLoginSetup(t, nextidentitytest.Options{})
	// The real listen: the setup's listener holds the port.
	c := newTestCLI(s.env, "")
	code := c.run(t.Context(), []string{"login", "-wait", "50ms"})
	require.Equal(t, exitFail, code)
	require.Contains(t, c.errOut.String(), "cannot listen on the redirect URL's address")
}

func TestLoopbackRedirect(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8765/callback", "http://[::1]:8765/cb", "http://localhost:8765", "http://127.0.0.2:1/x"} {
		_, err := loopbackRedirect(ok)
		require.NoError(t, err, ok)
	}
}

func TestCallbackHandler(t *testing.T) {
	callbacks := make(chan callback, 1)
	got := make(chan url.Values, 1)
	go func() { // the terminal: it takes the one sign-in and answers the page
		cb := <-callbacks
		got <- cb.query
		cb.done <- signInResult{Title: "Signed in", Account: "jane@example.com", Message: "The terminal has the tokens.", OK: true}
	}()
	h := callbackHandler("/callback", "s", callbacks)
	for _, tc := range []struct {
		target string
		status int
		want   string
	}{
		{"/callback?code=forged&state=x", http.StatusBadRequest, "Not this sign-in"},
		{"/callback?code=forged", http.StatusBadRequest, "Not this sign-in"},
		{"/callback?error=access_denied", http.StatusBadRequest, "Not this sign-in"},
		{"/callback?code=forged&state=s&state=s", http.StatusBadRequest, "Not this sign-in"},
		{"/callback?code=c&state=s", http.StatusOK, `Signed in as <span id="account" class="account">jane@example.com</span>`},
		{"/callback?code=again&state=s", http.StatusOK, "Already received"},
		{"/favicon.ico", http.StatusNotFound, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.target, nil))
		require.Equal(t, tc.status, rec.Code, tc.target)
		require.Contains(t, rec.Body.String(), tc.want)
		if tc.status == http.StatusOK {
			require.Contains(t, rec.Body.String(), "<style>", "styled like the hosted pages")
		}
	}
	require.Equal(t, url.Values{"code": {"c"}, "state": {"s"}}, <-got)

	errs := make(chan callback, 1)
	go func() {
		cb := <-errs
		cb.done <- signInResult{Title: "Sign-in failed", Message: "See the terminal."}
	}()
	rec := httptest.NewRecorder()
	callbackHandler("/cb", "st", errs).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cb?state=st&error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E", nil))
	require.Contains(t, rec.Body.String(), "access_denied: &lt;b&gt;no&lt;/b&gt;", "escaped")
	require.Contains(t, rec.Body.String(), "Sign-in failed")
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}

// A local web page can send requests to the loopback callback before the
// provider's redirect arrives (a forged code, an error, no state at all):
// each is answered 400, and the sign-in that follows still succeeds.
func TestLoginIgnoresDriveByRequests(t *testing.T) {
	s := newLoginSetup(t, nextidentitytest.Options{})
	signIn := s.fakeBrowser(t, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	c := s.cli(t, func(ctx context.Context, authURL string) error {
		au, err := url.Parse(authURL)
		require.NoError(t, err)
		iss := url.QueryEscape(s.srv.Issuer())
		for _, q := range []string{
			"code=stolen&state=not-mine&iss=" + iss,
			"error=access_denied&error_description=drive-by&iss=" + iss,
			"code=stolen",
			"code=stolen&state=" + url.QueryEscape(au.Query().Get("state")[1:]),
		} {
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(s.redirect + "?" + q)
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		}
		return signIn(ctx, authURL)
	})
	code := c.run(t.Context(), []string{"login", "-json", "-wait", "30s"})
	require.Equal(t, exitOK, code, c.errOut.String())
	var rep loginReport
	require.NoError(t, json.Unmarshal([]byte(c.out.String()), &rep), c.out.String())
	require.Equal(t, nextidentitytest.DefaultUserSubject, rep.Subject)
}

func TestLoginWarnings(t *testing.T) {
	require.Len(t, loginWarnings(true, &nextidentity.Token{AccessToken: "a"}), 1)
	require.Contains(t, loginWarnings(true, &nextidentity.Token{AccessToken: "a"})[0], "offline_access")
	require.Empty(t, loginWarnings(true, &nextidentity.Token{AccessToken: "a", RefreshToken: "r"}))
	require.Empty(t, loginWarnings(false, &nextidentity.Token{AccessToken: "a"}), "no refresh token was asked for")
}

// TestLoginChecksTheRedirectURLFirst: with a redirect URL the tenant does
// not know, login says what to register at once instead of opening a
// browser on the provider's error page and waiting for a redirect that
// never comes.
func TestLoginChecksTheRedirectURLFirst(t *testing.T) {
	s := newLoginSetup(t, nextidentitytest.Options{})
	s.env[envRedirectURL] = s.redirect + "-not-registered"
	c := s.cli(t, func(context.Context, string) error {
		t.Error("a browser was opened for a redirect URL the provider refuses")
		return nil
	})
	start := time.Now()
	code := c.run(t.Context(), []string{"login", "-wait", "5m"})
	require.Equal(t, exitFail, code)
	require.Less(t, time.Since(start), time.Minute, "no wait for the browser")
	stderr := c.errOut.String()
	require.Contains(t, stderr, "will not sign in with this redirect URL")
	require.Contains(t, stderr, "is not registered for this application")
	require.Contains(t, stderr, "fix: register "+s.redirect+"-not-registered exactly")
}
