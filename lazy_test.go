package nextidentity_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// Config.LazyDiscovery: New makes no request, calls fail with
// ErrProviderUnavailable until the provider answers, attempts are shared and
// back off, and the client works without a restart once the provider is up.

// lazyEnv is a fake provider and a LazyDiscovery client of it, on one fake
// clock.
func lazyEnv(t *testing.T) (*nextidentitytest.Server, *nextidentity.Client, *fakeClock) {
	t.Helper()
	clk := newFakeClock(provEpoch)
	srv := nextidentitytest.NewServer(nextidentitytest.Options{Now: clk.Now})
	t.Cleanup(srv.Close)
	cfg := srv.Config()
	cfg.LazyDiscovery = true
	return srv, mkClient(t, cfg), clk
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func requireUnavailable(t *testing.T, err error) *nextidentity.ProviderUnavailableError {
	t.Helper()
	require.ErrorIs(t, err, nextidentity.ErrProviderUnavailable)
	var pe *nextidentity.ProviderUnavailableError
	require.ErrorAs(t, err, &pe)
	require.Regexp(t, `^nextidentity: provider unavailable`, pe.Error())
	return pe
}

func TestLazyDiscoveryNewMakesNoRequest(t *testing.T) {
	srv, c, _ := lazyEnv(t)
	require.Zero(t, srv.Requests(nextidentitytest.EndpointDiscovery))
	require.Zero(t, srv.Requests(nextidentitytest.EndpointJWKS))
	require.False(t, c.BackChannelLogoutSupported(), "unknown before discovery")

	// Endpoints discovery never gives work at once.
	_, err := c.RegisterURL()
	require.NoError(t, err)
	require.Zero(t, srv.Requests(nextidentitytest.EndpointDiscovery))

	require.NoError(t, c.Discover(t.Context()))
	require.NoError(t, c.Discover(t.Context()))
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointDiscovery), "the document is read once")
	require.Zero(t, srv.Requests(nextidentitytest.EndpointJWKS), "keys load on first use")
	require.NoError(t, c.Ready(t.Context()))
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointJWKS))
	require.NoError(t, c.Ready(t.Context()))
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointJWKS), "Ready makes no request once ready")
}

func TestLazyDiscoveryConfigErrorsFailNew(t *testing.T) {
	base := nextidentity.Config{Issuer: "http://" + freeAddr(t), ClientID: "app", LazyDiscovery: true}
	for name, mod := range map[string]func(*nextidentity.Config){
		"no client id":      func(c *nextidentity.Config) { c.ClientID = "" },
		"bad issuer":        func(c *nextidentity.Config) { c.Issuer = "ftp://x" },
		"bad token url":     func(c *nextidentity.Config) { c.TokenEndpoint = "not a url" },
		"bad jwks url":      func(c *nextidentity.Config) { c.JWKSURL = "/relative" },
		"bad register url":  func(c *nextidentity.Config) { c.RegisterEndpoint = "x:" },
		"unsupported alg":   func(c *nextidentity.Config) { c.SigningAlgs = []string{"none"} },
		"hs256 sans secret": func(c *nextidentity.Config) { c.SigningAlgs = []string{"HS256"} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := base
			mod(&cfg)
			c, err := nextidentity.New(t.Context(), cfg)
			require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
			require.Nil(t, c)
		})
	}
	c, err := nextidentity.New(t.Context(), base)
	require.NoError(t, err, "the provider being down is no configuration error")
	require.NoError(t, c.Close())
}

// TestLazyDiscoveryProviderComesUp starts a client while nothing listens at
// the issuer, then starts the provider there: sign-in works without a new
// client.
func TestLazyDiscoveryProviderComesUp(t *testing.T) {
	addr := freeAddr(t)
	clk := newFakeClock(provEpoch)
	cfg := nextidentity.Config{
		Issuer:        "http://" + addr,
		ClientID:      nextidentitytest.DefaultClientID,
		ClientSecret:  nextidentitytest.DefaultClientSecret,
		RedirectURL:   nextidentitytest.DefaultRedirectURI,
		Now:           clk.Now,
		LazyDiscovery: true,
	}
	c := mkClient(t, cfg)

	_, err := c.AuthCodeURL()
	pe := requireUnavailable(t, err)
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr, "the cause is the connection error")
	require.False(t, pe.RetryAt.Before(clk.Now().Add(800*time.Millisecond)))

	// Every call that needs the provider fails the same way, at once.
	calls := map[string]func() error{
		"Exchange": func() error {
			_, err := c.Exchange(t.Context(), map[string][]string{"code": {"x"}, "state": {"s"}},
				&nextidentity.AuthRequest{State: "s", Nonce: "n", CodeVerifier: "v"})
			return err
		},
		"Refresh":  func() error { _, err := c.Refresh(t.Context(), &nextidentity.Token{RefreshToken: "r"}); return err },
		"UserInfo": func() error { _, err := c.UserInfo(t.Context(), &nextidentity.Token{AccessToken: "a"}); return err },
		"ClientCredentials": func() error {
			_, err := c.ClientCredentials(t.Context())
			return err
		},
		"Revoke":     func() error { return c.Revoke(t.Context(), &nextidentity.Token{AccessToken: "a"}) },
		"Ready":      func() error { return c.Ready(t.Context()) },
		"Discover":   func() error { return c.Discover(t.Context()) },
		"Introspect": func() error { _, err := c.Introspect(t.Context(), "a"); return err },
	}
	for name, call := range calls {
		err := call()
		requireUnavailable(t, err)
		require.ErrorAs(t, err, &opErr, name)
	}
	// Token checks say "cannot check", not "bad token".
	_, err = c.VerifyIDToken(t.Context(), "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "n")
	requireUnavailable(t, err)
	require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
	require.ErrorIs(t, err, nextidentity.ErrProviderUnreachable)
	require.NotErrorIs(t, err, nextidentity.ErrInvalidSignature)
	_, err = c.VerifyAccessToken(t.Context(), "opaque-token")
	requireUnavailable(t, err)
	require.ErrorIs(t, err, nextidentity.ErrProviderUnreachable)
	require.Equal(t, nextidentity.RevocationAccountLogout, c.RevocationMethod())
	require.Contains(t, c.LogoutURL(nextidentity.LogoutRequest{}), cfg.Issuer+"/endsession?")

	// The provider comes up at the issuer's address.
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := nextidentitytest.NewServer(nextidentitytest.Options{Now: clk.Now, Listener: ln})
	t.Cleanup(srv.Close)
	require.Equal(t, cfg.Issuer, srv.Issuer())

	// Still in the backoff: no request yet.
	requireUnavailable(t, c.Discover(t.Context()))
	require.Zero(t, srv.Requests(nextidentitytest.EndpointDiscovery))

	clk.Advance(time.Second)
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	q, err := srv.Login(t.Context(), ar.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	tok, err := c.Exchange(t.Context(), q, ar)
	require.NoError(t, err)
	require.Equal(t, nextidentitytest.DefaultUserSubject, tok.IDToken.Subject)
	require.NoError(t, c.Ready(t.Context()))
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointDiscovery))
}

// TestLazyDiscoveryBackoff: a provider answering 503 is asked again only
// after a delay that doubles up to 30 s, never more; calls in between fail
// at once with the last cause.
func TestLazyDiscoveryBackoff(t *testing.T) {
	srv, c, clk := lazyEnv(t)
	srv.FailNext(nextidentitytest.EndpointDiscovery, 100, http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`)

	var delays []time.Duration
	for i := range 9 {
		err := c.Discover(t.Context())
		pe := requireUnavailable(t, err)
		require.Equal(t, i+1, srv.Requests(nextidentitytest.EndpointDiscovery))
		var perr *nextidentity.Error
		require.ErrorAs(t, err, &perr, "the cause is the provider's answer")
		require.Equal(t, http.StatusServiceUnavailable, perr.StatusCode)

		d := pe.RetryAt.Sub(clk.Now())
		delays = append(delays, d)
		// Calls before RetryAt fail at once, with the same cause, and
		// make no request.
		clk.Advance(d - time.Millisecond)
		err = c.Discover(t.Context())
		require.ErrorAs(t, err, &perr)
		require.Equal(t, i+1, srv.Requests(nextidentitytest.EndpointDiscovery))
		clk.Advance(time.Millisecond)
	}
	for i, d := range delays {
		want := min(time.Second<<i, nextidentity.MaxDiscoveryBackoff)
		require.LessOrEqual(t, d, want, "attempt %d", i+1)
		require.GreaterOrEqual(t, d, want*4/5, "attempt %d", i+1)
		require.LessOrEqual(t, d, 30*time.Second)
	}

	// The provider recovers: the next attempt succeeds and the failures
	// are forgotten.
	srv.FailNext(nextidentitytest.EndpointDiscovery, 0, 0, "")
	require.NoError(t, c.Discover(t.Context()))
	require.NoError(t, c.Ready(t.Context()))
}

// TestLazyDiscoveryOneRequest: many goroutines needing the provider at once
// share one discovery request.
func TestLazyDiscoveryOneRequest(t *testing.T) {
	srv, c, _ := lazyEnv(t)
	srv.SetLatency(nextidentitytest.EndpointDiscovery, 100*time.Millisecond)
	const n = 64
	errs := make(chan error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for range n {
		wg.Go(func() {
			start.Wait()
			_, err := c.AuthCodeURL()
			errs <- err
		})
	}
	start.Done()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointDiscovery))
}

// TestLazyDiscoveryFailureShared: the goroutines waiting on a failing
// attempt all get its error, and one request was made.
func TestLazyDiscoveryFailureShared(t *testing.T) {
	srv, c, _ := lazyEnv(t)
	srv.SetLatency(nextidentitytest.EndpointDiscovery, 100*time.Millisecond)
	srv.FailNext(nextidentitytest.EndpointDiscovery, 1, http.StatusBadGateway, "<html>bad gateway</html>")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- c.Discover(context.Background()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		requireUnavailable(t, err)
	}
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointDiscovery))
}

// TestLazyDiscoveryCallerGivesUp: a caller whose context ends stops
// waiting, and the attempt goes on for the others without a backoff.
func TestLazyDiscoveryCallerGivesUp(t *testing.T) {
	srv, c, _ := lazyEnv(t)
	srv.SetLatency(nextidentitytest.EndpointDiscovery, 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := c.Discover(ctx)
	requireUnavailable(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, c.Discover(t.Context()), "shares the attempt in progress")
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointDiscovery))
}

func TestLazyDiscoveryIssuerMismatch(t *testing.T) {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{IssuerTrailingSlash: true})
	t.Cleanup(srv.Close)
	cfg := srv.Config()
	cfg.Issuer = srv.URL // the document names srv.URL + "/"
	cfg.LazyDiscovery = true
	c := mkClient(t, cfg)
	err := c.Discover(t.Context())
	requireUnavailable(t, err)
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	require.ErrorIs(t, err, nextidentity.ErrIssuerMismatch)
}

func TestReadyKeysUnavailable(t *testing.T) {
	srv, c, _ := lazyEnv(t)
	srv.FailNext(nextidentitytest.EndpointJWKS, 1, http.StatusInternalServerError, "")
	err := c.Ready(t.Context())
	requireUnavailable(t, err)
	require.Contains(t, err.Error(), "signing keys")
	require.NoError(t, c.Discover(t.Context()), "discovery itself succeeded")

	// Without LazyDiscovery, Ready checks the keys all the same.
	eager, err := nextidentity.New(t.Context(), srv.Config())
	require.NoError(t, err)
	defer eager.Close()
	require.NoError(t, eager.Ready(t.Context()))
}

func TestLazyDiscoveryAfterClose(t *testing.T) {
	_, c, _ := lazyEnv(t)
	require.NoError(t, c.Close())
	err := c.Discover(t.Context())
	requireUnavailable(t, err)
	require.True(t, errors.Is(err, nextidentity.ErrProviderUnavailable))
}
