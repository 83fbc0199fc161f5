package nihttp_test

import (
	"context"
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

// pending is a sign-in started with a.h.Login and finished at the provider,
// whose callback has not been requested yet.
type pending struct {
	a      *app
	p      *provider
	rec    *errRecorder
	cookie *http.Cookie // the login cookie Login set
	q      url.Values   // the provider's callback query
}

func startPending(t *testing.T, p *provider, a *app, rec *errRecorder) *pending {
	t.Helper()
	w := httptest.NewRecorder()
	a.h.Login(w, httptest.NewRequest(http.MethodGet, a.url+"/login?return_to=/secret", nil))
	resp := w.Result()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	var login *http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, loginPrefix) && c.Name != loopCookie {
			require.Nil(t, login, "Login set two login cookies")
			login = c
		}
	}
	require.NotNil(t, login, "Login set no login cookie")
	q, err := p.Login(context.Background(), resp.Header.Get("Location"), nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"))
	return &pending{a: a, p: p, rec: rec, cookie: login, q: q}
}

// callback sends a's Callback the query and cookies, in order.
func (pd *pending) callback(t *testing.T, q url.Values, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, pd.a.url+"/callback?"+q.Encode(), nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	w := httptest.NewRecorder()
	require.NotPanics(t, func() { pd.a.h.Callback(w, req) })
	resp := w.Result()
	return resp, readBody(t, resp)
}

// resealed opens the login cookie and seals its content again under name
// with h's key, after edit changes it.
func (pd *pending) resealed(t *testing.T, h *nihttp.Handlers, name string, edit func(map[string]any)) *http.Cookie {
	t.Helper()
	var st map[string]any
	require.NoError(t, pd.a.h.OpenForTest(pd.cookie.Name, pd.cookie.Value, &st))
	require.Equal(t, pd.q.Get("state"), st["s"])
	if edit != nil {
		edit(st)
	}
	v, err := h.SealForTest(name, st, time.Minute)
	require.NoError(t, err)
	return &http.Cookie{Name: name, Value: v}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestCallbackFailures(t *testing.T) {
	with := func(c *http.Cookie, value string) *http.Cookie { return &http.Cookie{Name: c.Name, Value: value} }
	tests := []struct {
		name string
		// prepare breaks exactly one thing of a genuine sign-in.
		prepare       func(t *testing.T, pd *pending) (url.Values, []*http.Cookie)
		wantErr       error
		status        int
		tokenRequests int
		noLoginCookie bool // the callback got none under its name, so clears none
	}{
		{"missing cookie", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, nil
		}, nihttp.ErrNoLoginState, http.StatusBadRequest, 0, true},
		{"empty cookie", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{with(pd.cookie, "")}
		}, nihttp.ErrNoLoginState, http.StatusBadRequest, 0, true},
		{"cookie under the name prefix only", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{{Name: strings.TrimSuffix(loginPrefix, "_"), Value: pd.cookie.Value}}
		}, nihttp.ErrNoLoginState, http.StatusBadRequest, 0, true},
		{"only another sign-in's cookie", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{startPending(t, pd.p, pd.a, pd.rec).cookie}
		}, nihttp.ErrNoLoginState, http.StatusBadRequest, 0, true},
		{"another sign-in's cookie under this one's name", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{with(pd.cookie, startPending(t, pd.p, pd.a, pd.rec).cookie.Value)}
		}, nihttp.ErrTampered, http.StatusBadRequest, 0, false},
		{"tampered cookie", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{with(pd.cookie, flip(pd.cookie.Value, len(pd.cookie.Value)/2))}
		}, nihttp.ErrTampered, http.StatusBadRequest, 0, false},
		{"tampered version byte", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{with(pd.cookie, flip(pd.cookie.Value, 0))}
		}, nihttp.ErrTampered, http.StatusBadRequest, 0, false},
		{"truncated cookie", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{with(pd.cookie, pd.cookie.Value[:len(pd.cookie.Value)/2])}
		}, nihttp.ErrTampered, http.StatusBadRequest, 0, false},
		{"cookie cut to a few bytes", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{with(pd.cookie, pd.cookie.Value[:5])}
		}, nihttp.ErrTampered, http.StatusBadRequest, 0, false},
		{"garbage cookie", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{with(pd.cookie, "not-a-sealed-value")}
		}, nihttp.ErrTampered, http.StatusBadRequest, 0, false},
		{"oversized cookie", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{with(pd.cookie, strings.Repeat("A", 8000))}
		}, nihttp.ErrTampered, http.StatusBadRequest, 0, false},
		{"expired cookie", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			pd.p.clock.Advance(nihttp.DefaultLoginTTL + time.Second)
			return pd.q, []*http.Cookie{pd.cookie}
		}, nihttp.ErrExpired, http.StatusBadRequest, 0, false},
		{"cookie sealed with an unknown key", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			other := newInstance(t, pd.p, pd.a, withKeys(newKey(t)))
			return pd.q, []*http.Cookie{pd.resealed(t, other.h, pd.cookie.Name, nil)}
		}, nihttp.ErrTampered, http.StatusBadRequest, 0, false},
		{"cookie sealed under the loop guard's name", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			c := pd.resealed(t, pd.a.h, loopCookie, nil)
			return pd.q, []*http.Cookie{with(pd.cookie, c.Value)}
		}, nihttp.ErrTampered, http.StatusBadRequest, 0, false},
		{"state mismatch inside the cookie", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return pd.q, []*http.Cookie{pd.resealed(t, pd.a.h, pd.cookie.Name, func(st map[string]any) { st["s"] = "forged-state" })}
		}, nextidentity.ErrStateMismatch, http.StatusBadRequest, 0, false},
		{"state missing from the callback", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			q := cloneValues(pd.q)
			q.Del("state")
			return q, []*http.Cookie{pd.cookie}
		}, nihttp.ErrNoLoginState, http.StatusBadRequest, 0, true},
		{"state repeated", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			q := cloneValues(pd.q)
			q.Add("state", "other")
			return q, []*http.Cookie{pd.cookie}
		}, nextidentity.ErrStateMismatch, http.StatusBadRequest, 0, false},
		{"issuer mismatch", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			q := cloneValues(pd.q)
			q.Set("iss", "https://evil.example")
			return q, []*http.Cookie{pd.cookie}
		}, nextidentity.ErrIssuerMismatch, http.StatusBadRequest, 0, false},
		{"code missing", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			q := cloneValues(pd.q)
			q.Del("code")
			return q, []*http.Cookie{pd.cookie}
		}, nextidentity.ErrMissingCode, http.StatusBadRequest, 0, false},
		{"access denied", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return url.Values{
				"error":             {"access_denied"},
				"error_description": {"The user cancelled the sign-in."},
				"state":             {pd.q.Get("state")},
				"iss":               {pd.q.Get("iss")},
			}, []*http.Cookie{pd.cookie}
		}, nextidentity.ErrAccessDenied, http.StatusForbidden, 0, false},
		{"login required", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			return url.Values{"error": {"login_required"}, "state": {pd.q.Get("state")}}, []*http.Cookie{pd.cookie}
		}, nextidentity.ErrLoginRequired, http.StatusForbidden, 0, false},
		{"error beside a code", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			q := cloneValues(pd.q)
			q.Set("error", "access_denied")
			return q, []*http.Cookie{pd.cookie}
		}, nextidentity.ErrAccessDenied, http.StatusForbidden, 0, false},
		{"forged code", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			q := cloneValues(pd.q)
			q.Set("code", "AAAAAAAAAAAAAA")
			return q, []*http.Cookie{pd.cookie}
		}, nextidentity.ErrInvalidGrant, http.StatusBadGateway, 1, false},
		{"token endpoint fails", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			pd.p.FailNext(nextidentitytest.EndpointToken, 1, http.StatusInternalServerError, "<html>boom</html>")
			return pd.q, []*http.Cookie{pd.cookie}
		}, nextidentity.ErrMalformedResponse, http.StatusBadGateway, 1, false},
		{"token endpoint invalid_client", func(t *testing.T, pd *pending) (url.Values, []*http.Cookie) {
			pd.p.FailNext(nextidentitytest.EndpointToken, 1, http.StatusUnauthorized, `{"error":"invalid_client"}`)
			return pd.q, []*http.Cookie{pd.cookie}
		}, nextidentity.ErrInvalidClient, http.StatusBadGateway, 1, false},
	}
	rec := &errRecorder{}
	p, apps := startApps(t, 1, nil, rec.option)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pd := startPending(t, p, apps[0], rec)
			q, cookies := tc.prepare(t, pd)
			before := p.Requests(nextidentitytest.EndpointToken)

			resp, body := pd.callback(t, q, cookies...)

			errs := rec.take()
			require.Len(t, errs, 1, "OnError must be called once")
			require.ErrorIs(t, errs[0], tc.wantErr)
			require.Equal(t, tc.status, nihttp.StatusCode(errs[0]))
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, tc.tokenRequests, p.Requests(nextidentitytest.EndpointToken)-before)
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			require.Empty(t, resp.Header.Get("Location"))
			require.Nil(t, setCookieNamed(resp, sessionCookie), "a failed callback set a session cookie")
			if cleared := setCookieNamed(resp, pd.cookie.Name); tc.noLoginCookie {
				require.Nil(t, cleared)
			} else {
				require.NotNil(t, cleared, "the login cookie was not cleared")
				require.Less(t, cleared.MaxAge, 0)
				require.Empty(t, cleared.Value)
				require.Equal(t, "/", cleared.Path)
				require.True(t, cleared.Secure && cleared.HttpOnly)
			}
			requireQuietBody(t, resp, body, errs[0], q, append(cookies, pd.cookie)...)

			// The genuine sign-in is spent or still works; it never
			// half-works: a retry from the login page always does.
			b := newBrowser(t)
			b.signIn(p, pd.a)
			require.True(t, b.signedIn(pd.a))
		})
	}
}

func TestCallbackKeyRotation(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	p, apps := startApps(t, 1, nil, withKeys(oldKey))
	a := apps[0]                                            // not yet rotated
	rotated := newInstance(t, p, a, withKeys(newK, oldKey)) // new key first, old kept
	retired := newInstance(t, p, a, withKeys(newK))         // old key dropped
	stranger := newInstance(t, p, a, withKeys(newKey(t)))   // unrelated key

	// finishOn completes a sign-in started anywhere at on's callback (the
	// browser's cookies reach every instance: they ignore ports).
	finishOn := func(b *browser, authURL string, on *app) *http.Response {
		q, err := p.Login(context.Background(), authURL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
		require.NoError(t, err)
		resp, _ := b.get(on.url + "/callback?" + q.Encode())
		return resp
	}
	tests := []struct {
		name          string
		login, finish *app
		status        int
	}{
		{"old key to rotated", a, rotated, http.StatusFound},
		{"rotated to rotated", rotated, rotated, http.StatusFound},
		{"rotated to retired", rotated, retired, http.StatusFound},
		{"old key to retired", a, retired, http.StatusBadRequest},
		{"old key to unrelated key", a, stranger, http.StatusBadRequest},
		{"rotated to old key only", rotated, a, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t)
			before := p.Requests(nextidentitytest.EndpointToken)
			resp := finishOn(b, b.startLogin(tc.login, "/private/rotated"), tc.finish)
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.status != http.StatusFound {
				require.Equal(t, before, p.Requests(nextidentitytest.EndpointToken), "no code exchange with a cookie that does not open")
				require.False(t, b.signedIn(tc.finish))
				return
			}
			require.Equal(t, "/private/rotated", resp.Header.Get("Location"))
			require.True(t, b.signedIn(tc.finish))
		})
	}

	// Sessions in the default cookie store follow the same keys.
	sessions := []struct {
		name     string
		on       *app
		signedIn bool
	}{
		{"old key", a, true},
		{"rotated", rotated, true},
		{"retired", retired, false},
		{"unrelated", stranger, false},
	}
	b := newBrowser(t)
	b.signIn(p, a) // sealed with the old key
	for _, tc := range sessions {
		t.Run("session on "+tc.name, func(t *testing.T) {
			require.Equal(t, tc.signedIn, b.signedIn(tc.on))
		})
	}
}

func TestReplayedCallback(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			rec := &errRecorder{}
			p, apps := startApps(t, 1, nil, st.opt, rec.option)
			a, b := apps[0], newBrowser(t)
			authURL := b.startLogin(a, "/private/orders")
			q, err := p.Login(context.Background(), authURL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
			require.NoError(t, err)
			callbackURL := a.url + "/callback?" + q.Encode()
			resp, _ := b.get(callbackURL)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.Equal(t, "/private/orders", resp.Header.Get("Location"))
			before := p.Requests(nextidentitytest.EndpointToken)
			sessionBefore, _ := b.get(a.url + "/private/x")

			// A reload or the back button while signed in: back where the
			// sign-in went.
			resp, body := b.get(callbackURL)
			require.Equal(t, http.StatusFound, resp.StatusCode, "replay while signed in answered %q", body)
			require.Equal(t, "/private/orders", resp.Header.Get("Location"), "a replay goes to the sign-in's return path")
			require.Empty(t, rec.take(), "a replay while signed in is not an error")
			require.Equal(t, before, p.Requests(nextidentitytest.EndpointToken), "a replay redeemed the code again")
			after, _ := b.get(a.url + "/private/x")
			require.Equal(t, http.StatusOK, after.StatusCode)
			require.Equal(t, sessionBefore.Header.Get("X-Session"), after.Header.Get("X-Session"), "the replay changed the session")

			// The same URL in another browser (stolen) signs nobody in.
			thief := newBrowser(t)
			resp, body = thief.get(callbackURL)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Empty(t, resp.Header.Get("Location"))
			errs := rec.take()
			require.Len(t, errs, 1)
			require.ErrorIs(t, errs[0], nihttp.ErrNoLoginState)
			requireQuietBody(t, resp, body, errs[0], q)
			require.False(t, thief.signedIn(a))
		})
	}
}
