package nextidentitytest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestEndSession(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{
		nextidentitytest.DefaultClient(),
		{ID: "strict", Secret: "s", RedirectURIs: []string{"http://127.0.0.1:8080/cb"}, PostLogoutRedirectURIs: []string{"http://127.0.0.1:8080/bye"}},
	}})
	p := newPKCE(t)
	tk := exchange(t, srv, login(t, srv, p, nil).Get("code"), p)
	endsession := func(v url.Values) string { return srv.URL + "/endsession?" + v.Encode() }

	for _, tc := range []struct {
		name   string
		params url.Values
		status int
	}{
		{"unknown client", url.Values{"client_id": {"nobody"}, "post_logout_redirect_uri": {"http://127.0.0.1/"}}, 400},
		{"other host", url.Values{"client_id": {"test-client"}, "post_logout_redirect_uri": {"http://evil.example/"}}, 400},
		{"other host", url.Values{"client_id": {"test-client"}, "post_logout_redirect_uri": {"http://127.0.0.2/"}}, 400},
		{"relative", url.Values{"client_id": {"test-client"}, "post_logout_redirect_uri": {"/home"}}, 400},
		{"not registered exactly", url.Values{"client_id": {"strict"}, "post_logout_redirect_uri": {"http://127.0.0.1:8080/cb"}}, 400},
		{"redirect without client", url.Values{"post_logout_redirect_uri": {"http://127.0.0.1/"}}, 400},
		{"bad id_token_hint", url.Values{"id_token_hint": {"a.b.c"}}, 400},
		{"hint for another client", url.Values{"client_id": {"strict"}, "id_token_hint": {tk.IDToken}}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, srv, endsession(tc.params))
			require.Equal(t, tc.status, r.status)
			require.Empty(t, r.header.Get("Location"))
		})
	}
	// None of the rejected requests ended the session.
	q, err := srv.Authorize(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"prompt": "none"})))
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"))

	t.Run("same host as redirect URI, client from id_token_hint", func(t *testing.T) {
		r := get(t, srv, endsession(url.Values{"id_token_hint": {tk.IDToken}, "post_logout_redirect_uri": {"http://127.0.0.1/signed-out"}, "state": {"s1"}}))
		u := location(t, r)
		require.Equal(t, "http://127.0.0.1/signed-out?state=s1", u.String())
		require.Contains(t, r.header.Get("Set-Cookie"), nextidentitytest.SessionCookieName+"=;")
	})
	t.Run("registered post-logout URI", func(t *testing.T) {
		r := get(t, srv, endsession(url.Values{"client_id": {"strict"}, "post_logout_redirect_uri": {"http://127.0.0.1:8080/bye"}}))
		require.Equal(t, "http://127.0.0.1:8080/bye", location(t, r).String())
	})
	t.Run("no redirect", func(t *testing.T) {
		r := get(t, srv, srv.URL+"/endsession")
		require.Equal(t, http.StatusOK, r.status)
		require.Contains(t, r.body, "signed out")
	})

	t.Run("browser logout ends the provider session", func(t *testing.T) {
		q, err := srv.Authorize(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"prompt": "none"})))
		require.NoError(t, err)
		require.NotEmpty(t, q.Get("code"))

		final, status, err := srv.Browse(t.Context(), endsession(url.Values{"client_id": {"test-client"}, "post_logout_redirect_uri": {"http://127.0.0.1/"}, "state": {"x"}}))
		require.NoError(t, err)
		require.Equal(t, http.StatusFound, status)
		require.Equal(t, "http://127.0.0.1/?state=x", final.String())

		q, err = srv.Authorize(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"prompt": "none"})))
		require.NoError(t, err)
		require.Equal(t, "login_required", q.Get("error"))
	})
}
