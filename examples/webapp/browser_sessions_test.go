package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/browsertest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// sessionCookieNames lists the session cookies the browser holds for base
// (they are HttpOnly, so they are read over the DevTools protocol).
func sessionCookieNames(t *testing.T, ctx context.Context, base string) []string {
	t.Helper()
	res, err := chromedp.Run(ctx, func(ctx context.Context, tgt *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tgt, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
	})
	require.NoError(t, err)
	var names []string
	for _, c := range res.Cookies {
		if strings.HasPrefix(c.Name, sessionCookie) {
			names = append(names, c.Name)
		}
	}
	return names
}

// signInOnProviderPage fills the provider's hosted sign-in form in the tab
// of ctx, which must show it, and waits until the app shows waitID.
func signInOnProviderPage(t *testing.T, ctx context.Context, email, password, waitID string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("signin-form")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID(waitID)),
	))
}

// TestBrowserTwoTabsLargeClaimsAndLogout: two tabs that start signing in
// at once both finish; a user whose custom claims need several session
// cookies signs in; logout ends the session for the whole browser.
func TestBrowserTwoTabsLargeClaimsAndLogout(t *testing.T) {
	browsertest.Path(t)
	ta := startApp(t)
	// ~5 KB that the cookie store's compression cannot shrink much.
	r := rand.New(rand.NewPCG(5, 5))
	noise := make([]byte, 5000)
	for i := range noise {
		noise[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[r.IntN(62)]
	}
	bio := "Analytical engines weave algebraic patterns. " + string(noise)
	ta.provider.AddUser(nextidentitytest.User{
		Email: "grace@example.com", Password: "cobol", Name: "Grace Hopper", EmailVerified: true,
		Claims: map[string]any{"bio": bio},
	})
	tab1 := browsertest.New(t)
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, "reading %s", sel)
		return strings.TrimSpace(v)
	}

	// Both tabs start a sign-in before either finishes.
	require.NoError(t, chromedp.Do(tab1, chromedp.Navigate(ta.base+"/login?return_to=%2Fprofile"),
		chromedp.WaitVisible(chromedp.ID("signin-form"))))
	// A second tab of the same browser (made after the browser started, or
	// chromedp would start a second browser with its own cookies).
	tab2, cancel := chromedp.NewContext(tab1)
	defer cancel()
	require.NoError(t, chromedp.Do(tab2, chromedp.Navigate(ta.base+"/login?return_to=%2F"),
		chromedp.WaitVisible(chromedp.ID("signin-form"))))
	signInOnProviderPage(t, tab2, "ada@example.com", "correct horse", "profile")
	signInOnProviderPage(t, tab1, "ada@example.com", "correct horse", "name")
	require.Equal(t, "Ada Lovelace", text(tab1, "#name"))

	// Sign out, then in as the user with large claims.
	require.NoError(t, chromedp.Do(tab1,
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("message-title")),
	))
	require.Equal(t, "Signed out", text(tab1, "#message-title"))
	require.NoError(t, chromedp.Do(tab1, chromedp.Navigate(ta.base+"/profile")))
	signInOnProviderPage(t, tab1, "grace@example.com", "cobol", "name")
	require.Equal(t, "Grace Hopper", text(tab1, "#name"))
	require.Contains(t, text(tab1, "td.custom-claim"), "Analytical engines")
	cookies := sessionCookieNames(t, tab1, ta.base)
	require.Greater(t, len(cookies), 1, "a session this large spans several cookies: %v", cookies)

	// Logout ends the session for the whole browser: no session cookie is
	// left, and the other tab's next page goes through the provider again.
	require.NoError(t, chromedp.Do(tab1,
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("message-title")),
	))
	require.Empty(t, sessionCookieNames(t, tab1, ta.base))
	authorizations := ta.provider.Requests(nextidentitytest.EndpointAuthorize)
	require.NoError(t, chromedp.Do(tab2, chromedp.Navigate(ta.base+"/profile")))
	require.Greater(t, ta.provider.Requests(nextidentitytest.EndpointAuthorize), authorizations,
		"the other tab was still signed in after logout")
}
