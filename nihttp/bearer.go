package nihttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// BearerOptions configures RequireBearerWith.
type BearerOptions struct {
	// Scopes the access token must all carry; none means any valid token.
	Scopes []string
	// MaxAge, when positive, demands a recent sign-in (RFC 9470): the
	// token's auth_time (AccessToken.AuthTime, from a JWT access token or
	// the introspection answer) must be at most MaxAge old by the client's
	// clock (Client.Now). A token without auth_time, or with an older one,
	// gets 401 with error="insufficient_user_authentication" and max_age
	// (whole seconds), so the client can send the user through sign-in
	// again with that max_age and come back with a fresher token.
	MaxAge time.Duration
	// Realm names the protected API in WWW-Authenticate. Default: the
	// client's Audience, else its Issuer.
	Realm string
	// OnError, when set, is told of every refused request (the status
	// answered and why) before the response is written, for logging. The
	// response itself never carries the reason.
	OnError func(r *http.Request, status int, err error)
}

// RequireBearer returns middleware that serves only requests carrying a
// valid access token with every one of scopes, as RFC 6750 describes for a
// resource server. The token is read from the "Authorization: Bearer"
// header only, never from the query string or the body, and verified with
// c.VerifyAccessToken (so set Config.Audience). The handler finds it with
// AccessTokenFrom.
//
// Refusals never redirect and carry no detail beyond RFC 6750's error code:
//   - no bearer token: 401, WWW-Authenticate: Bearer realm="..."
//   - several Authorization headers or a malformed one: 400, error="invalid_request"
//   - a token that fails verification: 401, error="invalid_token"
//   - a valid token without a required scope: 403, error="insufficient_scope", scope="..."
//   - with BearerOptions.MaxAge, a valid token whose auth_time is missing or
//     older: 401, error="insufficient_user_authentication", max_age=N (RFC 9470)
//   - the provider cannot be asked (JWKS or introspection down): 503
//   - anything else (for example the introspection endpoint refusing this
//     client): 500
func RequireBearer(c *nextidentity.Client, scopes ...string) func(http.Handler) http.Handler {
	return RequireBearerWith(c, BearerOptions{Scopes: scopes})
}

// RequireBearerWith is RequireBearer with options.
func RequireBearerWith(c *nextidentity.Client, o BearerOptions) func(http.Handler) http.Handler {
	realm := o.Realm
	if realm == "" {
		realm = c.Audience()
	}
	if realm == "" {
		realm = c.Issuer()
	}
	challenge := "Bearer realm=" + quoteParam(realm)
	scopes := append([]string(nil), o.Scopes...)
	insufficient := challenge + `, error="insufficient_scope", scope=` + quoteParam(strings.Join(scopes, " "))
	maxAge := o.MaxAge.Truncate(time.Second)
	stale := stepUpChallenge(challenge+",", maxAge)

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fail := func(status int, wwwAuth string, err error) {
				if o.OnError != nil {
					o.OnError(r, status, err)
				}
				h := w.Header()
				if wwwAuth != "" {
					h.Set("WWW-Authenticate", wwwAuth)
				}
				h.Set("Cache-Control", "no-store")
				h.Set("Content-Type", "text/plain; charset=utf-8")
				h.Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(http.StatusText(status) + "\n"))
			}
			raw, err := bearerToken(r)
			switch {
			case errors.Is(err, errNoBearer):
				fail(http.StatusUnauthorized, challenge, err)
				return
			case err != nil:
				fail(http.StatusBadRequest, challenge+`, error="invalid_request"`, err)
				return
			}
			at, err := c.VerifyAccessToken(r.Context(), raw)
			if err != nil {
				switch status := bearerStatus(err); status {
				case http.StatusUnauthorized:
					fail(status, challenge+`, error="invalid_token"`, err)
				default:
					fail(status, "", err)
				}
				return
			}
			if !at.HasScopes(scopes...) {
				fail(http.StatusForbidden, insufficient, nextidentity.ErrInsufficientScope)
				return
			}
			if o.MaxAge > 0 && (at.AuthTime.IsZero() || c.Now().Sub(at.AuthTime) > maxAge) {
				fail(http.StatusUnauthorized, stale, errStaleAuth)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accessTokenKey{}, at)))
		})
	}
}

// AccessTokenFrom returns the access token RequireBearer verified for this
// request, or nil outside RequireBearer.
func AccessTokenFrom(ctx context.Context) *nextidentity.AccessToken {
	at, _ := ctx.Value(accessTokenKey{}).(*nextidentity.AccessToken)
	return at
}

type accessTokenKey struct{}

var (
	errNoBearer        = errors.New("nihttp: no bearer token in the Authorization header")
	errManyAuthHeaders = errors.New("nihttp: more than one Authorization header")
	errBadBearer       = errors.New("nihttp: malformed bearer token")
	errStaleAuth       = fmt.Errorf("nihttp: the access token's auth_time is missing or older than BearerOptions.MaxAge: %w", nextidentity.ErrAuthTooOld)
)

// bearerToken reads the token of an "Authorization: Bearer" header
// (RFC 6750 section 2.1). Another scheme counts as no token.
func bearerToken(r *http.Request) (string, error) {
	vs := r.Header.Values("Authorization")
	switch len(vs) {
	case 0:
		return "", errNoBearer
	case 1:
	default:
		return "", errManyAuthHeaders
	}
	scheme, rest, _ := strings.Cut(vs[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errNoBearer
	}
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", errBadBearer
	}
	return tok, nil
}

// isB64Token reports whether s matches RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// bearerStatus maps a VerifyAccessToken error to the response status.
func bearerStatus(err error) int {
	switch {
	case errors.Is(err, nextidentity.ErrProviderUnreachable), errors.Is(err, nextidentity.ErrProviderUnavailable),
		errors.Is(err, nextidentity.ErrResponseTooLarge),
		errors.Is(err, nextidentity.ErrMalformedResponse):
		return http.StatusServiceUnavailable
	case errors.Is(err, nextidentity.ErrInvalidAccessToken):
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// quoteParam makes s an RFC 9110 quoted-string.
func quoteParam(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			// Control characters cannot appear in a header value.
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
