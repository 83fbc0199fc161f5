package nihttp_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

const backChannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutToken signs a back-channel logout token for the default user with
// the provider's key; mod adjusts the claims.
func logoutToken(t *testing.T, p *provider, mod func(map[string]any)) string {
	t.Helper()
	claims := map[string]any{
		"iss":    p.Issuer(),
		"aud":    nextidentitytest.DefaultClientID,
		"iat":    p.clock.Now().Unix(),
		"jti":    rand.Text(),
		"sub":    nextidentitytest.DefaultUserSubject,
		"events": map[string]any{backChannelEvent: map[string]any{}},
	}
	if mod != nil {
		mod(claims)
	}
	raw, err := p.SignIDToken(claims)
	require.NoError(t, err)
	return raw
}

// postLogoutToken sends form to the handler as the provider would.
func postLogoutToken(h *nihttp.Handlers, method string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "https://app.example/backchannel-logout", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.BackChannelLogout(w, req)
	return w
}

func TestBackChannelLogoutEndsTheUsersSessions(t *testing.T) {
	store := nihttp.NewMemoryStore()
	p, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.Store = store; c.BackChannelLogout = true })
	a := apps[0]
	laptop, phone := newBrowser(t), newBrowser(t)
	laptop.signIn(p, a)
	phone.signIn(p, a)

	w := postLogoutToken(a.h, http.MethodPost, url.Values{"logout_token": {logoutToken(t, p, nil)}})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	require.Empty(t, w.Header().Get("Location"))
	for _, b := range []*browser{laptop, phone} {
		resp, _ := b.get(a.url + "/private/x")
		require.Equal(t, http.StatusFound, resp.StatusCode, "a session of the signed-out user survived")
	}
}

func TestBackChannelLogoutRefusals(t *testing.T) {
	store := nihttp.NewMemoryStore()
	p, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.Store = store; c.BackChannelLogout = true })
	a, b := apps[0], newBrowser(t)
	b.signIn(p, a)
	replayed := logoutToken(t, p, func(c map[string]any) { c["sub"] = "someone-else" })
	require.Equal(t, http.StatusOK, postLogoutToken(a.h, http.MethodPost, url.Values{"logout_token": {replayed}}).Code)

	tests := []struct {
		name   string
		method string
		form   url.Values
		status int
	}{
		{"GET", http.MethodGet, nil, http.StatusMethodNotAllowed},
		{"no token", http.MethodPost, url.Values{}, http.StatusBadRequest},
		{"two tokens", http.MethodPost, url.Values{"logout_token": {logoutToken(t, p, nil), logoutToken(t, p, nil)}}, http.StatusBadRequest},
		{"not a JWT", http.MethodPost, url.Values{"logout_token": {"garbage"}}, http.StatusBadRequest},
		{"replayed", http.MethodPost, url.Values{"logout_token": {replayed}}, http.StatusBadRequest},
		{"no events", http.MethodPost, url.Values{"logout_token": {logoutToken(t, p, func(c map[string]any) { delete(c, "events") })}}, http.StatusBadRequest},
		{"nonce", http.MethodPost, url.Values{"logout_token": {logoutToken(t, p, func(c map[string]any) { c["nonce"] = "n" })}}, http.StatusBadRequest},
		{"other audience", http.MethodPost, url.Values{"logout_token": {logoutToken(t, p, func(c map[string]any) { c["aud"] = "other-client" })}}, http.StatusBadRequest},
		{"an ID token", http.MethodPost, url.Values{"logout_token": {logoutToken(t, p, func(c map[string]any) {
			delete(c, "events")
			c["exp"] = p.clock.Now().Add(nextidentity.DefaultLeeway * 10).Unix()
		})}}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := postLogoutToken(a.h, tc.method, tc.form)
			require.Equal(t, tc.status, w.Code)
			require.Empty(t, w.Header().Get("Location"))
			var body struct{ Error string }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
			require.NotEmpty(t, body.Error)
			resp, _ := b.get(a.url + "/private/x")
			require.Equal(t, http.StatusOK, resp.StatusCode, "a refused logout token ended a session")
		})
	}
}

func TestBackChannelLogoutNeedsAServerStore(t *testing.T) {
	p := newProvider(t, nil, "https://app.example")
	client, err := nextidentity.New(context.Background(), p.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	_, err = nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{newKey(t)}, BackChannelLogout: true})
	require.ErrorContains(t, err, "needs a ServerStore")

	// Mounted anyway on the cookie store: 501, never a silent success.
	h, err := nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{newKey(t)}})
	require.NoError(t, err)
	w := postLogoutToken(h, http.MethodPost, url.Values{"logout_token": {logoutToken(t, p, nil)}})
	require.Equal(t, http.StatusNotImplemented, w.Code)
}

// failingReplay is a replay cache that cannot be reached.
type failingReplay struct{}

func (failingReplay) FirstSeen(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("replay cache down")
}

// TestBackChannelLogoutUncheckable: a token that cannot be checked (the
// replay cache is down) is answered 503, so the provider retries, and no
// session ends.
func TestBackChannelLogoutUncheckable(t *testing.T) {
	p := newProvider(t, nil, "https://app.example")
	cfg := p.Config()
	cfg.Now = p.clock.Now
	cfg.ReplayCache = failingReplay{}
	client, err := nextidentity.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	h, err := nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{newKey(t)}, Store: nihttp.NewMemoryStore(), BackChannelLogout: true, Now: p.clock.Now})
	require.NoError(t, err)
	w := postLogoutToken(h, http.MethodPost, url.Values{"logout_token": {logoutToken(t, p, nil)}})
	require.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), "temporarily_unavailable")
}
