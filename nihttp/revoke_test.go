package nihttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// TestLogoutRevokesTokens: with RevokeOnLogout, Logout revokes the ended
// session's refresh token, then its access token (RFC 7009), and a failing
// revocation does not keep the user signed in.
func TestLogoutRevokesTokens(t *testing.T) {
	for _, fail := range []bool{false, true} {
		name := "revoked"
		if fail {
			name = "revocation fails"
		}
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var hints, tokens []string
			revocation := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.NoError(t, r.ParseForm())
				mu.Lock()
				hints = append(hints, r.PostForm.Get("token_type_hint"))
				tokens = append(tokens, r.PostForm.Get("token"))
				mu.Unlock()
				if fail {
					http.Error(w, "down", http.StatusServiceUnavailable)
				}
			}))
			t.Cleanup(revocation.Close)

			store := nihttp.NewMemoryStore()
			p, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.Store = store })
			a, b := apps[0], newBrowser(t)
			b.signIn(p, a)
			resp, _ := b.get(a.url + "/private/x")
			access := resp.Header.Get("X-Access-Token")

			// The same store behind handlers whose client knows the
			// revocation endpoint.
			cfg := p.Config()
			cfg.RedirectURL = a.url + "/callback"
			cfg.Now = p.clock.Now
			cfg.RevocationEndpoint = revocation.URL
			client, err := nextidentity.New(context.Background(), cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = client.Close() })
			h, err := nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{newKey(t)}, Store: store, Now: p.clock.Now, RevokeOnLogout: true})
			require.NoError(t, err)

			req := httptest.NewRequest(http.MethodPost, a.url+"/logout", nil)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			for _, c := range b.cookies(a) {
				req.AddCookie(c)
			}
			w := httptest.NewRecorder()
			h.Logout(w, req)
			require.Equal(t, http.StatusSeeOther, w.Code)

			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []string{"refresh_token", "access_token"}, hints)
			require.Equal(t, access, tokens[1])
			require.NotEmpty(t, tokens[0])
			resp, _ = b.get(a.url + "/private/x")
			require.Equal(t, http.StatusFound, resp.StatusCode, "signed out whatever the revocation answered")
		})
	}
}
