package nextidentity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// RevocationMethod names how Revoke ends tokens.
type RevocationMethod string

const (
	// RevocationRFC7009 posts each token to the revocation endpoint
	// (RFC 7009), the refresh token first.
	RevocationRFC7009 RevocationMethod = "rfc7009"
	// RevocationAccountLogout calls the provider's account logout API with
	// the access token as a bearer token and the refresh token in the body.
	RevocationAccountLogout RevocationMethod = "account_logout"
)

// RevocationMethod reports which way Revoke ends tokens for this client:
// RevocationRFC7009 when a revocation endpoint is known (discovery's
// revocation_endpoint or Config.RevocationEndpoint), else
// RevocationAccountLogout.
//
// With Config.LazyDiscovery it reads the discovery document first if it
// has not been read, and says RevocationAccountLogout while it cannot be.
func (c *Client) RevocationMethod() RevocationMethod {
	if p, err := c.provider(context.Background()); err == nil {
		return p.revocationMethod()
	}
	return RevocationAccountLogout
}

func (p *provider) revocationMethod() RevocationMethod {
	if p.endpoints.revocation != "" {
		return RevocationRFC7009
	}
	return RevocationAccountLogout
}

// Revoke ends tok's refresh and access tokens at the provider, and drops the
// access token from this client's VerifyAccessToken cache (other processes'
// caches keep it for at most their Config.IntrospectionCacheTTL, or until
// "exp" for a JWT).
//
// With a revocation endpoint (see RevocationMethod) it follows RFC 7009: the
// refresh token is revoked first, so no new access token can be minted, then
// the access token, each with its token_type_hint and the client's
// authentication. A provider that cannot revoke access tokens
// ("unsupported_token_type") is not an error: the access token then lives
// until it expires. Otherwise it calls the provider's account logout API
// (Config.AccountLogoutEndpoint) with the access token as a bearer token and
// the refresh token in the form body ("refresh_token"; the provider does not
// document the field names). That API needs a live access token: refresh
// first if it has expired.
//
// Both attempts are made even when the first fails, and the errors are
// joined. Provider refusals are *Error values; a network error or HTTP 5xx
// wraps ErrProviderUnreachable. A debug record on Config.Logger names the
// method that ran.
func (c *Client) Revoke(ctx context.Context, tok *Token) (err error) {
	ctx, op := c.tel.Start(ctx, telemetry.Revocation)
	defer op.End(&err)
	if tok == nil || (tok.AccessToken == "" && tok.RefreshToken == "") {
		return errors.New("nextidentity: revoke: the token has neither an access token nor a refresh token")
	}
	c.atCache.drop(tok.AccessToken)
	p, err := c.provider(ctx)
	if err != nil {
		return err
	}
	method := p.revocationMethod()
	if method == RevocationRFC7009 {
		err = c.revokeRFC7009(ctx, tok)
	} else {
		err = c.accountLogout(ctx, tok)
	}
	if c.log != nil && c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.LogAttrs(ctx, slog.LevelDebug, "nextidentity: revoke",
			slog.String("method", string(method)), slog.Bool("ok", err == nil))
	}
	return err
}

func (c *Client) revokeRFC7009(ctx context.Context, tok *Token) error {
	var errs []error
	if tok.RefreshToken != "" {
		errs = append(errs, c.revokeOne(ctx, tok.RefreshToken, "refresh_token"))
	}
	if tok.AccessToken != "" {
		err := c.revokeOne(ctx, tok.AccessToken, "access_token")
		var pe *Error
		if errors.As(err, &pe) && pe.Code == "unsupported_token_type" {
			err = nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// revokeOne posts one token to the revocation endpoint (RFC 7009 section
// 2.1). Any 2xx without an error body is success: the RFC answers 200 for
// tokens that were already invalid too.
func (c *Client) revokeOne(ctx context.Context, token, hint string) error {
	req, err := c.clientAuthRequest(ctx, c.loaded().endpoints.revocation, url.Values{"token": {token}, "token_type_hint": {hint}})
	if err != nil {
		return fmt.Errorf("nextidentity: revocation request: %w", err)
	}
	return c.expectOK(req, "revocation")
}

// accountLogout calls the account logout API.
func (c *Client) accountLogout(ctx context.Context, tok *Token) error {
	if tok.AccessToken == "" {
		return errors.New("nextidentity: revoke: the account logout API needs an access token and the token has none (no revocation endpoint is known)")
	}
	form := url.Values{}
	if tok.RefreshToken != "" {
		form.Set("refresh_token", tok.RefreshToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.static.accountLogout, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("nextidentity: account logout request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return c.expectOK(req, "account logout")
}

// expectOK sends req and maps anything but a 2xx without an error body to
// an error.
func (c *Client) expectOK(req *http.Request, name string) error {
	body, status, err := c.do(c.strict, req, name)
	if err != nil {
		if status == 0 {
			return fmt.Errorf("%w: %w", ErrProviderUnreachable, err)
		}
		return err
	}
	if e := providerError(name, status, body); e != nil {
		if status >= 500 {
			return fmt.Errorf("%w: %w", ErrProviderUnreachable, e)
		}
		return e
	}
	return nil
}
