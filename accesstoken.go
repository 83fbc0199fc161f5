package nextidentity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// Errors of access token verification, introspection and bearer checks.
var (
	// ErrInvalidAccessToken is wrapped by every access token rejection of
	// VerifyAccessToken, with the finer sentinel where one applies
	// (ErrTokenExpired, ErrInvalidSignature, ErrIssuerMismatch,
	// ErrAudienceMismatch, ErrInactiveToken, ErrNotAccessToken).
	ErrInvalidAccessToken = errors.New("nextidentity: invalid access token")
	// ErrInactiveToken: the introspection endpoint answered "active": false
	// (the token is expired, revoked, or was never issued).
	ErrInactiveToken = errors.New("nextidentity: inactive token")
	// ErrNotAccessToken: the introspection endpoint says the token is
	// active but of another type ("token_type" present and not an access
	// token, for example a refresh token), so it must not be accepted as
	// an access token. Always wrapped with ErrInvalidAccessToken.
	ErrNotAccessToken = errors.New("nextidentity: not an access token")
	// ErrInsufficientScope: a valid access token lacks a scope the resource
	// requires.
	ErrInsufficientScope = errors.New("nextidentity: insufficient scope")
	// ErrProviderUnreachable: the provider could not be asked (network error,
	// timeout, HTTP 5xx) while checking a token, so the token is neither
	// accepted nor known to be bad. Resource servers answer 503.
	ErrProviderUnreachable = errors.New("nextidentity: provider unreachable")
)

// Audience returns Config.Audience, the identifier of the API this client
// protects ("" when not set).
func (c *Client) Audience() string { return c.cfg.Audience }

// DefaultAccessTokenTypes are the JOSE "typ" values a JWT access token must
// carry unless Config.AccessTokenTypes says otherwise (RFC 9068 section 2.1).
var DefaultAccessTokenTypes = []string{"at+jwt", "application/at+jwt"}

// AccessToken is a verified access token: the claims of a JWT access token
// (RFC 9068) or the answer of the introspection endpoint for an opaque one.
// Treat it as read-only: VerifyAccessToken may share its slices between
// calls for the same token.
type AccessToken struct {
	// Issuer is the "iss" claim, always Config.Issuer: a token from another
	// issuer is rejected. For an opaque token whose introspection response
	// has no "iss", it is Config.Issuer.
	Issuer string
	// Subject is the "sub" claim: the user, or for a client credentials
	// token the client itself. Empty when the token has none.
	Subject string
	// ClientID is the "client_id" claim: the client the token was issued
	// to. Empty when the token has none.
	ClientID string
	// ID is the "jti" claim, the token's unique identifier. Empty when the
	// token has none.
	ID string
	// Audience is the "aud" claim (a string or an array, always as a
	// slice): the APIs the token is meant for. When Config.Audience is set,
	// it contains it. Nil when the token has none (possible only for an
	// introspected token, or when Config.Audience is not set).
	Audience []string
	// Scopes is the "scope" claim split on spaces (an array is accepted
	// too). Nil when the token has none; see HasScopes.
	Scopes []string
	// IssuedAt is the "iat" claim, when the token was issued. Zero when the
	// token has none.
	IssuedAt time.Time
	// Expiry is the "exp" claim, when the token stops being valid. A JWT
	// access token always has one; for an introspected token it is zero
	// when the response has none.
	Expiry time.Time
	// AuthTime is the "auth_time" claim: when the user last authenticated
	// at the provider (RFC 9068 section 2.2.1, RFC 9470). Zero when the
	// token has none, as a client credentials token never has.
	AuthTime time.Time

	claims []byte // JWT payload or introspection response
}

// Claims decodes the token's claims into v, for custom claims: the JWT
// payload, or for an opaque token the introspection response.
func (t *AccessToken) Claims(v any) error {
	if t == nil || t.claims == nil {
		return errors.New("nextidentity: AccessToken has no claims (not produced by VerifyAccessToken)")
	}
	return json.Unmarshal(t.claims, v)
}

// HasScopes reports whether the token carries every one of scopes.
func (t *AccessToken) HasScopes(scopes ...string) bool {
	for _, s := range scopes {
		if !slices.Contains(t.Scopes, s) {
			return false
		}
	}
	return true
}

// atClaims is a JWT access token payload as decoded for verification.
type atClaims struct {
	Iss      string      `json:"iss"`
	Sub      string      `json:"sub"`
	Aud      audience    `json:"aud"`
	Exp      numericDate `json:"exp"`
	Iat      numericDate `json:"iat"`
	Nbf      numericDate `json:"nbf"`
	ClientID string      `json:"client_id"`
	Jti      string      `json:"jti"`
	Scope    scopeClaim  `json:"scope"`
	AuthTime numericDate `json:"auth_time"`
}

var atClaimNames = jsonNames(reflect.TypeFor[atClaims]())

// scopeClaim is "scope": a space-separated string (RFC 9068 section 2.2.3,
// RFC 7662). An array of strings is accepted too.
type scopeClaim []string

func (s *scopeClaim) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, jsonNull) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		str, err := unquote(b)
		if err != nil {
			return err
		}
		*s = strings.Fields(str)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New(`"scope" must be a space-separated string`)
	}
	*s = l
	return nil
}

// VerifyAccessToken checks an access token presented to a resource server
// and returns its claims.
//
// A JWT (three dot-separated parts) is verified as RFC 9068 says: the
// signature with the provider's JWKS under the same "alg" allow-list as ID
// tokens, never "none" and never HS* (an access token is not keyed with this
// client's secret); the JOSE "typ" must be one of Config.AccessTokenTypes
// (default "at+jwt" or "application/at+jwt"), which is what keeps an ID token
// from passing as an access token; "iss" must equal Config.Issuer exactly;
// "aud" must contain Config.Audience when it is set; "exp" is required and
// "iat" and "nbf" are checked when present, all with the leeway. Without
// Config.Audience a token the provider minted for another API is accepted,
// so set it.
//
// Any other token is opaque and is introspected (see Introspect) when an
// introspection endpoint is known; it must be active, its "token_type", when
// the answer has one, must name an access token (a refresh token is
// ErrNotAccessToken), and its "aud", when the answer has one, must contain
// Config.Audience. Without an endpoint an opaque token is refused.
//
// Accepted tokens are cached, keyed by the whole token: a JWT until its
// "exp", an introspection answer for Config.IntrospectionCacheTTL (never past
// its "exp"). A revoked JWT therefore stays valid here until it expires, and
// a revoked opaque token for at most the TTL; Revoke drops the token from
// this client's cache, and a change of the provider's keys drops JWTs signed
// with a key that is gone.
//
// Every rejection wraps ErrInvalidAccessToken and the finer sentinel where
// one applies. When the provider cannot be asked (JWKS or introspection
// endpoint down) the error wraps ErrProviderUnreachable too.
func (c *Client) VerifyAccessToken(ctx context.Context, raw string) (_ *AccessToken, err error) {
	defer c.tel.VerifyFailed(ctx, telemetry.AccessToken, &err)
	if raw == "" {
		return nil, invalidToken(ErrInvalidAccessToken, nil, "empty token")
	}
	if len(raw) > maxJWSLen {
		return nil, invalidToken(ErrInvalidAccessToken, nil, "token is %d bytes, longer than %d", len(raw), maxJWSLen)
	}
	if at, ok := c.atCache.get(ctx, c, raw); ok {
		return at, nil
	}
	if strings.Count(raw, ".") != 2 {
		return c.introspectAccessToken(ctx, raw)
	}
	at, until, key, err := c.verifyJWTAccessToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	c.atCache.put(raw, at, until, key)
	return at, nil
}

// verifyJWTAccessToken verifies an RFC 9068 access token and returns it with
// the time its cache entry may live until and the key that verified it.
func (c *Client) verifyJWTAccessToken(ctx context.Context, raw string) (*AccessToken, time.Time, *cacheKey, error) {
	hdr, payload, key, err := c.verifyJWSKey(ctx, raw, jwsOptions{umbrella: ErrInvalidAccessToken, noHMAC: true})
	if err != nil {
		return nil, time.Time{}, nil, err
	}
	if !c.acceptsType(hdr.Typ) {
		if hdr.Typ == "" {
			return nil, time.Time{}, nil, invalidToken(ErrInvalidAccessToken, nil, "no typ header; an RFC 9068 access token has typ at+jwt (see Config.AccessTokenTypes)")
		}
		return nil, time.Time{}, nil, invalidToken(ErrInvalidAccessToken, nil, "typ %q is not an access token type (see Config.AccessTokenTypes)", hdr.Typ)
	}
	var cl atClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, time.Time{}, nil, invalidToken(ErrInvalidAccessToken, nil, "claims: %v", err)
	}
	if name, bad := foldedName(payload, atClaimNames); bad {
		return nil, time.Time{}, nil, invalidToken(ErrInvalidAccessToken, nil, "claim %q differs from a registered claim name only in case", name)
	}
	if cl.Iss != c.cfg.Issuer {
		return nil, time.Time{}, nil, invalidToken(ErrInvalidAccessToken, ErrIssuerMismatch, "iss %q, want %q", cl.Iss, c.cfg.Issuer)
	}
	if c.cfg.Audience != "" && !slices.Contains(cl.Aud, c.cfg.Audience) {
		return nil, time.Time{}, nil, invalidToken(ErrInvalidAccessToken, ErrAudienceMismatch, "aud %q does not contain %q", []string(cl.Aud), c.cfg.Audience)
	}
	if !cl.Exp.set {
		return nil, time.Time{}, nil, invalidToken(ErrInvalidAccessToken, nil, "no exp claim")
	}
	if err := c.checkTimes(cl.Exp, cl.Iat, cl.Nbf); err != nil {
		return nil, time.Time{}, nil, err
	}
	at := &AccessToken{
		Issuer:   cl.Iss,
		Subject:  cl.Sub,
		ClientID: cl.ClientID,
		ID:       cl.Jti,
		Audience: cl.Aud,
		Scopes:   cl.Scope,
		IssuedAt: cl.Iat.t,
		Expiry:   cl.Exp.t,
		AuthTime: cl.AuthTime.t,
		claims:   payload,
	}
	var ck *cacheKey
	if key != nil {
		ck = &cacheKey{key: key, kid: hdr.Kid, alg: hdr.Alg}
	}
	return at, cl.Exp.t.Add(c.leeway), ck, nil
}

// checkTimes checks exp (when set), iat and nbf against the clock with the
// leeway.
func (c *Client) checkTimes(exp, iat, nbf numericDate) error {
	now := c.now()
	if exp.set && !now.Before(exp.t.Add(c.leeway)) {
		return invalidToken(ErrInvalidAccessToken, ErrTokenExpired, "expired at %s", exp.t.UTC().Format(time.RFC3339))
	}
	if iat.set && iat.t.After(now.Add(c.leeway)) {
		return invalidToken(ErrInvalidAccessToken, nil, "issued in the future (iat %s)", iat.t.UTC().Format(time.RFC3339))
	}
	if nbf.set && nbf.t.After(now.Add(c.leeway)) {
		return invalidToken(ErrInvalidAccessToken, nil, "not valid before %s", nbf.t.UTC().Format(time.RFC3339))
	}
	return nil
}

// acceptsType reports whether typ is an accepted access token "typ". Media
// type names are case-insensitive (RFC 7515 section 4.1.9).
func (c *Client) acceptsType(typ string) bool {
	types := c.cfg.AccessTokenTypes
	if len(types) == 0 {
		types = DefaultAccessTokenTypes
	}
	for _, t := range types {
		if strings.EqualFold(t, typ) {
			return true
		}
	}
	return false
}

// introspectAccessToken is VerifyAccessToken for an opaque token.
func (c *Client) introspectAccessToken(ctx context.Context, raw string) (*AccessToken, error) {
	p, err := c.providerFor(ctx, ErrInvalidAccessToken)
	if err != nil {
		return nil, err
	}
	if p.endpoints.introspection == "" {
		return nil, invalidToken(ErrInvalidAccessToken, nil, "not a JWT, and no introspection endpoint is known to check an opaque token (discovery lists none; set Config.IntrospectionEndpoint)")
	}
	in, err := c.Introspect(ctx, raw)
	if err != nil {
		if errors.Is(err, ErrInactiveToken) {
			return nil, invalidToken(ErrInvalidAccessToken, ErrInactiveToken, "the introspection endpoint says the token is not active")
		}
		if errors.Is(err, ErrProviderUnreachable) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidAccessToken, err)
		}
		return nil, err
	}
	if in.Issuer != "" && in.Issuer != c.cfg.Issuer {
		return nil, invalidToken(ErrInvalidAccessToken, ErrIssuerMismatch, "introspection iss %q, want %q", in.Issuer, c.cfg.Issuer)
	}
	if c.cfg.Audience != "" && len(in.Audience) > 0 && !slices.Contains(in.Audience, c.cfg.Audience) {
		return nil, invalidToken(ErrInvalidAccessToken, ErrAudienceMismatch, "aud %q does not contain %q", in.Audience, c.cfg.Audience)
	}
	now := c.now()
	if !in.Expiry.IsZero() && !now.Before(in.Expiry.Add(c.leeway)) {
		return nil, invalidToken(ErrInvalidAccessToken, ErrTokenExpired, "expired at %s", in.Expiry.UTC().Format(time.RFC3339))
	}
	at := &AccessToken{
		Issuer:   firstNonEmpty(in.Issuer, c.cfg.Issuer),
		Subject:  in.Subject,
		ClientID: in.ClientID,
		ID:       in.ID,
		Audience: in.Audience,
		Scopes:   in.Scopes,
		IssuedAt: in.IssuedAt,
		Expiry:   in.Expiry,
		AuthTime: in.AuthTime,
		claims:   in.claims,
	}
	if ttl := c.introspectionTTL; ttl > 0 {
		until := now.Add(ttl)
		if !in.Expiry.IsZero() && in.Expiry.Before(until) {
			until = in.Expiry
		}
		c.atCache.put(raw, at, until, nil)
	}
	return at, nil
}
