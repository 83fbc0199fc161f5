package account

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/httpx"
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// AuthType is the provider's "auth_type": which identifier the user signs in
// with, and so where PINs and links go. The documented values are Email and
// SMS; the provider's pages never show "mobile", so there is no constant for
// it, but any other value the provider accepts can be given as
// AuthType("...").
type AuthType string

// The documented auth types.
const (
	// Email: the user is identified by an email address.
	Email AuthType = "email"
	// SMS: the user is identified by a mobile number such as "+15417543010".
	SMS AuthType = "sms"
)

// Client calls the provider's account API on behalf of one OAuth client. It
// takes the tenant (the issuer), the client ID and secret, the HTTP client,
// RedirectURL, the body bound and the clock from the *nextidentity.Client it
// is made from. It keeps no state between calls and is safe for concurrent
// use.
type Client struct {
	c           *nextidentity.Client
	base        string // issuer without a trailing slash
	envID       string
	redirectURL string
	invite      oauth2.TokenSource // Bearer for /pre-register; nil means Basic
	tel         *telemetry.Telemetry
}

// Option customises a Client.
type Option func(*Client)

// WithEnvID adds "env_id=id" to the query of every call. The provider asks
// for it on its shared domains and not on a custom domain; it answers 400
// "invalid_domain" (ErrInvalidInput) to a wrong one.
func WithEnvID(id string) Option { return func(c *Client) { c.envID = id } }

// WithRedirectURL sets the "redirect_uri" the calls send (where the
// provider's verification, reset and activation links lead, and what /token
// checks). Default: the parent client's Config.RedirectURL. The calls that
// require one (Exchange, ExchangePIN, Register, ForgotPassword,
// ResendVerification, Invite) fail with nextidentity.ErrInvalidConfig before any
// request when neither is set.
func WithRedirectURL(u string) Option { return func(c *Client) { c.redirectURL = u } }

// WithInviteTokenSource makes Invite authenticate with a Bearer token from
// ts instead of HTTP Basic with the client secret. The provider documents
// Basic; its sample invite code (next-reason/ni-invite-js) gets a client
// credentials token with the scope "pre-register" and sends it as Bearer,
// for example:
//
//	account.WithInviteTokenSource(c.ClientCredentialsTokenSource(ctx, "pre-register"))
func WithInviteTokenSource(ts oauth2.TokenSource) Option {
	return func(c *Client) { c.invite = ts }
}

// New returns a Client for c's tenant and OAuth client.
func New(c *nextidentity.Client, opts ...Option) *Client {
	ac := &Client{
		c:           c,
		base:        strings.TrimSuffix(c.Issuer(), "/"),
		redirectURL: c.RedirectURL(),
		tel:         newTelemetry(c),
	}
	for _, o := range opts {
		o(ac)
	}
	return ac
}

// Paths of the account API under the issuer. The provider documents
// /idp/v1/account/<operation> and v1 is the only version seen.
const (
	accountPath = "/idp/v1/account/"
	otpPath     = "/idp/v1/otp/"
	adoptPath   = "/idp/v1/applications/register"
)

// call is one request to the account API.
type call struct {
	op     string // names the call in errors: "login", "token", ...
	method string // default POST
	path   string // under the issuer
	query  url.Values
	body   any // JSON-encoded; nil sends no body
	bearer string
	auth   func(*http.Request) error // client authentication, when needed
	// secrets are values sent in the request (passwords, PINs, codes,
	// tokens) that must not appear in an error even when the provider
	// echoes them.
	secrets []string
}

// errNoRedirect is returned by the calls that need a redirect_uri when none
// is configured.
func errNoRedirect(op string) error {
	return fmt.Errorf("account: %s: %w: a redirect URL is required (Config.RedirectURL or WithRedirectURL)", op, nextidentity.ErrInvalidConfig)
}

// do sends the call and returns the body of a 2xx answer that is not an
// error envelope. Anything else is an *Error; a network failure wraps
// nextidentity.ErrProviderUnreachable; a body over the parent client's
// MaxResponseBytes wraps nextidentity.ErrResponseTooLarge.
func (c *Client) do(ctx context.Context, k call) ([]byte, int, error) {
	q := url.Values{}
	for name, vs := range k.query {
		q[name] = vs
	}
	if c.envID != "" {
		q.Set("env_id", c.envID)
	}
	u := c.base + k.path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	method := k.method
	if method == "" {
		method = http.MethodPost
	}
	var body []byte
	if k.body != nil {
		var err error
		if body, err = json.Marshal(k.body); err != nil {
			return nil, 0, fmt.Errorf("account: %s: encoding the request: %w", k.op, err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, 0, fmt.Errorf("account: %s: %w", k.op, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if k.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+k.bearer)
	}
	if k.auth != nil {
		if err := k.auth(req); err != nil {
			return nil, 0, fmt.Errorf("account: %s: %w", k.op, err)
		}
	}
	resp, err := c.c.HTTPClient().Do(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	telemetry.HTTP(req, "account "+k.op, status)
	if err != nil {
		// A *url.Error names the URL, whose query holds only client_id and
		// env_id; the body (with any secret) is never part of it.
		return nil, 0, fmt.Errorf("account: %s: %w: %w", k.op, nextidentity.ErrProviderUnreachable, err)
	}
	defer resp.Body.Close()
	limit := c.c.MaxResponseBytes()
	raw, err := httpx.ReadAll(resp.Body, limit)
	if err != nil {
		if errors.Is(err, httpx.ErrTooLarge) {
			return nil, resp.StatusCode, fmt.Errorf("account: %s: %w: over %d bytes", k.op, nextidentity.ErrResponseTooLarge, limit)
		}
		return nil, resp.StatusCode, fmt.Errorf("account: %s: reading the response: %w: %w", k.op, nextidentity.ErrProviderUnreachable, err)
	}
	if e := responseError(k.op, resp.StatusCode, resp.Header, raw, c.c.Now(), k.secrets); e != nil {
		return nil, resp.StatusCode, e
	}
	return raw, resp.StatusCode, nil
}

// decode unmarshals a success body into v, or reports it as malformed.
func decode(op string, status int, body []byte, v any, secrets []string) error {
	if err := json.Unmarshal(body, v); err != nil {
		return malformed(op, status, body, secrets, err.Error())
	}
	return nil
}

// clientID is the parent client's id, sent in every body.
func (c *Client) clientID() string { return c.c.ClientID() }
