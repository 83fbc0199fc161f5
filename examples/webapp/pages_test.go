package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// signIn runs the sign-in of the test user and lands on the profile.
func (ta *testApp) signIn(t *testing.T) {
	t.Helper()
	resp, _ := ta.do(t, http.MethodGet, "/login?return_to=%2Fprofile")
	q, err := ta.provider.Login(context.Background(), resp.Header.Get("Location"), "ada@example.com", "correct horse")
	require.NoError(t, err)
	resp, _ = ta.do(t, http.MethodGet, "/callback?"+q.Encode())
	require.Equal(t, http.StatusFound, resp.StatusCode)
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	ta := startApp(t)
	for _, target := range []string{"/", "/signed-out", "/nope", "/callback?code=x&state=y", "/profile"} {
		t.Run(target, func(t *testing.T) {
			resp, _ := ta.do(t, http.MethodGet, target)
			csp := resp.Header.Get("Content-Security-Policy")
			require.Contains(t, csp, "frame-ancestors 'none'")
			require.Contains(t, csp, "form-action 'self' "+ta.provider.URL, "logout's redirect to the provider must be allowed")
			require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))
			require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		})
	}
}

func TestStyledErrorPages(t *testing.T) {
	ta := startApp(t)
	tests := []struct {
		method, target string
		status         int
		title          string
	}{
		{http.MethodGet, "/no/such/page", http.StatusNotFound, "Page not found"},
		{http.MethodGet, "/logout", http.StatusMethodNotAllowed, "Not allowed"},
		{http.MethodDelete, "/profile", http.StatusMethodNotAllowed, "Not allowed"},
		{http.MethodGet, "/callback?code=x&state=y", http.StatusBadRequest, "Sign-in failed"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			resp, body := ta.do(t, tc.method, tc.target)
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
			require.Contains(t, body, `<h1 id="message-title">`+tc.title+`</h1>`)
			retry := tc.status != http.StatusNotFound && tc.status != http.StatusMethodNotAllowed
			require.Equal(t, retry, strings.Contains(body, `id="retry"`),
				"only a failure that may pass on a second try offers Try again")
			require.Contains(t, body, `id="home"`)
		})
	}
}

// TestSignedOutPageOffersSignIn: the page after logout leads back in.
func TestSignedOutPageOffersSignIn(t *testing.T) {
	ta := startApp(t)
	resp, body := ta.do(t, http.MethodGet, "/signed-out")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `<a id="signin" class="button" href="/login?return_to=%2Fprofile">`)
}

// TestProfileShowsDates: NumericDate claims read as dates, not as
// 1.796528026e+09, and other numbers without an exponent.
func TestProfileShowsDates(t *testing.T) {
	ta := startApp(t)
	ta.signIn(t)
	_, body := ta.do(t, http.MethodGet, "/profile")
	require.NotContains(t, body, "e+0")
	for _, name := range []string{"exp", "iat", "auth_time"} {
		require.Regexp(t, `<code>`+name+`</code></th><td><code>20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC</code>`, body)
	}
}

func TestClaimValue(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"exp", float64(1796528026), "2026-12-06 03:33:46 UTC"},
		{"auth_time", float64(0), "1970-01-01 00:00:00 UTC"},
		{"exp", 1.5, "1.5"},
		{"seats", float64(1796528026), "1796528026"},
		{"ratio", 0.25, "0.25"},
		{"plan", "gold", "gold"},
		{"roles", []any{"a", "b"}, `["a","b"]`},
		{"org", map[string]any{"id": float64(7)}, `{"id":7}`},
		{"x", nil, "null"},
		{"ok", true, "true"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, claimValue(tc.name, tc.v), "%s %v", tc.name, tc.v)
	}
}

func TestCrossSitePostsRefused(t *testing.T) {
	ta := startApp(t)
	ta.signIn(t)
	for _, target := range []string{"/logout", "/refresh"} {
		req, err := http.NewRequest(http.MethodPost, ta.base+target, nil)
		require.NoError(t, err)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		for _, c := range ta.cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		resp, err := ta.hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, target)
	}
	resp, _ := ta.do(t, http.MethodGet, "/profile")
	require.Equal(t, http.StatusOK, resp.StatusCode, "a refused cross-site logout left the session alone")
}

func TestProfileRefreshNowAndClaims(t *testing.T) {
	ta := startApp(t)
	ta.signIn(t)
	_, body := ta.do(t, http.MethodGet, "/profile")
	require.Contains(t, body, `id="access-expires"`)
	require.Contains(t, body, `id="refresh"`)
	require.Contains(t, body, "<code>iss</code>", "the ID token's claims are listed")
	before := ta.provider.Requests(nextidentitytest.EndpointToken)

	require.NotContains(t, body, `id="notice"`)

	resp, _ := ta.do(t, http.MethodPost, "/refresh")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/profile?refreshed=1", resp.Header.Get("Location"))
	require.Equal(t, before+1, ta.provider.Requests(nextidentitytest.EndpointToken))
	resp, body = ta.do(t, http.MethodGet, resp.Header.Get("Location"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `id="notice"`, "Refresh now says that it worked")
}

// TestUserInfoRefusedDoesNotLoop: when /userinfo answers 401 the profile
// says so and stays signed in, instead of signing in again for ever.
func TestUserInfoRefusedDoesNotLoop(t *testing.T) {
	ta := startApp(t)
	ta.signIn(t)
	exchanges := ta.provider.Requests(nextidentitytest.EndpointToken)
	ta.provider.FailNext(nextidentitytest.EndpointUserInfo, 1, http.StatusUnauthorized, `{"error":"invalid_token"}`)
	resp, body := ta.do(t, http.MethodGet, "/profile")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, `id="userinfo-error"`)
	require.Contains(t, body, `<td id="name">Ada Lovelace</td>`, "the ID token's claims still show")
	require.Equal(t, exchanges, ta.provider.Requests(nextidentitytest.EndpointToken), "no new sign-in")
}

// TestRefreshNowAfterTheGrantEnded: when the provider refuses the refresh
// token, "Refresh now" sends the user to sign in again, not to an error.
func TestRefreshNowAfterTheGrantEnded(t *testing.T) {
	ta := startApp(t)
	ta.signIn(t)
	ta.provider.FailNext(nextidentitytest.EndpointToken, 1, http.StatusBadRequest, `{"error":"invalid_grant"}`)
	resp, _ := ta.do(t, http.MethodPost, "/refresh")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?return_to=%2Fprofile", resp.Header.Get("Location"))

	ta.signIn(t)
	ta.provider.FailNext(nextidentitytest.EndpointToken, 1, http.StatusServiceUnavailable, "down")
	resp, body := ta.do(t, http.MethodPost, "/refresh")
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Contains(t, body, "Refresh failed")
	resp, _ = ta.do(t, http.MethodGet, "/profile")
	require.Equal(t, http.StatusOK, resp.StatusCode, "an outage kept the session")
}
