package nextidentity

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oidc-kit/nextidentity/internal/httpx"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/oidc-kit/nextidentity/internal/keys"
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// AuthStyle says how a confidential client authenticates at the token endpoint.
type AuthStyle int

const (
	// AuthStyleBasic sends the client id and secret with HTTP Basic
	// authentication, each form-encoded first as RFC 6749 section 2.3.1
	// requires. It is the default.
	AuthStyleBasic AuthStyle = iota
	// AuthStyleInParams sends client_id and client_secret in the form body.
	AuthStyleInParams
)

// Defaults used when the corresponding Config field is left zero.
const (
	DefaultLeeway           = time.Minute
	DefaultMaxResponseBytes = 1 << 20
	DefaultHTTPTimeout      = 30 * time.Second
	DefaultJWKSRefresh      = time.Hour
	DefaultJWKSUnknownKID   = 5 * time.Minute
	DefaultRefreshMargin    = 30 * time.Second
)

// Config configures a Client. Issuer and ClientID are required, and
// RedirectURL for the browser sign-in (a back-end service that only uses
// client credentials or checks access tokens leaves it empty).
type Config struct {
	// Issuer is the tenant's base URL, for example "https://id.example.com".
	// It is matched exactly against the "iss" claim, the discovery document
	// and the callback's "iss" parameter, so a trailing slash matters. It must
	// use https, except on loopback hosts.
	Issuer string
	// ClientID is the OAuth client id registered with the provider.
	ClientID string
	// ClientSecret authenticates a confidential client and keys HS256/384/512
	// ID tokens. Empty means a public client: PKCE only, no authentication.
	ClientSecret string
	// RedirectURL is the callback URL registered for the client. AuthCodeURL
	// and the other sign-in URLs fail with ErrInvalidConfig without it.
	RedirectURL string
	// Scopes requested; default openid, profile, email. "openid" is always sent.
	Scopes []string

	// HTTPClient makes every provider request. Default: a client with a
	// DefaultHTTPTimeout timeout. Redirects are never followed on the token
	// and userinfo endpoints, whatever this client's CheckRedirect says.
	HTTPClient *http.Client

	// AuthorizationEndpoint is where AuthCodeURL sends the browser. Empty
	// means discovery's authorization_endpoint. When AuthorizationEndpoint,
	// TokenEndpoint, UserInfoEndpoint and JWKSURL are all set, New makes no
	// discovery request.
	AuthorizationEndpoint string
	// TokenEndpoint is where codes are exchanged and tokens refreshed.
	// Empty means discovery's token_endpoint.
	TokenEndpoint string
	// UserInfoEndpoint is where UserInfo asks for the user's claims. Empty
	// means discovery's userinfo_endpoint.
	UserInfoEndpoint string
	// JWKSURL is the URL of the provider's JSON Web Key Set, the keys that
	// sign its tokens. Empty means discovery's jwks_uri.
	JWKSURL string
	// EndSessionEndpoint defaults to discovery's end_session_endpoint, else
	// Issuer + "/endsession".
	EndSessionEndpoint string
	// RegisterEndpoint defaults to Issuer + "/register".
	RegisterEndpoint string
	// PersonalDetailsEndpoint defaults to Issuer + "/personal-details".
	PersonalDetailsEndpoint string
	// ForgotPasswordEndpoint is the hosted forgot-password screen
	// (ForgotPasswordURL); default Issuer + "/forgot-password".
	ForgotPasswordEndpoint string
	// IntrospectionEndpoint (RFC 7662) defaults to discovery's
	// introspection_endpoint. Without one, VerifyAccessToken refuses opaque
	// tokens and Introspect fails.
	IntrospectionEndpoint string
	// RevocationEndpoint (RFC 7009) defaults to discovery's
	// revocation_endpoint. When there is none, Revoke uses the account
	// logout API instead.
	RevocationEndpoint string
	// AccountLogoutEndpoint is the provider's account logout API, which
	// Revoke calls when no revocation endpoint is known. Default
	// Issuer + "/idp/v1/account/logout".
	AccountLogoutEndpoint string

	// Audience is the identifier of the API this client protects. When set,
	// VerifyAccessToken accepts only access tokens whose "aud" contains it.
	// Set it in every resource server: without it, an access token the
	// provider minted for another API is accepted.
	Audience string
	// AccessTokenTypes are the JOSE "typ" values a JWT access token may
	// carry, compared case-insensitively. Default DefaultAccessTokenTypes
	// ("at+jwt", "application/at+jwt", as RFC 9068 requires). Change it only
	// for a tenant configured to type its access tokens otherwise; list ""
	// to accept tokens without "typ", and then set Audience, which is then
	// what keeps an ID token from passing as an access token.
	AccessTokenTypes []string
	// AccessTokenCacheSize bounds how many accepted access tokens
	// VerifyAccessToken remembers. Zero means DefaultAccessTokenCacheSize; a
	// negative value turns the cache off.
	AccessTokenCacheSize int
	// IntrospectionCacheTTL is how long VerifyAccessToken trusts an
	// introspection answer (never past the token's "exp"): a revoked opaque
	// token is accepted for at most this long. Zero means
	// DefaultIntrospectionCacheTTL; a negative value introspects every time.
	IntrospectionCacheTTL time.Duration

	// SigningAlgs is the ID token "alg" allow-list. Default: the algorithms
	// discovery's id_token_signing_alg_values_supported lists (HS256/384/512
	// only when ClientSecret is set, since the secret is their key); when
	// discovery lists none or is skipped, RS256, plus HS256 when
	// ClientSecret is set. "none" is always refused.
	SigningAlgs []string
	// Leeway tolerated on exp and iat. Zero means DefaultLeeway; a negative
	// value means no leeway.
	Leeway time.Duration
	// Now is the clock used for token checks; default time.Now.
	Now func() time.Time

	// UserInfoMethod is http.MethodPost (default, as the provider documents)
	// or http.MethodGet.
	UserInfoMethod string
	// AuthStyle selects the client authentication at the token endpoint.
	AuthStyle AuthStyle

	// MaxResponseBytes bounds every response body read, the discovery
	// document and the JWKS included. Default DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// JWKSRefreshInterval is how often the JWKS is refreshed in the
	// background. Default DefaultJWKSRefresh.
	JWKSRefreshInterval time.Duration
	// JWKSUnknownKIDInterval is the least time between two JWKS fetches caused
	// by an ID token with an unknown "kid"; the first one is allowed at once,
	// so a key rotation is picked up on its first token. Many goroutines
	// meeting the same unknown kid share one fetch. Default
	// DefaultJWKSUnknownKID.
	JWKSUnknownKIDInterval time.Duration

	// LogoutTokenMaxAge is how old a back-channel logout token's "iat" may
	// be (plus Leeway) for VerifyLogoutToken to accept it; it is also how
	// long the token's "jti" is remembered against replays. Zero means
	// DefaultLogoutTokenMaxAge.
	LogoutTokenMaxAge time.Duration
	// ReplayCache remembers the "jti" of accepted logout tokens for
	// LogoutTokenMaxAge plus Leeway, so a replayed token is refused.
	// Default: an in-process NewMemoryReplayCache. Several instances of an
	// application behind a load balancer must share one (for example the
	// Redis store), or a token replayed to another instance is accepted.
	ReplayCache ReplayCache

	// RefreshMargin is how long before its Expiry a token is renewed: by
	// TokenSource, by ClientCredentialsTokenSource and by nihttp's
	// sessions (which read Client.RefreshMargin). Zero means
	// DefaultRefreshMargin; a negative value means no margin (a token is
	// renewed once expired). Keep it well under the provider's token
	// lifetime, or every call renews.
	RefreshMargin time.Duration

	// LazyDiscovery makes New return without any request: the discovery
	// document is read on first use (AuthCodeURL, Exchange, VerifyIDToken,
	// Discover, Ready, ...), once for all concurrent callers, and the keys
	// on the first verification. Until the provider answers, those calls
	// fail with a *ProviderUnavailableError (ErrProviderUnavailable);
	// failed attempts are retried no sooner than after a backoff that
	// doubles from one second up to MaxDiscoveryBackoff. Configuration
	// errors New can see without the provider still fail New. Without
	// LazyDiscovery, New reads the discovery document (unless every
	// endpoint is configured) and fails when it cannot.
	LazyDiscovery bool

	// Logger receives one debug record per provider request (endpoint,
	// status, duration). It never receives secrets, codes, tokens or PKCE
	// verifiers. Nil means silent.
	Logger *slog.Logger

	// TracerProvider makes the client's spans (discovery, JWKS fetches,
	// token requests, sign-ins, refreshes, userinfo, introspection,
	// revocation, logout token verification; see docs/operations.md).
	// Default: the global provider, otel.GetTracerProvider(), a no-op until
	// the application sets one. Spans carry no token, code, secret or claim.
	TracerProvider trace.TracerProvider
	// MeterProvider makes the client's metrics (sign-ins, refreshes, token
	// requests, JWKS fetches, verification failures). Default: the global
	// provider, otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// Client is a Next Identity relying party. It is safe for concurrent use.
// Call Close when done with it to stop the background JWKS refresh.
type Client struct {
	cfg Config
	// prov is what discovery (or the Config alone) says about the
	// provider; nil until LazyDiscovery has read the discovery document.
	// Read it with provider or loaded.
	prov      atomic.Pointer[provider]
	lazy      *lazyState   // nil without LazyDiscovery
	static    endpoints    // the endpoints discovery never gives: register, personalDetails, accountLogout
	secret    []byte       // HMAC key for HS* ID tokens
	http      *http.Client // discovery and JWKS
	strict    *http.Client // token and userinfo: no redirects
	log       *slog.Logger
	tel       *telemetry.Telemetry // see telemetry.go
	now       func() time.Time
	leeway    time.Duration
	margin    time.Duration // Config.RefreshMargin with its default applied
	limit     int64
	closeOnce sync.Once
	headers   sync.Map // JOSE header segment -> *joseHeader, see jws.go
	nHeaders  atomic.Int32
	macs      hmacVerifiers // keyed HMAC states for HS* ID tokens, see hmac.go

	atCache          *tokenCache // accepted access tokens, see tokencache.go
	introspectionTTL time.Duration
	logout           logoutState // back-channel logout, see logouttoken.go

	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
}

type endpoints struct {
	authorization, token, userinfo, jwks, endSession, register, personalDetails string
	forgotPassword                                                              string
	introspection, revocation, accountLogout                                    string
}

// provider is what the client knows about the provider once its discovery
// document has been read (or from the Config alone when every endpoint is
// configured). It never changes after it is built.
type provider struct {
	endpoints endpoints
	algs      map[string]bool
	issParam  bool        // discovery promised the callback's iss (RFC 9207)
	keys      *keys.Store // nil when no jwks_uri is known
	// bcl and bclSession are discovery's backchannel_logout_supported and
	// backchannel_logout_session_supported.
	bcl, bclSession bool
	md              *providerMetadata // nil when no discovery document was read
}

// providerMetadata is the part of the discovery document the client reads.
type providerMetadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserInfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	IDTokenSigningAlgs    []string `json:"id_token_signing_alg_values_supported"`
	// ScopesSupported decides whether WithOfflineAccess adds the
	// offline_access scope; GrantTypesSupported whether ClientCredentials
	// may ask (an empty list says nothing). Advisory members: a malformed
	// one reads as absent rather than failing discovery.
	ScopesSupported     optionalStrings `json:"scopes_supported"`
	GrantTypesSupported optionalStrings `json:"grant_types_supported"`
	// AuthorizationResponseISS (RFC 9207 section 3): the provider puts
	// "iss" on every authorization response, so its absence is an attack.
	AuthorizationResponseISS bool `json:"authorization_response_iss_parameter_supported"`
	// Read as raw JSON: only the literal true counts, and a malformed value
	// must not fail discovery.
	BackChannelLogoutSupported        json.RawMessage `json:"backchannel_logout_supported"`
	BackChannelLogoutSessionSupported json.RawMessage `json:"backchannel_logout_session_supported"`
}

// optionalStrings is a JSON array of strings; any other JSON value decodes
// as nil instead of failing.
type optionalStrings []string

func (s *optionalStrings) UnmarshalJSON(b []byte) error {
	var v []string
	if json.Unmarshal(b, &v) != nil {
		v = nil
	}
	*s = v
	return nil
}

// supportedAlgs are the JWS algorithms the verifier implements.
var supportedAlgs = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
}

// New validates cfg, reads the provider's discovery document unless every
// endpoint is configured or cfg.LazyDiscovery is set, and returns a ready
// Client. ctx bounds only the discovery request; the client's background
// work runs until Close.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := validateConfig(&cfg); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:    cfg,
		log:    cfg.Logger,
		now:    cfg.Now,
		leeway: cfg.Leeway,
		limit:  cfg.MaxResponseBytes,
		secret: []byte(cfg.ClientSecret),
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.newTelemetry()
	switch {
	case c.leeway == 0:
		c.leeway = DefaultLeeway
	case c.leeway < 0:
		c.leeway = 0
	}
	if c.limit <= 0 {
		c.limit = DefaultMaxResponseBytes
	}
	c.margin = max(0, cmp.Or(cfg.RefreshMargin, DefaultRefreshMargin))
	c.http = cfg.HTTPClient
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	strict := *c.http
	strict.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.strict = &strict

	base := strings.TrimSuffix(cfg.Issuer, "/")
	c.static = endpoints{
		register:        firstNonEmpty(cfg.RegisterEndpoint, base+"/register"),
		personalDetails: firstNonEmpty(cfg.PersonalDetailsEndpoint, base+"/personal-details"),
		forgotPassword:  firstNonEmpty(cfg.ForgotPasswordEndpoint, base+"/forgot-password"),
		accountLogout:   firstNonEmpty(cfg.AccountLogoutEndpoint, base+"/idp/v1/account/logout"),
	}
	c.atCache = newTokenCache(cfg.AccessTokenCacheSize, c.now)
	c.introspectionTTL = durationOr(cfg.IntrospectionCacheTTL, DefaultIntrospectionCacheTTL)
	if cfg.IntrospectionCacheTTL < 0 {
		c.introspectionTTL = 0
	}
	c.logout = newLogoutState(&cfg, c.now)

	if c.needsDiscovery() && cfg.LazyDiscovery {
		// What can be checked without the provider fails now; the rest
		// is checked when the discovery document arrives.
		if err := c.checkStatic(); err != nil {
			return nil, err
		}
		c.lazy = newLazyState()
		return c, nil
	}
	var md *providerMetadata
	if c.needsDiscovery() {
		var err error
		if md, err = c.discover(ctx); err != nil {
			return nil, err
		}
	}
	p, err := c.newProvider(md)
	if err != nil {
		return nil, err
	}
	c.prov.Store(p)
	return c, nil
}

// needsDiscovery reports whether the Config leaves an endpoint to discovery.
func (c *Client) needsDiscovery() bool {
	cfg := &c.cfg
	return cfg.AuthorizationEndpoint == "" || cfg.TokenEndpoint == "" || cfg.UserInfoEndpoint == "" || cfg.JWKSURL == ""
}

// checkStatic checks the configured endpoints and signing algorithms, the
// part of newProvider's checks that needs no discovery document.
func (c *Client) checkStatic() error {
	cfg := &c.cfg
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"AuthorizationEndpoint", cfg.AuthorizationEndpoint},
		{"TokenEndpoint", cfg.TokenEndpoint},
		{"UserInfoEndpoint", cfg.UserInfoEndpoint},
		{"EndSessionEndpoint", cfg.EndSessionEndpoint},
		{"IntrospectionEndpoint", cfg.IntrospectionEndpoint},
		{"RevocationEndpoint", cfg.RevocationEndpoint},
		{"JWKSURL", cfg.JWKSURL},
		{"RegisterEndpoint", c.static.register},
		{"PersonalDetailsEndpoint", c.static.personalDetails},
		{"ForgotPasswordEndpoint", c.static.forgotPassword},
		{"AccountLogoutEndpoint", c.static.accountLogout},
	} {
		errs = append(errs, checkEndpoint(f.name, f.v, true))
	}
	if len(cfg.SigningAlgs) > 0 {
		_, algErrs := allowedAlgs(cfg.SigningAlgs, nil, cfg.ClientSecret != "")
		errs = append(errs, algErrs...)
	}
	return errors.Join(errs...)
}

// newProvider combines the Config with the discovery document md (nil when
// none was read), checks the result, and starts the key store.
func (c *Client) newProvider(md *providerMetadata) (*provider, error) {
	cfg := &c.cfg
	e := c.static
	e.authorization = cfg.AuthorizationEndpoint
	e.token = cfg.TokenEndpoint
	e.userinfo = cfg.UserInfoEndpoint
	e.jwks = cfg.JWKSURL
	e.endSession = cfg.EndSessionEndpoint
	e.introspection = cfg.IntrospectionEndpoint
	e.revocation = cfg.RevocationEndpoint
	p := &provider{md: md}
	var discovered []string
	if md != nil {
		e.authorization = firstNonEmpty(e.authorization, md.AuthorizationEndpoint)
		e.token = firstNonEmpty(e.token, md.TokenEndpoint)
		e.userinfo = firstNonEmpty(e.userinfo, md.UserInfoEndpoint)
		e.jwks = firstNonEmpty(e.jwks, md.JWKSURI)
		e.endSession = firstNonEmpty(e.endSession, md.EndSessionEndpoint)
		e.introspection = firstNonEmpty(e.introspection, md.IntrospectionEndpoint)
		e.revocation = firstNonEmpty(e.revocation, md.RevocationEndpoint)
		discovered = md.IDTokenSigningAlgs
		p.issParam = md.AuthorizationResponseISS
		p.bcl = bytes.Equal(md.BackChannelLogoutSupported, []byte("true"))
		p.bclSession = bytes.Equal(md.BackChannelLogoutSessionSupported, []byte("true"))
	}
	e.endSession = firstNonEmpty(e.endSession, strings.TrimSuffix(cfg.Issuer, "/")+"/endsession")
	var errs []error
	for _, f := range []struct{ name, v string }{
		{"AuthorizationEndpoint", e.authorization},
		{"TokenEndpoint", e.token},
		{"UserInfoEndpoint", e.userinfo},
		{"EndSessionEndpoint", e.endSession},
		{"RegisterEndpoint", e.register},
		{"PersonalDetailsEndpoint", e.personalDetails},
		{"ForgotPasswordEndpoint", e.forgotPassword},
		{"AccountLogoutEndpoint", e.accountLogout},
	} {
		errs = append(errs, checkEndpoint(f.name, f.v, false))
	}
	for _, f := range []struct{ name, v string }{
		{"IntrospectionEndpoint", e.introspection},
		{"RevocationEndpoint", e.revocation},
	} {
		errs = append(errs, checkEndpoint(f.name, f.v, true))
	}
	errs = append(errs, checkEndpoint("JWKSURL", e.jwks, true))
	p.endpoints = e

	algs, algErrs := allowedAlgs(cfg.SigningAlgs, discovered, cfg.ClientSecret != "")
	if err := errors.Join(append(errs, algErrs...)...); err != nil {
		return nil, err
	}
	p.algs = algs
	if e.jwks != "" {
		p.keys = keys.New(keys.Options{
			URL:                e.jwks,
			Client:             c.http,
			MaxBytes:           c.limit,
			RefreshInterval:    durationOr(cfg.JWKSRefreshInterval, DefaultJWKSRefresh),
			UnknownKIDInterval: durationOr(cfg.JWKSUnknownKIDInterval, DefaultJWKSUnknownKID),
			Now:                c.now,
			Logger:             c.log,
			Telemetry:          c.tel,
		})
	}
	return p, nil
}

// Close stops the background JWKS refresh. It is safe to call more than
// once, and calls after it that need new keys fetch them without a
// background refresh. It always returns nil: the error result lets a Client
// be an io.Closer.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		if c.lazy != nil {
			c.lazy.close()
		}
		if p := c.prov.Load(); p != nil && p.keys != nil {
			p.keys.Close()
		}
	})
	return nil
}

// Issuer returns the configured issuer, exactly as matched against "iss".
func (c *Client) Issuer() string { return c.cfg.Issuer }

// RefreshMargin returns Config.RefreshMargin with its default applied: how
// long before its Expiry a token is renewed (never negative).
func (c *Client) RefreshMargin() time.Duration { return c.margin }

// ClientID returns the configured client id.
func (c *Client) ClientID() string { return c.cfg.ClientID }

// The accessors below let packages built on a Client (such as account, the
// provider's API integration) make their own requests with the client's
// configuration. They return what New settled, defaults included.

// RedirectURL returns Config.RedirectURL ("" when none is configured).
func (c *Client) RedirectURL() string { return c.cfg.RedirectURL }

// HTTPClient returns the HTTP client the token and userinfo requests use:
// Config.HTTPClient (or the default one) with redirects never followed, so a
// request carrying credentials is never replayed to another URL.
func (c *Client) HTTPClient() *http.Client { return c.strict }

// MaxResponseBytes returns the bound on every response body read
// (Config.MaxResponseBytes, or DefaultMaxResponseBytes).
func (c *Client) MaxResponseBytes() int64 { return c.limit }

// Now returns the current time on the client's clock (Config.Now, default
// time.Now).
func (c *Client) Now() time.Time { return c.now() }

// SetClientAuth sets HTTP Basic authentication with the client id and secret
// on req, each form-encoded first as RFC 6749 section 2.3.1 requires (a
// no-op for the usual letters, digits and "-._~"). It fails with
// ErrInvalidConfig, leaving req alone, when Config.ClientSecret is empty.
// The secret itself is never exposed.
func (c *Client) SetClientAuth(req *http.Request) error {
	if c.cfg.ClientSecret == "" {
		return configError("ClientSecret", "is required for client authentication")
	}
	req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	return nil
}

// validateConfig checks the fields New can check before any request, and
// reports every problem at once: each joined error wraps ErrInvalidConfig.
func validateConfig(cfg *Config) error {
	var errs []error
	bad := func(field, reason string) { errs = append(errs, configError(field, reason)) }
	if cfg.Issuer == "" {
		bad("Issuer", "is required")
	} else if u, err := url.Parse(cfg.Issuer); err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("Issuer", "must be an absolute URL without query or fragment")
	} else if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		bad("Issuer", "must use https (http is allowed only on loopback hosts)")
	}
	if cfg.ClientID == "" {
		bad("ClientID", "is required")
	}
	if cfg.RedirectURL == "" {
		// A back-end service (client credentials, a resource server) has
		// none; the browser sign-in checks for it.
	} else if r, err := url.Parse(cfg.RedirectURL); err != nil || !r.IsAbs() || r.Fragment != "" {
		bad("RedirectURL", "must be an absolute URL without fragment")
	}
	switch cfg.UserInfoMethod {
	case "":
		cfg.UserInfoMethod = http.MethodPost
	case http.MethodPost, http.MethodGet:
	default:
		bad("UserInfoMethod", "must be POST or GET")
	}
	if cfg.LogoutTokenMaxAge < 0 {
		bad("LogoutTokenMaxAge", "must not be negative")
	}
	if cfg.AuthStyle != AuthStyleBasic && cfg.AuthStyle != AuthStyleInParams {
		bad("AuthStyle", "is not a known AuthStyle")
	}
	return errors.Join(errs...)
}

func configError(field, reason string) error {
	return rejectf(ErrInvalidConfig, nil, "Config.%s %s", field, reason)
}

func checkEndpoint(name, v string, optional bool) error {
	if v == "" {
		if optional {
			return nil
		}
		return configError(name, "is not set and discovery did not provide it")
	}
	u, err := url.Parse(v)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return configError(name, fmt.Sprintf("%q is not an absolute http(s) URL", v))
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func allowedAlgs(configured, discovered []string, haveSecret bool) (map[string]bool, []error) {
	out := map[string]bool{}
	if len(configured) > 0 {
		var errs []error
		for _, a := range configured {
			switch {
			case !slices.Contains(supportedAlgs, a):
				errs = append(errs, configError("SigningAlgs", fmt.Sprintf("contains unsupported algorithm %q", a)))
			case strings.HasPrefix(a, "HS") && !haveSecret:
				errs = append(errs, configError("SigningAlgs", fmt.Sprintf("lists %s but ClientSecret is empty", a)))
			default:
				out[a] = true
			}
		}
		return out, errs
	}
	// HS* only as discovery lists it: anyone holding the client secret can
	// mint an HS256 token, so it is accepted only where the provider says it
	// signs with it (or says nothing).
	for _, a := range discovered {
		if slices.Contains(supportedAlgs, a) && (!strings.HasPrefix(a, "HS") || haveSecret) {
			out[a] = true
		}
	}
	if len(discovered) == 0 {
		out["RS256"] = true
		if haveSecret {
			out["HS256"] = true
		}
	}
	if len(out) == 0 {
		out["RS256"] = true // discovery lists only algorithms this client cannot use
	}
	return out, nil
}

func (c *Client) discover(ctx context.Context) (_ *providerMetadata, err error) {
	ctx, op := c.tel.Start(ctx, telemetry.Discovery)
	defer op.End(&err)
	u := strings.TrimSuffix(c.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("nextidentity: discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	var md providerMetadata
	if _, _, err := c.doJSON(c.http, req, "discovery", &md); err != nil {
		// A transport error (*url.Error) and a too-large body name the URL
		// already; an *Error is told to.
		if pe, ok := err.(*Error); ok {
			pe.url = u
		}
		return nil, err
	}
	if md.Issuer != c.cfg.Issuer {
		return nil, rejectf(ErrInvalidConfig, ErrIssuerMismatch, "discovery document %s names issuer %q, Config.Issuer is %q", u, md.Issuer, c.cfg.Issuer)
	}
	return &md, nil
}

// do sends req with hc and reads at most c.limit bytes of the response body.
// name labels the endpoint in logs and errors.
func (c *Client) do(hc *http.Client, req *http.Request, name string) ([]byte, int, error) {
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		telemetry.HTTP(req, name, 0)
		c.logRequest(req.Context(), name, req.Method, 0, time.Since(start), err)
		return nil, 0, fmt.Errorf("nextidentity: %s request: %w", name, err)
	}
	defer resp.Body.Close()
	telemetry.HTTP(req, name, resp.StatusCode)
	body, err := httpx.ReadAll(resp.Body, c.limit)
	c.logRequest(req.Context(), name, req.Method, resp.StatusCode, time.Since(start), err)
	if err != nil {
		if errors.Is(err, httpx.ErrTooLarge) {
			return nil, resp.StatusCode, fmt.Errorf("%w: %s response from %s is over %d bytes", ErrResponseTooLarge, name, req.URL.Redacted(), c.limit)
		}
		return nil, resp.StatusCode, fmt.Errorf("nextidentity: %s response from %s: %w", name, req.URL.Redacted(), err)
	}
	return body, resp.StatusCode, nil
}

// doJSON sends req and decodes a successful response into v. A non-2xx
// status, an error body (even with 200) or an undecodable body becomes an
// *Error. It returns the body and status for callers that check more.
func (c *Client) doJSON(hc *http.Client, req *http.Request, name string, v any) ([]byte, int, error) {
	body, status, err := c.do(hc, req, name)
	if err != nil {
		return nil, status, err
	}
	if e := providerError(name, status, body); e != nil {
		return nil, status, e
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, status, malformed(name, status, body, err)
	}
	return body, status, nil
}

func (c *Client) logRequest(ctx context.Context, name, method string, status int, d time.Duration, err error) {
	if c.log == nil || !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("endpoint", name),
		slog.String("method", method),
		slog.Int("status", status),
		slog.Duration("duration", d),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "nextidentity: provider request", attrs...)
}

// firstNonEmpty returns the first non-empty value of vs, else "".
func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
