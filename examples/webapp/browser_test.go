package main

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// chromiumPath finds Debian's Chromium. Without it the browser test skips,
// except in CI (CI=true), where .ci/run installs it and its absence is a
// failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found; CI must install Debian's chromium (see .ci/run)")
	}
	t.Skip("no Chromium on this machine; install Debian's chromium to run the browser test")
	return ""
}

// newChromium starts headless Chromium and returns a context for its first
// tab, bounded to a minute.
func newChromium(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestBrowserSignInAndOut drives headless Chromium through the main job:
// `go run ./examples/webapp` with its embedded provider. It opens the app,
// signs in on the hosted-login page, checks the profile, and signs out.
func TestBrowserSignInAndOut(t *testing.T) {
	exe := chromiumPath(t)
	base, stop := runApp(t)

	ctx := newChromium(t, exe)
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
	screenshot(t, ctx, "profile")

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
	screenshot(t, ctx, "signed-out")

	// Signed out of the app and of the provider: the page's Sign in
	// button asks for a sign-in again, on the provider's page.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("signin-form")),
	))
	require.NoError(t, stop())
}

// screenshot saves the page as a PNG under $WEBAPP_SCREENSHOTS when that is
// set, for a person to look at; otherwise it does nothing.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("WEBAPP_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}
