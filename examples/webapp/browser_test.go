package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/browsertest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// TestBrowserSignInAndOut drives headless Chromium through the main job:
// `go run ./examples/webapp` with its embedded provider. It opens the app,
// signs in on the hosted-login page, checks the profile, and signs out.
func TestBrowserSignInAndOut(t *testing.T) {
	browsertest.Path(t)
	base, stop := runApp(t)

	ctx := browsertest.New(t)
	text := func(id string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		require.NoError(t, err, "reading #%s", id)
		return strings.TrimSpace(v)
	}
	location := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		return v
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.Click(chromedp.ID("signin")),
		// The provider's hosted sign-in page.
		chromedp.WaitVisible(chromedp.ID("signin-form")),
		chromedp.SendKeys(chromedp.ID("email"), nextidentitytest.DefaultUserEmail),
		chromedp.SendKeys(chromedp.ID("password"), nextidentitytest.DefaultUserPassword),
		chromedp.Click(chromedp.ID("signin")),
		// Back in the app, on the profile page.
		chromedp.WaitVisible(chromedp.ID("name")),
	))
	require.Equal(t, base+"/profile", location())
	require.Equal(t, "Jane Doe", text("name"))
	require.Equal(t, nextidentitytest.DefaultUserEmail, text("email"))
	require.Equal(t, "yes", text("email-verified"))
	claims := text("id-claims")
	require.NotContains(t, claims, "e+0", "dates, not floats")
	require.Regexp(t, `auth_time\s+20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC`, claims)
	browsertest.Screenshot(t, ctx, "profile")

	// Refresh now says that it worked.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("refresh")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	))
	require.Contains(t, text("notice"), "refreshed")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("message-title")),
	))
	// The provider echoes the state nihttp's Logout sent (?state=...).
	signedOut, err := url.Parse(location())
	require.NoError(t, err)
	require.Equal(t, base+"/signed-out", signedOut.Scheme+"://"+signedOut.Host+signedOut.Path)
	require.NotEmpty(t, signedOut.Query().Get("state"))
	require.Equal(t, "Signed out", text("message-title"))
	browsertest.Screenshot(t, ctx, "signed-out")

	// Signed out of the app and of the provider: the page's Sign in
	// button asks for a sign-in again, on the provider's page.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("signin-form")),
	))
	require.NoError(t, stop())
}
