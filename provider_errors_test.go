package nextidentity_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// provMethods records the methods of the requests to path.
type provMethods struct {
	next http.RoundTripper
	path string
	mu   sync.Mutex
	seen []string
}

func (m *provMethods) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == m.path {
		m.mu.Lock()
		m.seen = append(m.seen, r.Method)
		m.mu.Unlock()
	}
	return m.next.RoundTrip(r)
}

// TestProviderUserInfoMethods: the provider answers userinfo with GET and
// POST, and the client uses the configured method.
func TestProviderUserInfoMethods(t *testing.T) {
	for _, tc := range []struct{ name, method, want string }{
		{"default is POST", "", http.MethodPost}, // as the provider documents
		{"POST", http.MethodPost, http.MethodPost},
		{"GET", http.MethodGet, http.MethodGet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec *provMethods
			e := provStart(t, nextidentitytest.Options{}, "", func(cfg *nextidentity.Config) {
				cfg.UserInfoMethod = tc.method
				hc := *cfg.HTTPClient
				rec = &provMethods{next: hc.Transport, path: string(nextidentitytest.EndpointUserInfo)}
				hc.Transport = rec
				cfg.HTTPClient = &hc
			})
			_, tok := e.signIn(t)
			ui, err := e.c.UserInfo(t.Context(), tok)
			require.NoError(t, err)
			require.Equal(t, provSubject, ui.Subject)
			provRequireProfile(t, ui.Profile)
			provRequireCustom(t, ui.Claims)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			require.Equal(t, []string{tc.want}, rec.seen)
			require.Equal(t, 1, e.srv.Requests(nextidentitytest.EndpointUserInfo))
		})
	}
}

// TestProviderUserInfoUnauthorized: a wrong or expired access token gets the
// provider's documented 401 body.
func TestProviderUserInfoUnauthorized(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(e *provEnv, tok *nextidentity.Token)
	}{
		{"wrong token", func(_ *provEnv, tok *nextidentity.Token) { tok.AccessToken = "zzzzzzzzzzzzzzzz" }},
		{"expired token", func(e *provEnv, _ *nextidentity.Token) { e.clk.Advance(nextidentitytest.AccessTokenLifetime) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := provStart(t, nextidentitytest.Options{}, "", nil)
			_, tok := e.signIn(t)
			tc.spoil(e, tok)
			_, err := e.c.UserInfo(t.Context(), tok)
			require.ErrorIs(t, err, nextidentity.ErrUnauthorized)
			pe := provProviderError(t, err)
			require.Equal(t, "userinfo", pe.Endpoint)
			require.Equal(t, http.StatusUnauthorized, pe.StatusCode)
			require.Equal(t, "http_exception", pe.Code)
			require.Equal(t, "Unauthorized", pe.Description)
			require.NotErrorIs(t, err, nextidentity.ErrMalformedResponse)
		})
	}
}

// TestProviderInvalidGrant: codes are one-time, short-lived and bound to the
// PKCE verifier; replaying a code revokes what it produced.
func TestProviderInvalidGrant(t *testing.T) {
	for _, tc := range []struct {
		name string
		desc string
		// redeem is the failing Exchange after the sign-in.
		redeem func(t *testing.T, e *provEnv, ar *nextidentity.AuthRequest, q url.Values) error
	}{
		{
			name: "code reused",
			desc: "The authorization code has already been used.",
			redeem: func(t *testing.T, e *provEnv, ar *nextidentity.AuthRequest, q url.Values) error {
				tok, err := e.c.Exchange(t.Context(), q, ar)
				require.NoError(t, err)
				_, err = e.c.Exchange(t.Context(), q, ar)
				// The replay revoked the tokens the code produced.
				_, uerr := e.c.UserInfo(t.Context(), tok)
				require.ErrorIs(t, uerr, nextidentity.ErrUnauthorized)
				_, rerr := e.c.Refresh(t.Context(), tok)
				require.ErrorIs(t, rerr, nextidentity.ErrInvalidGrant)
				return err
			},
		},
		{
			name: "code expired",
			desc: "The authorization code has expired.",
			redeem: func(t *testing.T, e *provEnv, ar *nextidentity.AuthRequest, q url.Values) error {
				e.clk.Advance(nextidentitytest.CodeLifetime)
				_, err := e.c.Exchange(t.Context(), q, ar)
				return err
			},
		},
		{
			name: "PKCE verifier of another request",
			desc: "PKCE verification failed: the code_verifier does not match the code_challenge.",
			redeem: func(t *testing.T, e *provEnv, ar *nextidentity.AuthRequest, q url.Values) error {
				other, err := e.c.AuthCodeURL()
				require.NoError(t, err)
				mixed := *ar
				mixed.CodeVerifier = other.CodeVerifier
				_, err = e.c.Exchange(t.Context(), q, &mixed)
				return err
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := provStart(t, nextidentitytest.Options{}, "", nil)
			ar, q := e.login(t, nextidentity.WithOfflineAccess())
			err := tc.redeem(t, e, ar, q)
			require.ErrorIs(t, err, nextidentity.ErrInvalidGrant)
			pe := provProviderError(t, err)
			require.Equal(t, "token", pe.Endpoint)
			require.Equal(t, http.StatusBadRequest, pe.StatusCode)
			require.Equal(t, "invalid_grant", pe.Code)
			require.Equal(t, tc.desc, pe.Description)
		})
	}
}

// TestProviderInvalidClient: failed client authentication at /token is
// ErrInvalidClient, and does not burn the code.
func TestProviderInvalidClient(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clientID string
		edit     func(*nextidentity.Config)
		desc     string
	}{
		{"wrong secret with Basic", "", func(c *nextidentity.Config) { c.ClientSecret = "wrong-secret" },
			"Client authentication failed: wrong client secret."},
		{"wrong secret in the body", "", func(c *nextidentity.Config) {
			c.ClientSecret, c.AuthStyle = "wrong-secret", nextidentity.AuthStyleInParams
		}, "Client authentication failed: wrong client secret."},
		{"confidential client without its secret", "", func(c *nextidentity.Config) { c.ClientSecret = "" },
			"Client authentication is required for confidential clients."},
		{"public client sending a secret", provPublicID, func(c *nextidentity.Config) { c.ClientSecret = "made-up" },
			"Client authentication failed: public clients have no secret."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := provStart(t, nextidentitytest.Options{}, tc.clientID, nil)
			badCfg := e.cfg
			tc.edit(&badCfg)
			bad, err := nextidentity.New(t.Context(), badCfg)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, bad.Close()) })

			ar, q := e.login(t)
			_, err = bad.Exchange(t.Context(), q, ar)
			require.ErrorIs(t, err, nextidentity.ErrInvalidClient)
			require.NotErrorIs(t, err, nextidentity.ErrInvalidGrant)
			pe := provProviderError(t, err)
			require.Equal(t, "token", pe.Endpoint)
			require.Equal(t, http.StatusUnauthorized, pe.StatusCode)
			require.Equal(t, "invalid_client", pe.Code)
			require.Equal(t, tc.desc, pe.Description)

			// The properly configured client can still redeem the code.
			tok, err := e.c.Exchange(t.Context(), q, ar)
			require.NoError(t, err)
			require.Equal(t, provSubject, tok.IDToken.Subject)
		})
	}
}

// TestProviderAccessDenied: the user cancels on the hosted page of each
// journey; the provider redirects with error=access_denied.
func TestProviderAccessDenied(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(*nextidentity.Client) (*nextidentity.AuthRequest, error)
	}{
		{"sign-in", func(c *nextidentity.Client) (*nextidentity.AuthRequest, error) { return c.AuthCodeURL() }},
		{"registration", func(c *nextidentity.Client) (*nextidentity.AuthRequest, error) { return c.RegisterURL() }},
		{"personal details", func(c *nextidentity.Client) (*nextidentity.AuthRequest, error) { return c.PersonalDetailsURL() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := provStart(t, nextidentitytest.Options{}, "", nil)
			ar, err := tc.start(e.c)
			require.NoError(t, err)
			q := provCancel(t, e.srv, ar.URL)
			require.Equal(t, "access_denied", q.Get("error"))
			require.Equal(t, ar.State, q.Get("state"))
			require.Equal(t, e.srv.Issuer(), q.Get("iss"))
			require.Empty(t, q.Get("code"))

			_, err = e.c.Exchange(t.Context(), q, ar)
			require.ErrorIs(t, err, nextidentity.ErrAccessDenied)
			pe := provProviderError(t, err)
			require.Equal(t, "authorize", pe.Endpoint)
			require.Equal(t, "access_denied", pe.Code)
			require.Equal(t, "The user cancelled the sign-in.", pe.Description)
			require.Zero(t, e.srv.Requests(nextidentitytest.EndpointToken))

			// Nothing was signed in: prompt=none still needs a login.
			none, err := e.c.AuthCodeURL(nextidentity.WithPrompt("none"))
			require.NoError(t, err)
			nq, err := e.srv.Authorize(t.Context(), none.URL)
			require.NoError(t, err)
			_, err = e.c.Exchange(t.Context(), nq, none)
			require.ErrorIs(t, err, nextidentity.ErrLoginRequired)
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		e := provStart(t, nextidentitytest.Options{}, "", nil)
		ar, err := e.c.AuthCodeURL()
		require.NoError(t, err)
		_, err = e.srv.Login(t.Context(), ar.URL, provEmail, "not the password")
		require.ErrorIs(t, err, nextidentitytest.ErrInvalidCredentials)
		// The same request can still be completed with the right password.
		q, err := e.srv.Login(t.Context(), ar.URL, provEmail, provPassword)
		require.NoError(t, err)
		tok, err := e.c.Exchange(t.Context(), q, ar)
		require.NoError(t, err)
		require.Equal(t, provSubject, tok.IDToken.Subject)
	})
}

// TestProviderInjectedFailures: an error body with HTTP 200 and an HTML
// error page from a proxy, on each endpoint the client calls after sign-in.
// Both leave the code, refresh token or access token usable.
func TestProviderInjectedFailures(t *testing.T) {
	const (
		statError = `{"stat":"error","error":"invalid_request"}`
		badGW     = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
	)
	for _, tc := range []struct {
		name     string
		endpoint nextidentitytest.Endpoint
		status   int
		body     string
		call     provCall
	}{
		{"exchange: stat error with HTTP 200", nextidentitytest.EndpointToken, http.StatusOK, statError, provExchange},
		{"refresh: stat error with HTTP 200", nextidentitytest.EndpointToken, http.StatusOK, statError, provRefresh},
		{"userinfo: stat error with HTTP 200", nextidentitytest.EndpointUserInfo, http.StatusOK, statError, provUserInfo},
		{"exchange: HTML 502", nextidentitytest.EndpointToken, http.StatusBadGateway, badGW, provExchange},
		{"refresh: HTML 502", nextidentitytest.EndpointToken, http.StatusBadGateway, badGW, provRefresh},
		{"userinfo: HTML 502", nextidentitytest.EndpointUserInfo, http.StatusBadGateway, badGW, provUserInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ar, q, tok := provCallSetup(t, tc.call)

			before := e.srv.Requests(tc.endpoint)
			e.srv.FailNext(tc.endpoint, 1, tc.status, tc.body)
			err := tc.call.do(t.Context(), t, e, ar, q, tok)
			pe := provProviderError(t, err)
			require.Equal(t, strings.TrimPrefix(string(tc.endpoint), "/"), pe.Endpoint)
			require.Equal(t, tc.status, pe.StatusCode)
			if tc.status == http.StatusOK {
				require.ErrorIs(t, err, nextidentity.ErrInvalidRequest)
				require.Equal(t, "invalid_request", pe.Code)
				require.Equal(t, "error", pe.Stat)
				require.NotErrorIs(t, err, nextidentity.ErrMalformedResponse)
			} else {
				require.ErrorIs(t, err, nextidentity.ErrMalformedResponse)
				require.Empty(t, pe.Code)
				require.Contains(t, pe.Body, "502 Bad Gateway")
				for _, s := range []error{nextidentity.ErrInvalidRequest, nextidentity.ErrUnauthorized,
					nextidentity.ErrInvalidGrant, nextidentity.ErrInvalidClient} {
					require.NotErrorIs(t, err, s)
				}
			}
			require.Equal(t, before+1, e.srv.Requests(tc.endpoint))

			// The failure was injected in front of the provider: a retry works.
			require.NoError(t, tc.call.do(t.Context(), t, e, ar, q, tok))
		})
	}
}
