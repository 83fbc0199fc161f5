package nihttp_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// TestLogoutReturnChecksState: Logout sends a state bound to a cookie, and
// the page at PostLogoutRedirectURL is served only for that state, once.
func TestLogoutReturnChecksState(t *testing.T) {
	p, apps := startApps(t, 1, nil)
	a, b := apps[0], newBrowser(t)
	b.signIn(p, a)
	resp := b.logout(a)
	requireEndSession(t, p, a, resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	state := loc.Query().Get("state")
	require.NotEmpty(t, state, "the end-session request carries a state")

	target, _, err := p.Browse(context.Background(), loc.String())
	require.NoError(t, err)
	require.Equal(t, state, target.Query().Get("state"), "the provider echoes it")

	// Forged or stale returns are refused, and do not use up the state.
	other := newBrowser(t)
	got, _ := other.get(target.String())
	require.Equal(t, http.StatusBadRequest, got.StatusCode, "another browser")
	for _, q := range []string{"", "?state=forged", "?state=" + url.QueryEscape(state) + "&state=" + url.QueryEscape(state)} {
		got, body := b.get(a.url + "/signed-out" + q)
		require.Equal(t, http.StatusBadRequest, got.StatusCode, q)
		require.Contains(t, body, "sign-out link")
		// The refusal deleted the cookie: sign out again for the next try.
		b.signIn(p, a)
		resp = b.logout(a)
		loc, err = url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		target, _, err = p.Browse(context.Background(), loc.String())
		require.NoError(t, err)
	}

	got, body := b.get(target.String())
	require.Equal(t, http.StatusOK, got.StatusCode)
	require.Equal(t, "signed out", body)
	got, _ = b.get(target.String())
	require.Equal(t, http.StatusBadRequest, got.StatusCode, "a state serves once")
	require.Equal(t, http.StatusBadRequest, nihttp.StatusCode(nihttp.ErrLogoutState))
}
