package nextidentity

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"golang.org/x/oauth2"
)

// ClientCredentials gets an access token for the client itself with the
// client credentials grant (RFC 6749 section 4.4; the provider's Token
// Service documents the grant but not its formats, so the request and the
// response follow the RFC). The client authenticates as Config.AuthStyle
// says; scopes are sent space-separated, and none means the client's default
// scopes. No ID token is expected: one sent anyway is dropped unverified.
//
// The grant needs a confidential client: without Config.ClientSecret it fails
// with ErrInvalidConfig before any request. When the discovery document
// lists grant_types_supported without "client_credentials", it fails with
// ErrUnsupportedGrant before any request too. The provider's refusals are
// *Error values (ErrInvalidClient, ErrProvider, ...).
func (c *Client) ClientCredentials(ctx context.Context, scopes ...string) (*Token, error) {
	if c.cfg.ClientSecret == "" {
		return nil, configError("ClientSecret", "is required for the client credentials grant")
	}
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	if p.md != nil && len(p.md.GrantTypesSupported) > 0 && !slices.Contains(p.md.GrantTypesSupported, "client_credentials") {
		return nil, fmt.Errorf("%w: discovery's grant_types_supported %q does not list client_credentials (enable the grant for the tenant)",
			ErrUnsupportedGrant, p.md.GrantTypesSupported)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	// The lifetime counts from before the request, so network time makes
	// the token look shorter-lived, never longer.
	start := c.now()
	tr, err := c.tokenRequest(ctx, form)
	if err != nil {
		return nil, err
	}
	tr.IDToken, tr.RefreshToken = "", ""
	return tr.token(start), nil
}

// ClientCredentialsTokenSource returns an oauth2.TokenSource of client
// credentials tokens for scopes, for oauth2.NewClient and friends. It caches
// the token and gets a new one when the cached one expires within
// Config.RefreshMargin; however many goroutines ask at that moment, one request is made
// and all of them get its token. It never hands out a token that has
// expired: a token the provider sends already expired is an error.
// A token without "expires_in" is reused until the provider refuses it, as
// golang.org/x/oauth2 does.
//
// ctx is used for every token request the source makes, so it should live as
// long as the source (a request's context would end it with the request).
// Errors are not cached: the next call tries again.
func (c *Client) ClientCredentialsTokenSource(ctx context.Context, scopes ...string) oauth2.TokenSource {
	return &ccSource{c: c, ctx: ctx, scopes: append([]string(nil), scopes...)}
}

// ccSource is the token source behind ClientCredentialsTokenSource.
type ccSource struct {
	c      *Client
	ctx    context.Context
	scopes []string
	mu     sync.Mutex // held across a fetch, so concurrent callers share it
	tok    *Token
}

// Token returns the cached token while it is valid, else a new one.
func (s *ccSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok.freshAt(s.c.now(), s.c.margin) {
		return s.tok.OAuth2(), nil
	}
	tok, err := s.c.ClientCredentials(s.ctx, s.scopes...)
	if err != nil {
		return nil, err
	}
	if !tok.Expiry.IsZero() && !s.c.now().Before(tok.Expiry) {
		return nil, fmt.Errorf("nextidentity: client credentials: %w: the new token expired at %s", ErrMalformedResponse, tok.Expiry)
	}
	s.tok = tok
	return tok.OAuth2(), nil
}
