package nextidentity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// AuthRequest is one pending authorization: the URL to send the browser to
// and the secrets Exchange needs when the browser comes back. It is
// JSON-serialisable so an app can keep it in a sealed cookie; never put it in
// the URL or an unsealed cookie. Keep every field: Exchange refuses one
// without State, Nonce or CodeVerifier, and enforces MaxAge only if kept.
type AuthRequest struct {
	// URL is the provider's authorization URL to redirect the browser to.
	URL string `json:"url"`
	// State is the "state" sent; the callback must echo it.
	State string `json:"state"`
	// Nonce is the "nonce" sent; the ID token must carry it.
	Nonce string `json:"nonce"`
	// CodeVerifier is the PKCE verifier whose S256 challenge was sent.
	CodeVerifier string `json:"code_verifier"`
	// MaxAge is the "max_age" sent (WithMaxAge), in whole seconds; nil when
	// none was. When set, the ID token's auth_time must be present and no
	// older than MaxAge (plus Config.Leeway).
	MaxAge *time.Duration `json:"max_age,omitempty"`
}

// AuthOption customises an authorization, registration or profile URL.
type AuthOption func(*authParams)

type authParams struct {
	v       url.Values
	scopes  []string
	offline bool // WithOfflineAccess: add offline_access where discovery lists it
	maxAge  *time.Duration
	invalid string // why an option is refused: a reserved parameter, a bad value
}

// reserved parameters are set by the client and cannot be overridden: they
// carry the request's security properties.
var reserved = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "max_age",
}

// WithPrompt sets "prompt", e.g. "login", "none", "consent".
func WithPrompt(prompt ...string) AuthOption {
	return func(p *authParams) { p.v.Set("prompt", strings.Join(prompt, " ")) }
}

// WithMaxAge sets "max_age" (d in whole seconds): the longest time since the
// user's last authentication the app accepts. The AuthRequest records it and
// Exchange enforces it: the ID token must carry an auth_time no older than
// that (plus Config.Leeway). A negative d is refused.
func WithMaxAge(d time.Duration) AuthOption {
	return func(p *authParams) {
		if d < 0 {
			p.invalid = "WithMaxAge of a negative duration"
			return
		}
		secs := d / time.Second
		d = secs * time.Second
		p.maxAge = &d
		p.v.Set("max_age", strconv.FormatInt(int64(secs), 10))
	}
}

// WithLoginHint sets "login_hint", typically the user's email.
func WithLoginHint(hint string) AuthOption {
	return func(p *authParams) { p.v.Set("login_hint", hint) }
}

// WithUILocales sets "ui_locales", e.g. "fr-CA", "en-US".
func WithUILocales(locales ...string) AuthOption {
	return func(p *authParams) { p.v.Set("ui_locales", strings.Join(locales, " ")) }
}

// WithOfflineAccess asks for a refresh token. It sets access_type=offline,
// Next Identity's parameter, and adds the "offline_access" scope (OpenID
// Connect Core section 11, what standard providers such as Dex want) when
// the discovery document lists it in scopes_supported. The scope is not sent
// otherwise: a provider may refuse a scope it does not know, and without a
// discovery document (every endpoint configured) the client cannot tell;
// add it with WithScopes then. The provider still decides: check
// Token.RefreshToken (`nextidentity doctor` warns when discovery does not
// list offline_access).
func WithOfflineAccess() AuthOption {
	return func(p *authParams) {
		p.v.Set("access_type", "offline")
		p.offline = true
	}
}

// WithScopes adds scopes to Config.Scopes for this request.
func WithScopes(scopes ...string) AuthOption {
	return func(p *authParams) { p.scopes = append(p.scopes, scopes...) }
}

// WithParam sets any other parameter. The parameters that carry the request's
// security (response_type, client_id, redirect_uri, scope, state, nonce,
// code_challenge, code_challenge_method, and max_age, which Exchange
// enforces: use WithMaxAge) cannot be set this way: the URL builder returns
// an error instead.
func WithParam(key, value string) AuthOption {
	return func(p *authParams) {
		if slices.Contains(reserved, key) {
			p.invalid = fmt.Sprintf("WithParam cannot set %q", key)
			return
		}
		p.v.Set(key, value)
	}
}

// AuthCodeURL starts a sign-in: it returns the provider's /authorize URL with
// response_type=code, a fresh state and nonce, and a PKCE S256 challenge,
// together with the secrets Exchange needs later. Its error reports only a
// misused option (ErrInvalidConfig): WithParam of a reserved parameter, a
// negative WithMaxAge.
//
// With Config.LazyDiscovery, when the discovery document has not been read
// yet, AuthCodeURL reads it first (see Discover) and fails with a
// *ProviderUnavailableError while it cannot.
func (c *Client) AuthCodeURL(opts ...AuthOption) (*AuthRequest, error) {
	p, err := c.provider(context.Background())
	if err != nil {
		return nil, err
	}
	return c.authURL(p, p.endpoints.authorization, opts)
}

// RegisterURL is AuthCodeURL for the provider's registration screen
// (/register takes the same parameters as /authorize).
func (c *Client) RegisterURL(opts ...AuthOption) (*AuthRequest, error) {
	return c.authURL(c.loaded(), c.static.register, opts)
}

// PersonalDetailsURL is AuthCodeURL for the provider's profile screen
// (/personal-details takes the same parameters as /authorize).
func (c *Client) PersonalDetailsURL(opts ...AuthOption) (*AuthRequest, error) {
	return c.authURL(c.loaded(), c.static.personalDetails, opts)
}

// ForgotPasswordURL is AuthCodeURL for the provider's hosted
// forgot-password screen (Config.ForgotPasswordEndpoint, default
// Issuer + "/forgot-password"), which takes the same parameters as
// /authorize; "response_format=openid" is added as in the provider's
// example (its meaning is not documented; WithParam can change it). The
// client must have the provider's login_client feature and RedirectURL in
// its redirect_uri allow-list. Finish with ForgotPasswordCallback.
func (c *Client) ForgotPasswordURL(opts ...AuthOption) (*AuthRequest, error) {
	return c.authURL(c.loaded(), c.static.forgotPassword, append([]AuthOption{WithParam("response_format", "openid")}, opts...))
}

// authURL builds the URL; prov is the provider state when known (nil for
// the registration and profile screens before LazyDiscovery has read it).
func (c *Client) authURL(prov *provider, endpoint string, opts []AuthOption) (*AuthRequest, error) {
	p := authParams{v: url.Values{}}
	for _, o := range opts {
		o(&p)
	}
	if p.invalid != "" {
		return nil, rejectf(ErrInvalidConfig, nil, "%s", p.invalid)
	}
	if c.cfg.RedirectURL == "" {
		return nil, configError("RedirectURL", "is required for the browser sign-in")
	}
	state, nonce := randomString(), randomString()
	verifier := oauth2.GenerateVerifier() // 32 random bytes, 43 characters (RFC 7636 4.1)
	v := p.v
	v.Set("response_type", "code")
	v.Set("client_id", c.cfg.ClientID)
	v.Set("redirect_uri", c.cfg.RedirectURL)
	extra := p.scopes
	if p.offline && prov.supportsScope("offline_access") {
		extra = append(extra, "offline_access")
	}
	v.Set("scope", strings.Join(c.scopes(extra), " "))
	v.Set("state", state)
	v.Set("nonce", nonce)
	v.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	v.Set("code_challenge_method", "S256")
	return &AuthRequest{
		URL:          appendQuery(endpoint, v),
		State:        state,
		Nonce:        nonce,
		CodeVerifier: verifier,
		MaxAge:       p.maxAge,
	}, nil
}

// scopes returns Config.Scopes (or the default) plus extra, with "openid"
// first and no duplicates.
func (c *Client) scopes(extra []string) []string {
	base := c.cfg.Scopes
	if len(base) == 0 {
		base = []string{"openid", "profile", "email"}
	}
	out := []string{"openid"}
	for _, s := range slices.Concat(base, extra) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// supportsScope reports whether discovery lists scope in scopes_supported.
func (p *provider) supportsScope(scope string) bool {
	return p != nil && p.md != nil && slices.Contains(p.md.ScopesSupported, scope)
}

// LogoutRequest describes a logout at the provider.
type LogoutRequest struct {
	// PostLogoutRedirectURL is where the provider sends the browser after
	// logout; it must be registered with the provider.
	PostLogoutRedirectURL string
	// State is echoed back to PostLogoutRedirectURL.
	State string
	// IDTokenHint is the raw ID token of the session being ended.
	IDTokenHint string
}

// LogoutURL returns the provider's logout URL (end_session_endpoint, else
// Issuer + "/endsession") with client_id and the request's parameters.
// With Config.LazyDiscovery it reads the discovery document first if it has
// not been read, and uses Issuer + "/endsession" (or
// Config.EndSessionEndpoint) while it cannot be.
func (c *Client) LogoutURL(r LogoutRequest) string {
	v := url.Values{}
	v.Set("client_id", c.cfg.ClientID)
	if r.PostLogoutRedirectURL != "" {
		v.Set("post_logout_redirect_uri", r.PostLogoutRedirectURL)
	}
	if r.State != "" {
		v.Set("state", r.State)
	}
	if r.IDTokenHint != "" {
		v.Set("id_token_hint", r.IDTokenHint)
	}
	endpoint := firstNonEmpty(c.cfg.EndSessionEndpoint, strings.TrimSuffix(c.cfg.Issuer, "/")+"/endsession")
	if p, err := c.provider(context.Background()); err == nil {
		endpoint = p.endpoints.endSession
	}
	return appendQuery(endpoint, v)
}

func appendQuery(endpoint string, v url.Values) string {
	sep := "?"
	if strings.Contains(endpoint, "?") {
		sep = "&"
	}
	return endpoint + sep + v.Encode()
}

// randomString returns 256 bits from crypto/rand, base64url-encoded. Since
// Go 1.24 rand.Read never returns an error (it crashes the program rather
// than return short), so there is no error to report.
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
