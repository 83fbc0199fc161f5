package nextidentity_test

// End-to-end tests of the client against the public fake provider
// (nextidentitytest), which behaves like the real Next Identity provider. The
// hostile cases live in the tests that use internal/testprovider; these cover
// the real flows: sign-in, code exchange, userinfo, refresh, logout, silent
// re-authentication, key rotation and the provider's documented errors.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// provEpoch is where the fake clock shared by the fake provider and the
// client starts.
var provEpoch = time.Date(2025, 6, 2, 9, 30, 0, 0, time.UTC)

// Accounts registered with the fake provider by these tests.
const (
	provEmail       = "ada@example.com"
	provPassword    = "correct horse battery staple"
	provSubject     = "0f4c1b0e-3c1a-4e55-9a55-6d1d8bb0e7a2"
	provPublicID    = "spa-client"
	provPublicRedir = "http://127.0.0.1:8080/auth/callback"
)

// provUser is a user with every profile claim and a few custom claims.
func provUser() nextidentitytest.User {
	return nextidentitytest.User{
		Subject:             provSubject,
		Email:               provEmail,
		Password:            provPassword,
		Name:                "Ada Lovelace",
		GivenName:           "Ada",
		FamilyName:          "Lovelace",
		PhoneNumber:         "+15145550123",
		Locale:              "fr-CA",
		EmailVerified:       true,
		PhoneNumberVerified: true,
		UpdatedAt:           time.Date(2023, 3, 14, 15, 9, 26, 535897000, time.UTC),
		Claims: map[string]any{
			"membership":     "platinum",
			"loyalty_points": 1234,
			"roles":          []string{"admin", "editor"},
			"address":        map[string]any{"country": "CA", "locality": "Montréal"},
		},
	}
}

// provCustom is the custom claims of provUser as the client decodes them.
type provCustom struct {
	Membership    string   `json:"membership"`
	LoyaltyPoints int      `json:"loyalty_points"`
	Roles         []string `json:"roles"`
	Address       struct {
		Country  string `json:"country"`
		Locality string `json:"locality"`
	} `json:"address"`
	UpdatedAt string `json:"updated_at"` // the provider's raw string form
}

// provEnv is a fake provider with a fake clock and a client of it.
type provEnv struct {
	srv *nextidentitytest.Server
	clk *fakeClock
	c   *nextidentity.Client
	cfg nextidentity.Config
}

// provStart starts a provider with opts (its Now, Users and Clients filled in
// when empty: provUser, the default confidential client and a public client)
// and a client for clientID ("" for the first client), after edit.
func provStart(t *testing.T, opts nextidentitytest.Options, clientID string, edit func(*nextidentity.Config)) *provEnv {
	t.Helper()
	clk := newFakeClock(provEpoch)
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	if len(opts.Users) == 0 {
		opts.Users = []nextidentitytest.User{provUser()}
	}
	if len(opts.Clients) == 0 {
		opts.Clients = []nextidentitytest.Client{
			nextidentitytest.DefaultClient(),
			{ID: provPublicID, RedirectURIs: []string{provPublicRedir}},
		}
	}
	srv := nextidentitytest.NewServer(opts)
	t.Cleanup(srv.Close)
	cfg := srv.Config()
	if clientID != "" {
		cfg = srv.ClientConfig(clientID)
	}
	// The fake releases claims by scope, as the provider does: ask for the
	// phone claims provRequireProfile checks.
	cfg.Scopes = []string{"openid", "profile", "email", "phone"}
	if edit != nil {
		edit(&cfg)
	}
	c, err := nextidentity.New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return &provEnv{srv: srv, clk: clk, c: c, cfg: cfg}
}

// login starts a sign-in and signs in on the hosted page (or with the fake
// browser's session), returning the AuthRequest and the callback query.
func (e *provEnv) login(t *testing.T, opts ...nextidentity.AuthOption) (*nextidentity.AuthRequest, url.Values) {
	t.Helper()
	ar, err := e.c.AuthCodeURL(opts...)
	require.NoError(t, err)
	q, err := e.srv.Login(t.Context(), ar.URL, provEmail, provPassword)
	require.NoError(t, err)
	require.Equal(t, ar.State, q.Get("state"))
	return ar, q
}

// signIn is login followed by a successful Exchange.
func (e *provEnv) signIn(t *testing.T, opts ...nextidentity.AuthOption) (*nextidentity.AuthRequest, *nextidentity.Token) {
	t.Helper()
	ar, q := e.login(t, opts...)
	tok, err := e.c.Exchange(t.Context(), q, ar)
	require.NoError(t, err)
	return ar, tok
}

// provRequireProfile checks the profile claims of provUser.
func provRequireProfile(t *testing.T, p nextidentity.Profile) {
	t.Helper()
	u := provUser()
	require.Equal(t, u.Name, p.Name)
	require.Equal(t, u.GivenName, p.GivenName)
	require.Equal(t, u.FamilyName, p.FamilyName)
	require.Equal(t, u.Email, p.Email)
	require.True(t, p.EmailVerified)
	require.Equal(t, u.PhoneNumber, p.PhoneNumber)
	require.True(t, p.PhoneNumberVerified)
	require.Equal(t, u.Locale, p.Locale)
	// Parsed from the provider's "2023-03-14 15:09:26.535897 +0000" string,
	// to the microsecond.
	require.True(t, u.UpdatedAt.Equal(p.UpdatedAt), "UpdatedAt %s, want %s", p.UpdatedAt, u.UpdatedAt)
}

// provRequireCustom checks the custom claims of provUser, decoded with claims
// (IDToken.Claims or UserInfo.Claims).
func provRequireCustom(t *testing.T, claims func(any) error) {
	t.Helper()
	var got provCustom
	require.NoError(t, claims(&got))
	require.Equal(t, "platinum", got.Membership)
	require.Equal(t, 1234, got.LoyaltyPoints)
	require.Equal(t, []string{"admin", "editor"}, got.Roles)
	require.Equal(t, "CA", got.Address.Country)
	require.Equal(t, "Montréal", got.Address.Locality)
	require.Equal(t, "2023-03-14 15:09:26.535897 +0000", got.UpdatedAt)
	require.Equal(t, nextidentitytest.FormatUpdatedAt(provUser().UpdatedAt), got.UpdatedAt)
}

// provRequireInstant checks that got is the instant want, whatever its
// location.
func provRequireInstant(t *testing.T, want, got time.Time) {
	t.Helper()
	require.True(t, want.Equal(got), "got %s, want %s", got, want)
}

// provHeader decodes the JOSE header of a compact JWS.
func provHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	seg, _, ok := strings.Cut(raw, ".")
	require.True(t, ok)
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(b, &h))
	return h
}

// provProviderError asserts err is an *Error and returns it.
func provProviderError(t *testing.T, err error) *nextidentity.Error {
	t.Helper()
	require.Error(t, err)
	var pe *nextidentity.Error
	require.ErrorAs(t, err, &pe, "%v", err)
	return pe
}

var provRequestField = regexp.MustCompile(`name="request" value="([^"]*)"`)

// provCancel plays a user who opens authURL in a fresh browser and presses
// Cancel on the hosted sign-in page. It returns the query of the provider's
// redirect to the application. (Server.Login only ever signs in.)
func provCancel(t *testing.T, srv *nextidentitytest.Server, authURL string) url.Values {
	t.Helper()
	hc := srv.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	jar, err := cookiejar.New(nil) // the sign-in page is bound to the browser's cookie
	require.NoError(t, err)
	hc.Jar = jar

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, authURL, nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	m := provRequestField.FindSubmatch(page)
	require.NotNil(t, m, "no sign-in form in %s", page)

	form := url.Values{"request": {string(m[1])}, "action": {"cancel"}}
	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost,
		srv.URL+string(nextidentitytest.EndpointLogin), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = hc.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return loc.Query()
}

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
			require.Equal(t, "openid profile email phone", tok.Scope)
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

// TestProviderKeyRotation: a login after a key rotation carries a new kid,
// which costs exactly one JWKS request; tokens signed with a key the JWKS
// still publishes keep verifying, and a dropped key stops verifying.
func TestProviderKeyRotation(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			ctx := t.Context()
			e := provStart(t, nextidentitytest.Options{SigningAlg: alg}, "", nil)
			jwks := func() int { return e.srv.Requests(nextidentitytest.EndpointJWKS) }

			ar1, tok1 := e.signIn(t)
			kid1 := provHeader(t, tok1.RawIDToken)["kid"]
			require.NotEmpty(t, kid1)
			require.Equal(t, 1, jwks(), "first verification loads the JWKS")

			e.srv.RotateKeys()
			e.srv.ForgetSession() // a new sign-in on the hosted page
			_, tok2 := e.signIn(t)
			kid2 := provHeader(t, tok2.RawIDToken)["kid"]
			require.NotEqual(t, kid1, kid2)
			require.Equal(t, 2, jwks(), "exactly one extra JWKS request for the new kid")
			require.Contains(t, e.srv.KeyIDs(), kid1)

			// The old token still verifies while its key is published, and
			// neither it nor further tokens with the new kid cost a request.
			old, err := e.c.VerifyIDToken(ctx, tok1.RawIDToken, ar1.Nonce)
			require.NoError(t, err)
			require.Equal(t, provSubject, old.Subject)
			_, tok3 := e.signIn(t)
			require.Equal(t, kid2, provHeader(t, tok3.RawIDToken)["kid"])
			require.Equal(t, 2, jwks())

			// Two more rotations drop kid1 from the JWKS. The next new kid
			// is picked up (after the unknown-kid interval), and from then on
			// the old token no longer verifies.
			e.srv.RotateKeys()
			e.srv.RotateKeys()
			require.NotContains(t, e.srv.KeyIDs(), kid1)
			e.clk.Advance(nextidentity.DefaultJWKSUnknownKID + time.Second)
			_, tok4 := e.signIn(t)
			require.NotEqual(t, kid2, provHeader(t, tok4.RawIDToken)["kid"])
			require.Equal(t, 3, jwks())

			_, err = e.c.VerifyIDToken(ctx, tok1.RawIDToken, ar1.Nonce)
			require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
			require.Equal(t, 3, jwks(), "unknown-kid refetch is rate limited")
			e.clk.Advance(nextidentity.DefaultJWKSUnknownKID + time.Second)
			_, err = e.c.VerifyIDToken(ctx, tok1.RawIDToken, ar1.Nonce)
			require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
			require.Equal(t, 4, jwks())
		})
	}

	t.Run("algorithm switch", func(t *testing.T) {
		e := provStart(t, nextidentitytest.Options{}, "", nil)
		_, tok := e.signIn(t)
		require.Equal(t, "RS256", provHeader(t, tok.RawIDToken)["alg"])
		require.Equal(t, 1, e.srv.Requests(nextidentitytest.EndpointJWKS))

		// The EC key was published from the start: no JWKS request.
		e.srv.SetSigningAlg("ES256")
		_, tok = e.signIn(t)
		require.Equal(t, "ES256", provHeader(t, tok.RawIDToken)["alg"])
		require.Equal(t, 1, e.srv.Requests(nextidentitytest.EndpointJWKS))

		// HS256 is keyed with the client secret: no JWKS request either.
		e.srv.SetSigningAlg("HS256")
		_, tok = e.signIn(t)
		h := provHeader(t, tok.RawIDToken)
		require.Equal(t, "HS256", h["alg"])
		require.NotContains(t, h, "kid")
		require.Equal(t, 1, e.srv.Requests(nextidentitytest.EndpointJWKS))
	})
}

// TestProviderRegisterAndPersonalDetails: the registration and profile
// journeys take the /authorize parameters and end in a normal code exchange.
func TestProviderRegisterAndPersonalDetails(t *testing.T) {
	type start func(*nextidentity.Client, ...nextidentity.AuthOption) (*nextidentity.AuthRequest, error)
	for _, tc := range []struct {
		name     string
		start    start
		endpoint nextidentitytest.Endpoint
	}{
		{"register", (*nextidentity.Client).RegisterURL, nextidentitytest.EndpointRegister},
		{"personal details", (*nextidentity.Client).PersonalDetailsURL, nextidentitytest.EndpointPersonalDetails},
		{"authorize", (*nextidentity.Client).AuthCodeURL, nextidentitytest.EndpointAuthorize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			e := provStart(t, nextidentitytest.Options{}, "", nil)

			// A fresh browser: the hosted page asks for credentials.
			ar, err := tc.start(e.c, nextidentity.WithOfflineAccess(), nextidentity.WithUILocales("fr-CA"))
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(ar.URL, e.srv.URL+string(tc.endpoint)+"?"), ar.URL)
			q, err := e.srv.Login(ctx, ar.URL, provEmail, provPassword)
			require.NoError(t, err)
			require.Equal(t, 1, e.srv.Requests(tc.endpoint))
			// Personal details: after signing in, the profile form is saved as shown.
			forms := 1
			if tc.endpoint == nextidentitytest.EndpointPersonalDetails {
				forms = 2
			}
			require.Equal(t, forms, e.srv.Requests(nextidentitytest.EndpointLogin), "credentials posted once")
			tok, err := e.c.Exchange(ctx, q, ar)
			require.NoError(t, err)
			require.Equal(t, provSubject, tok.IDToken.Subject)
			require.Equal(t, ar.Nonce, tok.IDToken.Nonce)
			require.NotEmpty(t, tok.RefreshToken)
			provRequireProfile(t, tok.IDToken.Profile)

			// With the provider session the journey comes straight back.
			ar2, err := tc.start(e.c)
			require.NoError(t, err)
			q2, err := e.srv.Authorize(ctx, ar2.URL)
			require.NoError(t, err)
			if tc.endpoint == nextidentitytest.EndpointPersonalDetails {
				forms++ // the profile form again, no credentials
			}
			require.Equal(t, forms, e.srv.Requests(nextidentitytest.EndpointLogin))
			tok2, err := e.c.Exchange(ctx, q2, ar2)
			require.NoError(t, err)
			require.Equal(t, provSubject, tok2.IDToken.Subject)

			// The callback of one journey cannot complete another request.
			ar3, err := tc.start(e.c)
			require.NoError(t, err)
			q3, err := e.srv.Authorize(ctx, ar3.URL)
			require.NoError(t, err)
			_, err = e.c.Exchange(ctx, q3, ar2)
			require.ErrorIs(t, err, nextidentity.ErrStateMismatch)
		})
	}
}

// TestProviderLatency: a slow provider is abandoned when the caller's
// context ends, and the next call without latency succeeds.
func TestProviderLatency(t *testing.T) {
	for _, tc := range []struct {
		name     string
		endpoint nextidentitytest.Endpoint
		call     provCall
	}{
		{"exchange", nextidentitytest.EndpointToken, provExchange},
		{"refresh", nextidentitytest.EndpointToken, provRefresh},
		{"userinfo", nextidentitytest.EndpointUserInfo, provUserInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ar, q, tok := provCallSetup(t, tc.call)
			before := e.srv.Requests(tc.endpoint)

			e.srv.SetLatency(tc.endpoint, time.Second)
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			began := time.Now()
			err := tc.call.do(ctx, t, e, ar, q, tok)
			elapsed := time.Since(began)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			var pe *nextidentity.Error
			require.False(t, errors.As(err, &pe), "a timeout is not a provider error: %v", err)
			// Ignoring ctx would have returned the delayed answer, no error.
			require.Less(t, elapsed, 5*time.Second, "hang guard")
			require.Equal(t, before+1, e.srv.Requests(tc.endpoint))

			e.srv.SetLatency(tc.endpoint, 0)
			require.NoError(t, tc.call.do(t.Context(), t, e, ar, q, tok))
		})
	}
}

// TestProviderSessionAndTokenLifetimes: the provider session drives silent
// re-authentication (max_age, prompt=login, the 14-day session), and an
// expired ID token is refused while a refresh still gets a fresh one.
func TestProviderSessionAndTokenLifetimes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration
		opts    []nextidentity.AuthOption
		silent  bool // the provider answers without the sign-in page
	}{
		{"session within max_age", 5 * time.Minute, []nextidentity.AuthOption{nextidentity.WithMaxAge(10 * time.Minute)}, true},
		{"session older than max_age", 11 * time.Minute, []nextidentity.AuthOption{nextidentity.WithMaxAge(10 * time.Minute)}, false},
		{"prompt=login", 0, []nextidentity.AuthOption{nextidentity.WithPrompt("login")}, false},
		{"session near its end", nextidentitytest.SessionLifetime - time.Minute, nil, true},
		{"session expired", nextidentitytest.SessionLifetime, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			e := provStart(t, nextidentitytest.Options{}, "", nil)
			loginAt := e.clk.Now()
			e.signIn(t)
			e.clk.Advance(tc.advance)

			ar, err := e.c.AuthCodeURL(tc.opts...)
			require.NoError(t, err)
			q, err := e.srv.Authorize(ctx, ar.URL)
			if !tc.silent {
				require.ErrorIs(t, err, nextidentitytest.ErrLoginRequired)
				// The user signs in again: a new auth_time.
				q, err = e.srv.Login(ctx, ar.URL, provEmail, provPassword)
				require.NoError(t, err)
				tok, err := e.c.Exchange(ctx, q, ar)
				require.NoError(t, err)
				provRequireInstant(t, e.clk.Now(), tok.IDToken.AuthTime)
				return
			}
			require.NoError(t, err)
			tok, err := e.c.Exchange(ctx, q, ar)
			require.NoError(t, err)
			provRequireInstant(t, loginAt, tok.IDToken.AuthTime)
		})
	}

	t.Run("prompt=none after the session expired", func(t *testing.T) {
		e := provStart(t, nextidentitytest.Options{}, "", nil)
		e.signIn(t)
		e.clk.Advance(nextidentitytest.SessionLifetime)
		ar, err := e.c.AuthCodeURL(nextidentity.WithPrompt("none"))
		require.NoError(t, err)
		q, err := e.srv.Authorize(t.Context(), ar.URL)
		require.NoError(t, err)
		_, err = e.c.Exchange(t.Context(), q, ar)
		require.ErrorIs(t, err, nextidentity.ErrLoginRequired)
	})

	t.Run("ID token expiry", func(t *testing.T) {
		ctx := t.Context()
		e := provStart(t, nextidentitytest.Options{IDTokenLifetime: 2 * time.Hour}, "", nil)
		ar, tok := e.signIn(t, nextidentity.WithOfflineAccess())

		// Within the default leeway the token is still accepted.
		e.clk.Advance(2*time.Hour + nextidentity.DefaultLeeway - time.Second)
		_, err := e.c.VerifyIDToken(ctx, tok.RawIDToken, ar.Nonce)
		require.NoError(t, err)
		e.clk.Advance(time.Second)
		_, err = e.c.VerifyIDToken(ctx, tok.RawIDToken, ar.Nonce)
		require.ErrorIs(t, err, nextidentity.ErrTokenExpired)
		require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)

		// The refresh token outlives it and brings a fresh ID token.
		nt, err := e.c.Refresh(ctx, tok)
		require.NoError(t, err)
		provRequireInstant(t, e.clk.Now().Add(2*time.Hour), nt.IDToken.Expiry)
		_, err = e.c.VerifyIDToken(ctx, nt.RawIDToken, "")
		require.NoError(t, err)
	})
}

// provCall is one provider call of a signed-in or signing-in user, for
// tables that run the same check on exchange, refresh and userinfo.
type provCall struct {
	signedIn bool // the call needs the exchanged token first
	do       func(ctx context.Context, t *testing.T, e *provEnv, ar *nextidentity.AuthRequest, q url.Values, tok *nextidentity.Token) error
}

var (
	provExchange = provCall{false, func(ctx context.Context, t *testing.T, e *provEnv, ar *nextidentity.AuthRequest, q url.Values, _ *nextidentity.Token) error {
		tok, err := e.c.Exchange(ctx, q, ar)
		if err == nil {
			require.Equal(t, provSubject, tok.IDToken.Subject)
		}
		return err
	}}
	provRefresh = provCall{true, func(ctx context.Context, t *testing.T, e *provEnv, _ *nextidentity.AuthRequest, _ url.Values, tok *nextidentity.Token) error {
		nt, err := e.c.Refresh(ctx, tok)
		if err == nil {
			require.Equal(t, provSubject, nt.IDToken.Subject)
		}
		return err
	}}
	provUserInfo = provCall{true, func(ctx context.Context, t *testing.T, e *provEnv, _ *nextidentity.AuthRequest, _ url.Values, tok *nextidentity.Token) error {
		ui, err := e.c.UserInfo(ctx, tok)
		if err == nil {
			require.Equal(t, provSubject, ui.Subject)
		}
		return err
	}}
)

// provCallSetup starts a provider and signs in with offline access,
// exchanging the code when call needs a token.
func provCallSetup(t *testing.T, call provCall) (*provEnv, *nextidentity.AuthRequest, url.Values, *nextidentity.Token) {
	t.Helper()
	e := provStart(t, nextidentitytest.Options{}, "", nil)
	ar, q := e.login(t, nextidentity.WithOfflineAccess())
	var tok *nextidentity.Token
	if call.signedIn {
		var err error
		tok, err = e.c.Exchange(t.Context(), q, ar)
		require.NoError(t, err)
	}
	return e, ar, q, tok
}
