package nihttp_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// TestCallbackEnforcesMaxAge: a max_age sent with the sign-in
// (nextidentity.WithMaxAge in AuthOptions) travels in the login cookie, so
// the callback refuses an ID token whose auth_time is too old.
func TestCallbackEnforcesMaxAge(t *testing.T) {
	p, apps := startApps(t, 1, nil)
	a, b := apps[0], newBrowser(t)
	b.signIn(p, a) // the provider's session starts now (auth_time)
	p.clock.Advance(10 * time.Minute)

	// A sign-in in another app browser (no app session there) reuses the
	// provider session; its login cookie says max_age was 5 minutes (as
	// WithMaxAge(5*time.Minute) would record).
	b = newBrowser(t)
	authURL := b.startLogin(a, "")
	u, err := url.Parse(authURL)
	require.NoError(t, err)
	name := a.h.LoginCookieNameForTest(u.Query().Get("state"))
	var st map[string]any
	for _, c := range b.cookies(a) {
		if c.Name == name {
			require.NoError(t, a.h.OpenForTest(name, c.Value, &st))
		}
	}
	require.NotEmpty(t, st)
	st["m"] = int64(5 * time.Minute)
	sealed, err := a.h.SealForTest(name, st, time.Minute)
	require.NoError(t, err)
	host, _ := url.Parse(a.url)
	b.jar.SetCookies(host, []*http.Cookie{{Name: name, Value: sealed, Path: "/", Secure: true, HttpOnly: true}})

	q, err := p.Authorize(context.Background(), authURL)
	require.NoError(t, err)
	resp, _ := b.get(a.url + "/callback?" + q.Encode())
	require.Equal(t, http.StatusBadGateway, resp.StatusCode, "an auth_time older than max_age was accepted")
}

// TestLoginRecordsMaxAge: WithMaxAge in AuthOptions is what the login
// cookie records.
func TestLoginRecordsMaxAge(t *testing.T) {
	_, apps := startApps(t, 1, nil, func(c *nihttp.Config) {
		c.AuthOptions = append(c.AuthOptions, nextidentity.WithMaxAge(5*time.Minute))
	})
	a, b := apps[0], newBrowser(t)
	u, err := url.Parse(b.startLogin(a, ""))
	require.NoError(t, err)
	require.Equal(t, "300", u.Query().Get("max_age"))
	name := a.h.LoginCookieNameForTest(u.Query().Get("state"))
	var st struct {
		MaxAge *time.Duration `json:"m"`
	}
	for _, c := range b.cookies(a) {
		if c.Name == name {
			require.NoError(t, a.h.OpenForTest(name, c.Value, &st))
		}
	}
	require.NotNil(t, st.MaxAge)
	require.Equal(t, 5*time.Minute, *st.MaxAge)
}
