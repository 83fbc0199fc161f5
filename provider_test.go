package nextidentity_test

// End-to-end tests of the client against the public fake provider
// (nextidentitytest), which behaves like the real Next Identity provider. The
// hostile cases live in the tests that use internal/testprovider; these cover
// the real flows: sign-in, code exchange, userinfo, refresh, logout, silent
// re-authentication, key rotation and the provider's documented errors.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

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
