package nihttp_test

import (
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

func TestNewValidatesConfig(t *testing.T) {
	_, apps := startApps(t, 1, nil)
	valid := func() nihttp.Config {
		return nihttp.Config{Client: apps[0].client, Keys: [][]byte{newKey(t)}}
	}
	tests := []struct {
		name string
		mod  func(*nihttp.Config)
	}{
		{"no client", func(c *nihttp.Config) { c.Client = nil }},
		{"no keys", func(c *nihttp.Config) { c.Keys = nil }},
		{"empty key list", func(c *nihttp.Config) { c.Keys = [][]byte{} }},
		{"short key", func(c *nihttp.Config) { c.Keys = [][]byte{make([]byte, 16)} }},
		{"long key", func(c *nihttp.Config) { c.Keys = [][]byte{make([]byte, 33)} }},
		{"second key bad", func(c *nihttp.Config) { c.Keys = append(c.Keys, make([]byte, 8)) }},
		{"DefaultReturnTo absolute", func(c *nihttp.Config) { c.DefaultReturnTo = "https://evil.example/" }},
		{"DefaultReturnTo scheme-relative", func(c *nihttp.Config) { c.DefaultReturnTo = "//evil.example" }},
		{"DefaultReturnTo backslash", func(c *nihttp.Config) { c.DefaultReturnTo = "/\\evil.example" }},
		{"DefaultReturnTo dot-segment backslash", func(c *nihttp.Config) { c.DefaultReturnTo = "/a/..\\evil.example" }},
		{"DefaultReturnTo relative", func(c *nihttp.Config) { c.DefaultReturnTo = "home" }},
		{"DefaultReturnTo javascript", func(c *nihttp.Config) { c.DefaultReturnTo = "javascript:alert(1)" }},
		{"DefaultReturnTo CRLF", func(c *nihttp.Config) { c.DefaultReturnTo = "/\r\nSet-Cookie: x=y" }},
		{"LoginPath absolute", func(c *nihttp.Config) { c.LoginPath = "https://evil.example/login" }},
		{"LoginPath scheme-relative", func(c *nihttp.Config) { c.LoginPath = "//evil.example/login" }},
		{"SessionLifetime negative", func(c *nihttp.Config) { c.SessionLifetime = -time.Hour }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.mod(&cfg)
			var h *nihttp.Handlers
			var err error
			require.NotPanics(t, func() { h, err = nihttp.New(cfg) })
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "nihttp: "), "error %q", err)
			require.Nil(t, h)
		})
	}

	t.Run("DefaultReturnTo is used", func(t *testing.T) {
		p, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.DefaultReturnTo = "/home?tab=1" })
		b := newBrowser(t)
		resp := b.signIn(p, apps[0])
		require.Equal(t, "/home?tab=1", resp.Header.Get("Location"))
	})
}

func TestLoginCookieAndRedirect(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*nihttp.Config)
		prefix string // of the login cookie's name
		maxAge int
		secure bool
	}{
		{"defaults", func(*nihttp.Config) {}, "__Host-nihttp_login_", int(nihttp.DefaultLoginTTL / time.Second), true},
		{"LoginTTL", func(c *nihttp.Config) { c.LoginTTL = 3 * time.Minute }, "__Host-nihttp_login_", 180, true},
		{"InsecureCookie", func(c *nihttp.Config) { c.InsecureCookie = true }, "nihttp_login_", 600, false},
		{"LoginCookieName", func(c *nihttp.Config) { c.LoginCookieName = "my_login" }, "__Host-my_login_", 600, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, apps := startApps(t, 1, nil, tc.mod)
			a := apps[0]
			login := func() (*http.Response, *http.Cookie) {
				w := httptest.NewRecorder()
				a.h.Login(w, httptest.NewRequest(http.MethodGet, a.url+"/login", nil))
				resp := w.Result()
				var found *http.Cookie
				for _, c := range resp.Cookies() {
					if strings.HasPrefix(c.Name, tc.prefix) {
						require.Nil(t, found, "two login cookies")
						found = c
					}
				}
				require.NotNil(t, found, "no %s* cookie in %v", tc.prefix, resp.Header["Set-Cookie"])
				return resp, found
			}
			resp, c := login()
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			require.NotEmpty(t, c.Value)
			require.LessOrEqual(t, len(c.Name)+len(c.Value), 4000)
			require.True(t, c.HttpOnly)
			require.Equal(t, tc.secure, c.Secure)
			require.Equal(t, http.SameSiteLaxMode, c.SameSite)
			require.Equal(t, "/", c.Path)
			require.Empty(t, c.Domain)
			require.InDelta(t, tc.maxAge, c.MaxAge, 1)

			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, p.URL+string(nextidentitytest.EndpointAuthorize), loc.Scheme+"://"+loc.Host+loc.Path)
			q := loc.Query()
			require.Equal(t, "code", q.Get("response_type"))
			require.Equal(t, nextidentitytest.DefaultClientID, q.Get("client_id"))
			require.Equal(t, a.url+"/callback", q.Get("redirect_uri"))
			require.Equal(t, "S256", q.Get("code_challenge_method"))
			for _, k := range []string{"state", "nonce", "code_challenge"} {
				require.NotEmpty(t, q.Get(k), k)
			}

			// The cookie is named after the state and carries the request's
			// secrets sealed: none in clear, and only the keys open it.
			require.Equal(t, a.h.LoginCookieNameForTest(q.Get("state")), c.Name)
			require.NotContains(t, c.Value, q.Get("state"))
			require.NotContains(t, c.Value, q.Get("nonce"))
			var st map[string]any
			require.NoError(t, a.h.OpenForTest(c.Name, c.Value, &st))
			require.Equal(t, q.Get("state"), st["s"])
			require.Equal(t, q.Get("nonce"), st["n"])
			other := newInstance(t, p, a, withKeys(newKey(t)))
			require.ErrorIs(t, other.h.OpenForTest(c.Name, c.Value, &st), nihttp.ErrTampered)

			// Each sign-in is a fresh request.
			_, c2 := login()
			require.NotEqual(t, c.Name, c2.Name)
			require.NotEqual(t, c.Value, c2.Value)
		})
	}

	t.Run("invalid AuthOptions: an error, no cookie", func(t *testing.T) {
		rec := &errRecorder{}
		_, apps := startApps(t, 1, nil, rec.option, func(c *nihttp.Config) {
			c.AuthOptions = []nextidentity.AuthOption{nextidentity.WithParam("state", "fixed")}
		})
		b := newBrowser(t)
		resp, body := b.get(apps[0].url + "/login")
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.Empty(t, resp.Header.Get("Location"))
		require.Empty(t, b.loginCookies(apps[0]))
		errs := rec.take()
		require.Len(t, errs, 1)
		require.ErrorIs(t, errs[0], nextidentity.ErrInvalidConfig)
		requireQuietBody(t, resp, body, errs[0], nil)
	})
}
