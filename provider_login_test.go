package nextidentity_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// TestProviderLoginFlow runs the whole life of a session for each tenant
// flavour: sign-in, code exchange, userinfo, refresh, silent
// re-authentication, logout, and prompt=none after the logout.
func TestProviderLoginFlow(t *testing.T) {
	const idLifetime = 2 * time.Hour
	for _, tc := range []struct {
		name     string
		opts     nextidentitytest.Options
		clientID string
		alg      string
		kid      bool
	}{
		{name: "RS256 with kid", opts: nextidentitytest.Options{SigningAlg: "RS256"}, alg: "RS256", kid: true},
		{name: "HS256 keyed with the client secret", opts: nextidentitytest.Options{SigningAlg: "HS256"}, alg: "HS256"},
		{name: "ES256 with kid", opts: nextidentitytest.Options{SigningAlg: "ES256"}, alg: "ES256", kid: true},
		{name: "issuer with trailing slash", opts: nextidentitytest.Options{IssuerTrailingSlash: true}, alg: "RS256", kid: true},
		// A public client has no secret, so the provider signs with RS256
		// even on an HS256 tenant.
		{name: "public client with PKCE only", opts: nextidentitytest.Options{SigningAlg: "HS256"}, clientID: provPublicID, alg: "RS256", kid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			tc.opts.IDTokenLifetime = idLifetime
			e := provStart(t, tc.opts, tc.clientID, nil)
			if tc.opts.IssuerTrailingSlash {
				require.True(t, strings.HasSuffix(e.c.Issuer(), "/"))
			}
			require.Equal(t, e.srv.Issuer(), e.c.Issuer())
			if tc.clientID == provPublicID {
				require.Empty(t, e.cfg.ClientSecret)
			}

			// Sign in on the hosted page.
			loginAt := e.clk.Now()
			ar, q := e.login(t, nextidentity.WithOfflineAccess(), nextidentity.WithLoginHint(provEmail))
			require.Equal(t, e.srv.Issuer(), q.Get("iss"))
			require.Len(t, q.Get("code"), 14)
			e.clk.Advance(3 * time.Second) // the app takes a moment to redeem the code

			exchangedAt := e.clk.Now()
			tok, err := e.c.Exchange(ctx, q, ar)
			require.NoError(t, err)
			require.Equal(t, "Bearer", tok.TokenType)
			require.Len(t, tok.AccessToken, 16)
			require.Len(t, tok.RefreshToken, 20)
			// WithOfflineAccess added offline_access: the fake lists it.
			require.Equal(t, "openid profile email phone offline_access", tok.Scope)
			provRequireInstant(t, exchangedAt.Add(time.Hour), tok.Expiry) // from expires_in 3600

			h := provHeader(t, tok.RawIDToken)
			require.Equal(t, tc.alg, h["alg"])
			if tc.kid {
				require.NotEmpty(t, h["kid"])
			} else {
				require.NotContains(t, h, "kid")
				require.Zero(t, e.srv.Requests(nextidentitytest.EndpointJWKS), "an HS256 token needs no JWKS")
			}

			idt := tok.IDToken
			require.NotNil(t, idt)
			require.Equal(t, e.srv.Issuer(), idt.Issuer)
			require.Equal(t, provSubject, idt.Subject)
			require.Equal(t, []string{e.cfg.ClientID}, idt.Audience)
			require.Equal(t, ar.Nonce, idt.Nonce)
			provRequireInstant(t, exchangedAt, idt.IssuedAt)
			provRequireInstant(t, exchangedAt.Add(idLifetime), idt.Expiry)
			provRequireInstant(t, loginAt, idt.AuthTime)
			provRequireProfile(t, idt.Profile)
			provRequireCustom(t, idt.Claims)

			// at_hash binds the access token to the ID token.
			require.NotEmpty(t, idt.AccessTokenHash)
			require.NoError(t, idt.VerifyAccessToken(tok.AccessToken))
			err = idt.VerifyAccessToken("aaaaaaaaaaaaaaaa")
			require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)

			// Userinfo.
			ui, err := e.c.UserInfo(ctx, tok)
			require.NoError(t, err)
			require.Equal(t, provSubject, ui.Subject)
			provRequireProfile(t, ui.Profile)
			provRequireCustom(t, ui.Claims)

			// Refresh: new access and refresh tokens (rotation) and a new,
			// verified ID token for the same user.
			e.clk.Advance(10 * time.Minute)
			refreshedAt := e.clk.Now()
			rt, err := e.c.Refresh(ctx, tok)
			require.NoError(t, err)
			require.NotEqual(t, tok.AccessToken, rt.AccessToken)
			require.NotEmpty(t, rt.RefreshToken)
			require.NotEqual(t, tok.RefreshToken, rt.RefreshToken)
			provRequireInstant(t, refreshedAt.Add(time.Hour), rt.Expiry)
			require.NotNil(t, rt.IDToken)
			require.NotEqual(t, tok.RawIDToken, rt.RawIDToken)
			require.Equal(t, provSubject, rt.IDToken.Subject)
			require.Empty(t, rt.IDToken.Nonce)
			provRequireInstant(t, loginAt, rt.IDToken.AuthTime)
			require.NoError(t, rt.IDToken.VerifyAccessToken(rt.AccessToken))
			provRequireProfile(t, rt.IDToken.Profile)
			provRequireCustom(t, rt.IDToken.Claims)

			// The spent refresh token is refused.
			_, err = e.c.Refresh(ctx, tok)
			require.ErrorIs(t, err, nextidentity.ErrInvalidGrant)

			// A token restored from a session store, with its ID token, still works.
			stored, err := json.Marshal(rt)
			require.NoError(t, err)
			var restored nextidentity.Token
			require.NoError(t, json.Unmarshal(stored, &restored))
			require.Equal(t, rt.IDToken.Subject, restored.IDToken.Subject)
			ui, err = e.c.UserInfo(ctx, &restored)
			require.NoError(t, err)
			require.Equal(t, provSubject, ui.Subject)
			rt2, err := e.c.Refresh(ctx, &restored)
			require.NoError(t, err)
			require.Equal(t, provSubject, rt2.IDToken.Subject)

			// Silent re-authentication with the provider session.
			silent, err := e.c.AuthCodeURL(nextidentity.WithPrompt("none"))
			require.NoError(t, err)
			sq, err := e.srv.Authorize(ctx, silent.URL)
			require.NoError(t, err)
			stok, err := e.c.Exchange(ctx, sq, silent)
			require.NoError(t, err)
			require.Equal(t, provSubject, stok.IDToken.Subject)
			provRequireInstant(t, loginAt, stok.IDToken.AuthTime) // no new authentication

			// Logout through the fake browser ends the provider session.
			// Any URI on the redirect URI's host is allowed (no explicit
			// post-logout URIs are registered).
			ru, err := url.Parse(e.cfg.RedirectURL)
			require.NoError(t, err)
			logout := e.c.LogoutURL(nextidentity.LogoutRequest{
				PostLogoutRedirectURL: ru.Scheme + "://" + ru.Host + "/signed-out",
				State:                 "bye-123",
				IDTokenHint:           stok.RawIDToken,
			})
			require.True(t, strings.HasPrefix(logout, e.srv.URL+string(nextidentitytest.EndpointEndSession)+"?"), logout)
			loc, status, err := e.srv.Browse(ctx, logout)
			require.NoError(t, err)
			require.Equal(t, http.StatusFound, status)
			require.Equal(t, ru.Host, loc.Host)
			require.Equal(t, "/signed-out", loc.Path)
			require.Equal(t, "bye-123", loc.Query().Get("state"))

			// prompt=none now gets login_required, which Exchange maps.
			none, err := e.c.AuthCodeURL(nextidentity.WithPrompt("none"))
			require.NoError(t, err)
			nq, err := e.srv.Authorize(ctx, none.URL)
			require.NoError(t, err)
			require.Equal(t, "login_required", nq.Get("error"))
			require.Equal(t, none.State, nq.Get("state"))
			tokenCalls := e.srv.Requests(nextidentitytest.EndpointToken)
			_, err = e.c.Exchange(ctx, nq, none)
			require.ErrorIs(t, err, nextidentity.ErrLoginRequired)
			pe := provProviderError(t, err)
			require.Equal(t, "authorize", pe.Endpoint)
			require.Equal(t, "login_required", pe.Code)
			require.Zero(t, pe.StatusCode)
			require.NotEmpty(t, pe.Description)
			require.Equal(t, tokenCalls, e.srv.Requests(nextidentitytest.EndpointToken), "an error redirect is not redeemed")

			// Without prompt=none the hosted sign-in page is shown again.
			again, err := e.c.AuthCodeURL()
			require.NoError(t, err)
			_, err = e.srv.Authorize(ctx, again.URL)
			require.ErrorIs(t, err, nextidentitytest.ErrLoginRequired)
		})
	}
}

// TestProviderRefreshToken checks what the provider does with and without
// access_type=offline, and ErrNoRefreshToken.
func TestProviderRefreshToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []nextidentity.AuthOption
	}{
		{"with offline access", []nextidentity.AuthOption{nextidentity.WithOfflineAccess()}},
		// The provider documents a refresh_token in every /token response
		// and nothing about access_type; the fake follows that and issues
		// one even without access_type=offline.
		{"without offline access", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := provStart(t, nextidentitytest.Options{}, "", nil)
			_, tok := e.signIn(t, tc.opts...)
			require.Len(t, tok.RefreshToken, 20)
			rt, err := e.c.Refresh(t.Context(), tok)
			require.NoError(t, err)
			require.Equal(t, provSubject, rt.IDToken.Subject)
		})
	}

	t.Run("no refresh token", func(t *testing.T) {
		e := provStart(t, nextidentitytest.Options{}, "", nil)
		_, tok := e.signIn(t)
		calls := e.srv.Requests(nextidentitytest.EndpointToken)
		noRT := *tok
		noRT.RefreshToken = ""
		_, err := e.c.Refresh(t.Context(), &noRT)
		require.ErrorIs(t, err, nextidentity.ErrNoRefreshToken)
		_, err = e.c.Refresh(t.Context(), nil)
		require.ErrorIs(t, err, nextidentity.ErrNoRefreshToken)
		require.Equal(t, calls, e.srv.Requests(nextidentitytest.EndpointToken), "no request without a refresh token")

		// A TokenSource with an expired token and no refresh token fails
		// the same way.
		e.clk.Advance(nextidentitytest.AccessTokenLifetime)
		_, err = e.c.TokenSource(t.Context(), &noRT, nil).Current()
		require.ErrorIs(t, err, nextidentity.ErrNoRefreshToken)
	})
}

// TestProviderTokenSourceConcurrentRefresh: once the access token expires,
// 20 concurrent callers cause one refresh and one onRefresh call.
func TestProviderTokenSourceConcurrentRefresh(t *testing.T) {
	e := provStart(t, nextidentitytest.Options{}, "", nil)
	_, tok := e.signIn(t, nextidentity.WithOfflineAccess())

	var refreshes atomic.Int32
	var persisted atomic.Pointer[nextidentity.Token]
	ts := e.c.TokenSource(t.Context(), tok, func(nt *nextidentity.Token) {
		refreshes.Add(1)
		persisted.Store(nt)
	})

	// While the token is valid, no request.
	calls := e.srv.Requests(nextidentitytest.EndpointToken)
	cur, err := ts.Current()
	require.NoError(t, err)
	require.Same(t, tok, cur)
	require.Equal(t, calls, e.srv.Requests(nextidentitytest.EndpointToken))

	e.clk.Advance(nextidentitytest.AccessTokenLifetime)
	// The provider agrees that the old access token has expired.
	_, err = e.c.UserInfo(t.Context(), tok)
	require.ErrorIs(t, err, nextidentity.ErrUnauthorized)

	const n = 20
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		got    [n]*nextidentity.Token
		errs   [n]error
		oauths [n]string
	)
	for i := range n {
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				got[i], errs[i] = ts.Current()
				return
			}
			o, err := ts.Token() // the oauth2.TokenSource face
			errs[i] = err
			if o != nil {
				oauths[i] = o.AccessToken
			}
		})
	}
	close(start)
	wg.Wait()

	require.Equal(t, int32(1), refreshes.Load(), "onRefresh calls")
	require.Equal(t, calls+1, e.srv.Requests(nextidentitytest.EndpointToken), "refresh requests")
	fresh := persisted.Load()
	require.NotNil(t, fresh)
	require.NotEqual(t, tok.AccessToken, fresh.AccessToken)
	provRequireInstant(t, e.clk.Now().Add(time.Hour), fresh.Expiry)
	for i := range n {
		require.NoError(t, errs[i], "caller %d", i)
		if i%2 == 0 {
			require.Same(t, fresh, got[i], "caller %d", i)
		} else {
			require.Equal(t, fresh.AccessToken, oauths[i], "caller %d", i)
		}
	}

	ui, err := e.c.UserInfo(t.Context(), fresh)
	require.NoError(t, err)
	require.Equal(t, provSubject, ui.Subject)
}
