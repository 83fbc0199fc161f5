package nextidentity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// Introspection is the introspection endpoint's answer about a token
// (RFC 7662 section 2.2). Introspect returns it only for an active token.
type Introspection struct {
	// Active is the "active" member. Always true in an Introspection
	// returned by Introspect: an inactive token is ErrInactiveToken.
	Active bool
	// Issuer is the "iss" member, the token's issuer. Empty when absent.
	Issuer string
	// Subject is the "sub" member: the user, or the client itself for a
	// client credentials token. Empty when absent.
	Subject string
	// ClientID is the "client_id" member: the client the token was issued
	// to. Empty when absent.
	ClientID string
	// Username is the "username" member, a human-readable identifier of the
	// resource owner. Empty when absent.
	Username string
	// TokenType is the "token_type" member, for example "Bearer". Empty
	// when absent. Introspect refuses an answer whose token_type is present
	// and names anything but a bearer access token.
	TokenType string
	// ID is the "jti" member, the token's unique identifier. Empty when
	// absent.
	ID string
	// Scopes is the "scope" member split on spaces (an array is accepted
	// too). Nil when absent.
	Scopes []string
	// Audience is the "aud" member (a string or an array, always as a
	// slice): the APIs the token is meant for. Nil when absent.
	Audience []string
	// Expiry is the "exp" member, when the token stops being valid. Zero
	// when absent.
	Expiry time.Time
	// IssuedAt is the "iat" member, when the token was issued. Zero when
	// absent.
	IssuedAt time.Time
	// AuthTime is the "auth_time" member, when the user last authenticated
	// at the provider. RFC 7662 does not define it; providers that send it
	// use the ID token claim's meaning (RFC 9470). Zero when absent.
	AuthTime time.Time

	claims []byte
}

// Claims decodes the whole introspection response into v, for members this
// type does not name.
func (i *Introspection) Claims(v any) error {
	if i == nil || i.claims == nil {
		return errors.New("nextidentity: Introspection has no claims (not produced by Introspect)")
	}
	return json.Unmarshal(i.claims, v)
}

// introspectionJSON is the response as decoded.
type introspectionJSON struct {
	Active    *bool       `json:"active"`
	Iss       string      `json:"iss"`
	Sub       string      `json:"sub"`
	ClientID  string      `json:"client_id"`
	Username  string      `json:"username"`
	TokenType string      `json:"token_type"`
	Jti       string      `json:"jti"`
	Scope     scopeClaim  `json:"scope"`
	Aud       audience    `json:"aud"`
	Exp       numericDate `json:"exp"`
	Iat       numericDate `json:"iat"`
	AuthTime  numericDate `json:"auth_time"`
}

// Introspect asks the provider's introspection endpoint about token
// (RFC 7662; the provider documents /introspect without its formats, so the
// request and the answer follow the RFC). It posts "token" with
// token_type_hint=access_token and the client's authentication
// (Config.AuthStyle). An inactive token fails with ErrInactiveToken. An
// active token whose "token_type" is present and is not an access token
// ("Bearer", any case, or "access_token" or its RFC 8693 URN) fails with
// ErrNotAccessToken wrapped with ErrInvalidAccessToken: a refresh token,
// for example, is never a bearer credential, whatever the provider says of
// it. The provider's error bodies become *Error values as at the token endpoint; a
// network error or HTTP 5xx wraps ErrProviderUnreachable. Introspect never
// uses the cache of VerifyAccessToken.
func (c *Client) Introspect(ctx context.Context, token string) (_ *Introspection, err error) {
	ctx, op := c.tel.Start(ctx, telemetry.Introspection)
	defer op.End(&err)
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	if p.endpoints.introspection == "" {
		return nil, configError("IntrospectionEndpoint", "is not set and discovery lists no introspection_endpoint")
	}
	if token == "" {
		return nil, fmt.Errorf("nextidentity: introspect: empty token")
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := c.clientAuthRequest(ctx, p.endpoints.introspection, form)
	if err != nil {
		return nil, fmt.Errorf("nextidentity: introspection request: %w", err)
	}
	body, status, err := c.do(c.strict, req, "introspection")
	if err != nil {
		if status == 0 {
			return nil, fmt.Errorf("%w: %w", ErrProviderUnreachable, err)
		}
		return nil, err
	}
	if e := providerError("introspection", status, body); e != nil {
		if status >= 500 {
			return nil, fmt.Errorf("%w: %w", ErrProviderUnreachable, e)
		}
		return nil, e
	}
	var r introspectionJSON
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, malformed("introspection", status, body, err)
	}
	if r.Active == nil {
		return nil, malformed("introspection", status, body, errors.New(`no boolean "active" member`))
	}
	if !*r.Active {
		return nil, fmt.Errorf("%w: the introspection endpoint says the token is not active", ErrInactiveToken)
	}
	if r.TokenType != "" && !isAccessTokenType(r.TokenType) {
		return nil, invalidToken(ErrInvalidAccessToken, ErrNotAccessToken, "the introspection endpoint says the token is of type %q, not an access token", r.TokenType)
	}
	return &Introspection{
		Active:    true,
		Issuer:    r.Iss,
		Subject:   r.Sub,
		ClientID:  r.ClientID,
		Username:  r.Username,
		TokenType: r.TokenType,
		ID:        r.Jti,
		Scopes:    r.Scope,
		Audience:  r.Aud,
		Expiry:    r.Exp.t,
		IssuedAt:  r.Iat.t,
		AuthTime:  r.AuthTime.t,
		claims:    body,
	}, nil
}

// isAccessTokenType reports whether an introspection answer's "token_type"
// names a bearer access token: "Bearer" (RFC 6749 section 7.1, matched
// without regard to case), or the token type hint and RFC 8693 token type
// identifier of an access token, which some servers send instead. Anything
// else, a refresh token, an ID token or a proof-of-possession type such as
// "DPoP" whose proof a bearer check never sees, is not.
func isAccessTokenType(t string) bool {
	return strings.EqualFold(t, "bearer") || t == "access_token" || t == "urn:ietf:params:oauth:token-type:access_token"
}

// clientAuthRequest builds a form POST to endpoint authenticated as the
// client, as the token endpoint is (RFC 6749 section 2.3.1): HTTP Basic with
// the form-encoded id and secret, or client_id and client_secret in the body
// (Config.AuthStyle); a public client sends only client_id.
func (c *Client) clientAuthRequest(ctx context.Context, endpoint string, form url.Values) (*http.Request, error) {
	form.Set("client_id", c.cfg.ClientID)
	secret := c.cfg.ClientSecret
	if secret != "" && c.cfg.AuthStyle == AuthStyleInParams {
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if secret != "" && c.cfg.AuthStyle == AuthStyleBasic {
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(secret))
	}
	return req, nil
}
