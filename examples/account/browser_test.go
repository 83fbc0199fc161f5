package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/browsertest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// TestBrowserOwnScreens drives headless Chromium through every screen of
// the example as a person would: sign up, verify with the PIN from the
// provider's outbox, sign in, accept the terms, sign out, reset the
// password with the emailed code, sign in with the new password, sign out.
func TestBrowserOwnScreens(t *testing.T) {
	browsertest.Path(t)
	ta := startApp(t)
	ctx := browsertest.New(t)
	const email = "grace@example.com"
	text := func(id string) string { t.Helper(); return strings.TrimSpace(browsertest.Text(t, ctx, id)) }
	pin := func(kind nextidentitytest.MessageKind) string { t.Helper(); return ta.pin(t, email, kind) }
	signIn := func(password string) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(ta.base+"/signin"),
			chromedp.WaitVisible(chromedp.ID("signin-form")),
			chromedp.SendKeys(chromedp.ID("email"), email),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(chromedp.ID("signin")),
		))
	}
	signOut := func() {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.ID("signout")),
			chromedp.WaitVisible(chromedp.ID("signin-link")),
		))
		require.Contains(t, text("notice"), "signed out")
	}

	// Sign up.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(ta.base+"/"),
		chromedp.Click(chromedp.ID("signup-link")),
		chromedp.WaitVisible(chromedp.ID("signup-form")),
		chromedp.SendKeys(chromedp.ID("first-name"), "Grace"),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), "first-Secret-1"),
		chromedp.SendKeys(chromedp.ID("confirm"), "first-Secret-1"),
		chromedp.Click(chromedp.ID("signup")),
		chromedp.WaitVisible(chromedp.ID("verify-form")),
	))
	require.Contains(t, text("notice"), "Account created")
	browsertest.Screenshot(t, ctx, "account-verify")

	// Verify with the PIN the provider "sent".
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("pin"), pin(nextidentitytest.MessageVerification)),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.ID("signin-form")),
	))
	require.Contains(t, text("notice"), "verified")

	// Sign in: a new account accepts the terms first.
	signIn("first-Secret-1")
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("terms-form"))))
	browsertest.Screenshot(t, ctx, "account-terms")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("accept")),
		chromedp.WaitVisible(chromedp.ID("account")),
	))
	require.Equal(t, email, text("account"))
	browsertest.Screenshot(t, ctx, "account-home")
	signOut()

	// Forgot the password: the code from the message sets a new one.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(ta.base+"/signin"),
		chromedp.Click(chromedp.ID("forgot-link")),
		chromedp.WaitVisible(chromedp.ID("forgot-form")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("reset-form")),
	))
	// Only now is the message in the outbox (Do's arguments are evaluated
	// before it runs).
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("pin"), pin(nextidentitytest.MessageForgotPassword)),
		chromedp.SendKeys(chromedp.ID("password"), "second-Secret-2"),
		chromedp.SendKeys(chromedp.ID("confirm"), "second-Secret-2"),
		chromedp.Click(chromedp.ID("reset")),
		chromedp.WaitVisible(chromedp.ID("signin-form")),
	))
	require.Contains(t, text("notice"), "password is changed")

	// The old password no longer works; the new one does, without the
	// terms this time.
	signIn("first-Secret-1")
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("error"))))
	require.Equal(t, "The email or password is wrong.", text("error"))
	signIn("second-Secret-2")
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("account"))))
	signOut()
}
