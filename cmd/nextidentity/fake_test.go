package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// startFake runs "nextidentity fake -addr 127.0.0.1:0 -json args..." until
// the returned stop is called, and returns the JSON it printed first.
func startFake(t *testing.T, args ...string) (info fakeInfo, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	errOut := &syncBuffer{}
	c := newCLI(func(string) string { return "" }, strings.NewReader(""), pw, errOut)
	done := make(chan int, 1)
	go func() {
		done <- c.run(ctx, append([]string{"fake", "-addr", "127.0.0.1:0", "-json"}, args...))
		pw.Close()
	}()
	line := readLine(t, pr)
	require.NoError(t, json.Unmarshal([]byte(line), &info), line)
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain anything else
	stopped := false
	stop = func() (int, string) {
		stopped = true
		cancel()
		return <-done, errOut.String()
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return info, stop
}

func TestFakeServesDefaultsAndStopsOnCancel(t *testing.T) {
	info, stop := startFake(t)
	require.True(t, strings.HasPrefix(info.Issuer, "http://127.0.0.1:"), info.Issuer)
	require.Equal(t, info.Issuer+"/.well-known/openid-configuration", info.Discovery)
	require.Equal(t, []fakeClient{{
		ID: nextidentitytest.DefaultClientID, Secret: nextidentitytest.DefaultClientSecret,
		RedirectURIs: []string{nextidentitytest.DefaultRedirectURI},
	}}, info.Clients)
	require.Equal(t, []fakeLogin{{
		Email: nextidentitytest.DefaultUserEmail, Password: nextidentitytest.DefaultUserPassword,
		Subject: nextidentitytest.DefaultUserSubject,
	}}, info.Users)

	// The library can use it as a tenant.
	client, err := nextidentity.New(t.Context(), nextidentity.Config{
		Issuer: info.Issuer, ClientID: info.Clients[0].ID, ClientSecret: info.Clients[0].Secret,
		RedirectURL: info.Clients[0].RedirectURIs[0],
	})
	require.NoError(t, err)
	client.Close()

	code, stderr := stop()
	require.Equal(t, exitOK, code)
	require.Contains(t, stderr, "fake provider stopped")
	host := strings.TrimPrefix(info.Issuer, "http://")
	_, err = net.DialTimeout("tcp", host, time.Second)
	require.Error(t, err, "the port is closed after the stop")
}

func TestFakeTextOutputStartsWithIssuer(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	c := newTestCLI(nil, "")
	done := make(chan int, 1)
	go func() { done <- c.run(ctx, []string{"fake", "-addr", "127.0.0.1:0"}) }()
	require.Eventually(t, func() bool { return strings.Contains(c.out.String(), "stop with Ctrl-C") }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.Equal(t, exitOK, <-done)
	out := c.out.String()
	require.True(t, strings.HasPrefix(out, "issuer:"), out)
	for _, want := range []string{
		"client:     test-client  secret: test-secret",
		"redirect: http://127.0.0.1/callback",
		"user:       jane@example.com  password: password",
		"export NEXTIDENTITY_ISSUER=http://127.0.0.1:",
	} {
		require.Contains(t, out, want)
	}
}

func TestFakeWithConfigFile(t *testing.T) {
	info, stop := startFake(t, "-config", filepath.Join("..", "..", "testdata", "fake.json"))
	require.Len(t, info.Clients, 3)
	require.Equal(t, []string{"orders:read", "orders:write"}, info.Clients[2].Scopes)
	require.Equal(t, "web-app", info.Clients[0].ID)
	require.Equal(t, []string{"http://localhost:5173/callback"}, info.Clients[1].RedirectURIs)
	require.Equal(t, "ada@example.com", info.Users[0].Email)
	require.Empty(t, info.Users[1].Subject, "bob has a random subject")

	resp, err := http.Get(info.Discovery)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	code, _ := stop()
	require.Equal(t, exitOK, code)
}

func TestFakeFailures(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"signing_alg":"none"}`), 0o600))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"address in use", []string{"-addr", busy.Addr().String()}, "choose another -addr"},
		{"missing config", []string{"-addr", "127.0.0.1:0", "-config", filepath.Join(t.TempDir(), "nope.json")}, "no such file"},
		{"bad config", []string{"-addr", "127.0.0.1:0", "-config", bad}, `signing_alg "none"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, nil, "", append([]string{"fake"}, tc.args...)...)
			require.Equal(t, exitFail, code)
			require.Contains(t, stderr, tc.want)
		})
	}
}

// TestFakePrintedVariablesWork: the variables "fake" prints for the example
// app and the other subcommands work as printed: login -no-browser signs
// in with them. The printed redirect URL has the example app's port; the
// fake accepts its loopback redirect URI on any port (RFC 8252 §7.3), so
// the test may move it to a free port without registering anything.
func TestFakePrintedVariablesWork(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	fake := newTestCLI(nil, "")
	done := make(chan int, 1)
	go func() { done <- fake.run(ctx, []string{"fake", "-addr", "127.0.0.1:0"}) }()
	t.Cleanup(func() { cancel(); <-done })
	exports := regexp.MustCompile(`(?m)^  export (.+)$`)
	var line string
	require.Eventually(t, func() bool {
		if m := exports.FindStringSubmatch(fake.out.String()); m != nil {
			line = m[1]
		}
		return line != ""
	}, 10*time.Second, 10*time.Millisecond)
	env := map[string]string{}
	for _, kv := range strings.Fields(line) {
		k, v, ok := strings.Cut(kv, "=")
		require.True(t, ok, kv)
		env[k] = v
	}
	require.Equal(t, "http://127.0.0.1:8080/callback", env[envRedirectURL], "a port the example app and login use as printed")
	for _, k := range []string{envIssuer, envClientID, envClientSecret} {
		require.NotEmpty(t, env[k], k)
	}
	_, err := loopbackRedirect(env[envRedirectURL])
	require.NoError(t, err, "login takes the printed redirect URL")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	env[envRedirectURL] = "http://" + ln.Addr().String() + "/callback"
	c := newTestCLI(env, "")
	c.listen = func(string, string) (net.Listener, error) { return ln, nil }
	c.openBrowser = func(context.Context, string) error { t.Error("a browser was opened with -no-browser"); return nil }
	loginDone := make(chan int, 1)
	go func() { loginDone <- c.run(t.Context(), []string{"login", "-no-browser", "-wait", "30s"}) }()
	authURL := printedAuthURL(t, c)
	callback := signInOverHTTP(t, authURL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.True(t, strings.HasPrefix(callback, env[envRedirectURL]+"?"), callback)
	require.NoError(t, visit(t.Context(), callback))
	require.Equal(t, exitOK, <-loginDone, c.errOut.String())
	require.Contains(t, c.out.String(), "Signed in as "+nextidentitytest.DefaultUserSubject)
}

// signInOverHTTP signs in at a fake provider running as a process (so no
// nextidentitytest.Browser), as a browser would: it opens authURL, posts
// the hosted sign-in form, and returns the provider's redirect back to the
// application without following it.
func signInOverHTTP(t *testing.T, authURL, email, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	form := regexp.MustCompile(`<form id="signin-form" method="post" action="([^"]+)">\s*<input type="hidden" name="request" value="([^"]+)">`).FindStringSubmatch(string(page))
	require.NotNil(t, form, "the hosted sign-in form")
	action, err := resp.Request.URL.Parse(html.UnescapeString(form[1]))
	require.NoError(t, err)
	resp, err = hc.PostForm(action.String(), url.Values{
		"request": {html.UnescapeString(form[2])}, "email": {email}, "password": {password}, "action": {"signin"},
	})
	for range 5 { // the provider's own redirects, up to the one that leaves it
		require.NoError(t, err)
		resp.Body.Close()
		require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode)
		next, perr := resp.Request.URL.Parse(resp.Header.Get("Location"))
		require.NoError(t, perr)
		if next.Host != action.Host || strings.HasPrefix(next.Path, "/callback") {
			return next.String()
		}
		resp, err = hc.Get(next.String()) // checked at the top of the loop
	}
	t.Fatal("the provider did not redirect back to the application")
	return ""
}
