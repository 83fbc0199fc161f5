package account

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/oidc-kit/nextidentity"
)

// Credentials are what the user typed on the app's sign-in screen. They
// are the caller's: Login sends them and keeps no reference to them, in its
// result, its errors or anywhere else, once it returns (a password the
// provider echoes in an error is replaced by "…").
type Credentials struct {
	// AuthType says what UserID is: Email or SMS (a mobile number).
	AuthType AuthType
	// UserID is the email address or mobile number ("+15417543010").
	UserID string
	// Password is the user's password. Leave it empty for a client
	// configured for one-time codes, where /login sends a code to the user
	// instead (see also SendOTP).
	Password string
	// Locale, e.g. "en-US", picks the language of anything the provider
	// sends; optional.
	Locale string
}

// LoginResult is a successful sign-in: an authorization code for Exchange.
// It holds a single-use secret (Code): keep it no longer than it takes to
// show the legal screen, and never log it.
type LoginResult struct {
	// Code is the "authorization_code", redeemed by Exchange.
	Code string
	// LegalAcceptanceRequired is true when the user has not accepted the
	// current legal agreements: show them, and call Exchange with
	// WithLegalAcceptance once the user accepts. The provider documents
	// such a note in the success body but not its member (open question
	// 1); this package reads the boolean member "legal_acceptance_required"
	// and keeps the whole body in Raw.
	LegalAcceptanceRequired bool
	// Message is the body's "message", when sent (for example the text of
	// the legal-acceptance note).
	Message string
	// AuthType is the type of the identifier the code was issued for; the
	// provider's /token requires it with the code.
	AuthType AuthType
	// UserID is the identifier the code was issued for, sent to /token
	// with the code.
	UserID string
	// Raw is the response body as received (it contains the code).
	Raw json.RawMessage
}

// loginBody is the JSON of /login.
type loginBody struct {
	ClientID    string   `json:"client_id"`
	AuthType    AuthType `json:"auth_type"`
	UserID      string   `json:"user_id"`
	Password    string   `json:"password,omitempty"`
	RedirectURI string   `json:"redirect_uri,omitempty"`
	Locale      string   `json:"locale,omitempty"`
}

// codeResponse is a success body carrying an authorization code.
type codeResponse struct {
	Code                    string `json:"authorization_code"`
	LegalAcceptanceRequired bool   `json:"legal_acceptance_required"`
	Message                 string `json:"message"`
}

// Login signs a verified user in with POST /idp/v1/account/login and
// returns the authorization code to redeem with Exchange. It sends the
// redirect URL when one is configured (the provider does not require it
// here).
//
// Errors: ErrInvalidCredentials (HTTP 401, for an unknown user and a wrong
// password alike), ErrUnverifiedUser (422: offer ResendVerification),
// ErrForbidden (403: a refused client_id, or the user has no access to this
// client), ErrInvalidInput (422 on missing fields, 400 for a wrong env_id),
// ErrRateLimited (429); each is an *Error.
func (c *Client) Login(ctx context.Context, cr Credentials) (*LoginResult, error) {
	secrets := []string{cr.Password}
	body, status, err := c.do(ctx, call{
		op:   opLogin,
		path: accountPath + "login",
		body: loginBody{
			ClientID:    c.clientID(),
			AuthType:    cr.AuthType,
			UserID:      cr.UserID,
			Password:    cr.Password,
			RedirectURI: c.redirectURL,
			Locale:      cr.Locale,
		},
		secrets: secrets,
	})
	if err != nil {
		return nil, err
	}
	return codeResult(opLogin, status, body, cr.AuthType, cr.UserID, secrets)
}

// codeResult reads a success body that must carry an authorization code.
func codeResult(op string, status int, body []byte, t AuthType, userID string, secrets []string) (*LoginResult, error) {
	var r codeResponse
	if err := decode(op, status, body, &r, secrets); err != nil {
		return nil, err
	}
	if r.Code == "" {
		return nil, malformed(op, status, body, secrets, "no authorization_code")
	}
	return &LoginResult{
		Code:                    r.Code,
		LegalAcceptanceRequired: r.LegalAcceptanceRequired,
		Message:                 r.Message,
		AuthType:                t,
		UserID:                  userID,
		Raw:                     body,
	}, nil
}

// ExchangeOption customises Exchange.
type ExchangeOption func(*tokenBody)

// WithLegalAcceptance records on the user's profile that the user accepted
// the current legal agreements (the provider's "legal_acceptances": true,
// which stores the accepted version and date). Send it only after the user
// accepted on the app's screen. Without it nothing is recorded and tokens
// are still returned.
func WithLegalAcceptance() ExchangeOption {
	return func(b *tokenBody) { b.LegalAcceptances = true }
}

// tokenBody is the JSON of the account API's /token.
type tokenBody struct {
	ClientID         string   `json:"client_id"`
	GrantType        string   `json:"grant_type"`
	Code             string   `json:"code"`
	RedirectURI      string   `json:"redirect_uri"`
	AuthType         AuthType `json:"auth_type"`
	UserID           string   `json:"user_id"`
	LegalAcceptances bool     `json:"legal_acceptances,omitempty"`
}

// Exchange redeems r.Code at the account API's POST
// /idp/v1/account/token (not the OpenID Connect token endpoint: the two
// modes do not mix) with grant_type "authorization_code", r's AuthType and
// UserID and the redirect URL, and returns the tokens as a
// *nextidentity.Token. The provider documents access_token, refresh_token
// and a "bearer" token_type; expires_in, scope and id_token are read when
// sent (open question 4), and an id_token is verified by the parent client
// (signature, issuer, audience, expiry; no nonce, since none was sent).
// Refresh the tokens through the parent client's OIDC token endpoint: the
// provider documents no refresh grant on this /token (open question 3).
//
// Errors: nextidentity.ErrInvalidGrant (HTTP 403, the provider's answer to
// a spent, expired or unknown code), ErrRateLimited (429: five attempts
// for one user within a minute block that user for five minutes),
// ErrInvalidInput (422), all as *Error; nextidentity.ErrInvalidConfig when
// no redirect URL is configured, and an error before any request when r
// has no code.
func (c *Client) Exchange(ctx context.Context, r *LoginResult, opts ...ExchangeOption) (*nextidentity.Token, error) {
	if r == nil || r.Code == "" {
		return nil, fmt.Errorf("account: %s: the LoginResult has no code", opToken)
	}
	b := tokenBody{GrantType: "authorization_code", Code: r.Code, AuthType: r.AuthType, UserID: r.UserID}
	for _, o := range opts {
		o(&b)
	}
	return c.token(ctx, b)
}

// token posts b to the account API's /token, in a "nextidentity.token"
// span with its grant type.
func (c *Client) token(ctx context.Context, b tokenBody) (_ *nextidentity.Token, err error) {
	ctx, op := c.tel.StartToken(ctx, b.GrantType)
	defer op.End(&err)
	if c.redirectURL == "" {
		return nil, errNoRedirect(opToken)
	}
	b.ClientID, b.RedirectURI = c.clientID(), c.redirectURL
	body, _, err := c.do(ctx, call{op: opToken, path: accountPath + "token", body: b, secrets: []string{b.Code}})
	if err != nil {
		return nil, err
	}
	return c.c.TokenFromResponse(ctx, "account "+opToken, body)
}

// LogoutOption customises Logout.
type LogoutOption func(*logoutBody)

// AllSessions ends every session of the user, not only tok's ("all_sessions":
// true).
func AllSessions() LogoutOption { return func(b *logoutBody) { b.AllSessions = true } }

type logoutBody struct {
	ClientID     string   `json:"client_id"`
	AuthType     AuthType `json:"auth_type"`
	UserID       string   `json:"user_id"`
	RefreshToken string   `json:"refresh_token,omitempty"`
	AllSessions  bool     `json:"all_sessions,omitempty"`
}

// Logout ends the session tok belongs to with POST
// /idp/v1/account/logout: tok's access token authorizes the call (Bearer)
// and is revoked with tok's refresh token; with AllSessions every session
// of the user ends. t and userID name the user, as at Login. Only the
// documented members are sent (open question 18).
//
// Errors: nextidentity.ErrUnauthorized (HTTP 401: the access token or
// refresh token has expired), ErrForbidden (403), ErrInvalidInput (422,
// e.g. "unknown refresh_token"), as *Error.
func (c *Client) Logout(ctx context.Context, tok *nextidentity.Token, t AuthType, userID string, opts ...LogoutOption) error {
	if tok == nil || tok.AccessToken == "" {
		return fmt.Errorf("account: %s: %w", opLogout, nextidentity.ErrNoAccessToken)
	}
	b := logoutBody{ClientID: c.clientID(), AuthType: t, UserID: userID, RefreshToken: tok.RefreshToken}
	for _, o := range opts {
		o(&b)
	}
	_, _, err := c.do(ctx, call{
		op: opLogout, path: accountPath + "logout", body: b, bearer: tok.AccessToken,
		secrets: []string{tok.AccessToken, tok.RefreshToken},
	})
	return err
}
