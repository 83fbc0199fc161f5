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
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// testApp is the app under httptest with its own fake provider, and a
// browser-like client (a cookie jar, no redirects followed).
type testApp struct {
	base     string
	provider *nextidentitytest.Server
	hc       *http.Client
}

func startApp(t *testing.T) *testApp {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{{
		ID: "own-screens", Secret: "own-screens-secret", RedirectURIs: []string{base + "/reset"},
	}}})
	t.Cleanup(provider.Close)
	client, err := nextidentity.New(t.Context(), provider.Config())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	a, err := newApp(appConfig{Account: account.New(client), Outbox: provider.Outbox,
		Demo:   &demoUser{Email: nextidentitytest.DefaultUserEmail, Password: nextidentitytest.DefaultUserPassword},
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ts.Config.Handler = a.routes()
	ts.Start()
	t.Cleanup(ts.Close)
	jar, _ := cookiejar.New(nil)
	return &testApp{base: base, provider: provider, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// post submits a form and returns the status, the Location and the body.
func (ta *testApp) post(t *testing.T, path string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := ta.hc.PostForm(ta.base+path, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func (ta *testApp) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := ta.hc.Get(ta.base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// pin is the code of the latest message of kind to email in the outbox.
func (ta *testApp) pin(t *testing.T, email string, kind nextidentitytest.MessageKind) string {
	t.Helper()
	msg, ok := ta.provider.LastMessage(email)
	require.True(t, ok, "a message to %s", email)
	require.Equal(t, kind, msg.Kind)
	require.Len(t, msg.PIN, 6)
	return msg.PIN
}

// TestJourneys runs every screen's journey over HTTP: sign up, verify,
// sign in with the terms, sign out, forgot and reset the password, sign in
// with the new one; and the refusals on the way.
func TestJourneys(t *testing.T) {
	ta := startApp(t)
	const email = "ada@example.com"

	status, _, body := ta.post(t, "/signup", url.Values{"email": {email}, "first_name": {"Ada"}, "password": {"first-Secret-1"}, "confirm": {"other"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "The two passwords differ.")

	status, loc, _ := ta.post(t, "/signup", url.Values{"email": {email}, "first_name": {"Ada"}, "password": {"first-Secret-1"}, "confirm": {"first-Secret-1"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/verify?done=registered&email=ada%40example.com", loc)

	// Not verified yet: the sign-in says so and leads to the code.
	status, _, body = ta.post(t, "/signin", url.Values{"email": {email}, "password": {"first-Secret-1"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "Verify your email first")
	require.Contains(t, body, `id="verify-link"`)

	status, _, body = ta.post(t, "/verify", url.Values{"email": {email}, "pin": {"000000"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	status, loc, _ = ta.post(t, "/verify", url.Values{"email": {email}, "pin": {ta.pin(t, email, nextidentitytest.MessageVerification)}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/signin?done=verified&email=ada%40example.com", loc)

	status, _, body = ta.post(t, "/signin", url.Values{"email": {email}, "password": {"wrong"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "The email or password is wrong.")

	// A new account has not accepted the terms: the terms screen first.
	status, loc, _ = ta.post(t, "/signin", url.Values{"email": {email}, "password": {"first-Secret-1"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/terms", loc)
	status, loc, _ = ta.post(t, "/terms", url.Values{"accept": {"yes"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/", loc)
	_, body = ta.get(t, "/")
	require.Contains(t, body, `Signed in as <strong id="account">ada@example.com</strong>`)

	status, loc, _ = ta.post(t, "/signout", nil)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/?done=signedout", loc)
	_, body = ta.get(t, "/")
	require.NotContains(t, body, `id="account"`)

	// Forgot password: the same answer for an unknown address.
	status, loc, _ = ta.post(t, "/forgot", url.Values{"email": {"nobody@example.com"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/reset?done=sent&email=nobody%40example.com", loc)
	status, _, _ = ta.post(t, "/forgot", url.Values{"email": {email}})
	require.Equal(t, http.StatusSeeOther, status)
	status, loc, _ = ta.post(t, "/reset", url.Values{"email": {email}, "pin": {ta.pin(t, email, nextidentitytest.MessageForgotPassword)},
		"password": {"second-Secret-2"}, "confirm": {"second-Secret-2"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/signin?done=reset&email=ada%40example.com", loc)

	// The terms are accepted now: straight in, with the new password only.
	status, _, _ = ta.post(t, "/signin", url.Values{"email": {email}, "password": {"first-Secret-1"}})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	status, loc, _ = ta.post(t, "/signin", url.Values{"email": {email}, "password": {"second-Secret-2"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/", loc)
}

// TestDecliningTheTermsSignsNobodyIn, and the waiting code is used once.
func TestDecliningTheTermsSignsNobodyIn(t *testing.T) {
	ta := startApp(t)
	ta.provider.AddUser(nextidentitytest.User{Email: "new@example.com", Password: "pw-New-1", EmailVerified: true})
	_, loc, _ := ta.post(t, "/signin", url.Values{"email": {"new@example.com"}, "password": {"pw-New-1"}})
	require.Equal(t, "/terms", loc)
	status, loc, _ := ta.post(t, "/terms", url.Values{"accept": {"no"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/?done=declined", loc)
	status, _, body := ta.post(t, "/terms", url.Values{"accept": {"yes"}})
	require.Equal(t, http.StatusBadRequest, status, "the declined sign-in is gone")
	require.Contains(t, body, "That sign-in expired")
	_, body = ta.get(t, "/")
	require.NotContains(t, body, `id="account"`)
}

// TestTooManyAttempts: the provider's five-per-minute rule on /token
// reaches the user as a wait, not as "wrong password".
func TestTooManyAttempts(t *testing.T) {
	ta := startApp(t)
	var body string
	for range 8 {
		_, _, body = ta.post(t, "/signin", url.Values{"email": {nextidentitytest.DefaultUserEmail}, "password": {nextidentitytest.DefaultUserPassword}})
		if strings.Contains(body, "Too many attempts") {
			break
		}
		ta.post(t, "/signout", nil)
	}
	require.Contains(t, body, "Too many attempts: try again in")
}

func TestSecurityHeadersAndCrossSitePosts(t *testing.T) {
	ta := startApp(t)
	for _, path := range []string{"/", "/signin", "/signup", "/forgot", "/outbox"} {
		resp, err := ta.hc.Get(ta.base + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, ta.base+"/signin",
		strings.NewReader(url.Values{"email": {"a@example.com"}, "password": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := ta.hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestHelpExitsZero(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(context.Background(), []string{"-h"}, func(string) string { return "" }, &out, nil))
	require.Contains(t, out.String(), "-addr")
}
