package account

import (
	"context"
	"maps"
)

// Registration is a self-registration from the app's sign-up screen.
// Like Credentials, it is the caller's: Register keeps no reference to it.
type Registration struct {
	// AuthType says what UserID is: Email or SMS.
	AuthType AuthType
	// UserID is the new user's email address or mobile number. It is sent
	// as the profile field "emailAddress" (Email) or "mobileNumber" (SMS;
	// the provider's pages do not name the mobile field: an assumption),
	// unless Profile sets that field itself.
	UserID string
	// Password is the new password, sent as "newPassword" and
	// "newPasswordConfirm" (the app checks the confirmation on its own
	// screen). Leave it empty for a client configured without passwords:
	// the provider refuses passwords it does not expect (422
	// "unexpected_keys", ErrInvalidInput) and asks for one it expects.
	Password string
	// Profile holds the other profile fields, by the provider's names
	// ("firstName", "lastName", ...).
	Profile map[string]any
	// Locale, e.g. "en-US", picks the language of the verification
	// message; optional.
	Locale string
}

// Registered is the provider's answer to a registration. Every member is
// optional: the provider answers 200 with neither a UUID nor a Code to an
// identifier that already has an account (and emails its owner instead),
// so that nobody can learn who has one. Do not read "user exists" into
// an empty answer.
type Registered struct {
	// UUID is the new account's id, when the provider returned one.
	UUID string
	// Code is an authorization code, returned instead of a UUID by a client
	// that needs no verification step; redeem it with Exchange(ctx,
	// r.LoginResult()).
	Code string
	// Message is the body's "message", when sent.
	Message string

	authType AuthType
	userID   string
}

// LoginResult returns the registration's code as a LoginResult for
// Exchange, or nil when the provider returned no code.
func (r *Registered) LoginResult() *LoginResult {
	if r == nil || r.Code == "" {
		return nil
	}
	return &LoginResult{Code: r.Code, AuthType: r.authType, UserID: r.userID}
}

// identifierField is the profile field holding the identifier for t.
func identifierField(t AuthType) string {
	if t == SMS {
		return "mobileNumber"
	}
	return "emailAddress"
}

type registerBody struct {
	ClientID      string         `json:"client_id"`
	AuthType      AuthType       `json:"auth_type"`
	RedirectURI   string         `json:"redirect_uri"`
	ProfileFields map[string]any `json:"profile_fields"`
	Locale        string         `json:"locale,omitempty"`
}

// Register creates an account with POST /idp/v1/account/register. The
// provider sends the user a verification PIN (finish with Verify) or a link
// to its hosted verification screen, as the client is configured; then the
// user signs in with Login. The redirect URL is where the link leads.
//
// Errors: ErrInvalidInput (422 "invalid_form_fields" for a malformed
// email, "invalid_parameters" for passwords sent to a client without them
// or missing for one with them), ErrForbidden (403, a refused client_id),
// ErrRateLimited, as *Error; nextidentity.ErrInvalidConfig without a
// redirect URL.
func (c *Client) Register(ctx context.Context, r Registration) (*Registered, error) {
	if c.redirectURL == "" {
		return nil, errNoRedirect(opRegister)
	}
	fields := maps.Clone(r.Profile)
	if fields == nil {
		fields = map[string]any{}
	}
	if id := identifierField(r.AuthType); r.UserID != "" && fields[id] == nil {
		fields[id] = r.UserID
	}
	if r.Password != "" {
		fields["newPassword"], fields["newPasswordConfirm"] = r.Password, r.Password
	}
	secrets := []string{r.Password}
	body, status, err := c.do(ctx, call{
		op:   opRegister,
		path: accountPath + "register",
		body: registerBody{
			ClientID:      c.clientID(),
			AuthType:      r.AuthType,
			RedirectURI:   c.redirectURL,
			ProfileFields: fields,
			Locale:        r.Locale,
		},
		secrets: secrets,
	})
	if err != nil {
		return nil, err
	}
	var resp struct {
		UUID    string `json:"uuid"`
		Code    string `json:"authorization_code"`
		Message string `json:"message"`
	}
	if len(body) > 0 {
		if err := decode(opRegister, status, body, &resp, secrets); err != nil {
			return nil, err
		}
	}
	return &Registered{UUID: resp.UUID, Code: resp.Code, Message: resp.Message, authType: r.AuthType, userID: r.UserID}, nil
}

type verifyBody struct {
	ClientID string   `json:"client_id"`
	AuthType AuthType `json:"auth_type"`
	UserID   string   `json:"user_id"`
	Code     string   `json:"code"`
	Locale   string   `json:"locale,omitempty"`
}

// Verify confirms a new account's email address or mobile number with the
// PIN the provider sent after Register or ResendVerification, with POST
// /idp/v1/account/verify {client_id, auth_type, user_id, code}. The
// provider's pages describe the PIN but not the call that checks it: this
// path and body are an assumption, which the fake provider
// (nextidentitytest) implements. A wrong or spent PIN is
// nextidentity.ErrInvalidGrant (HTTP 422 on the "code" field).
func (c *Client) Verify(ctx context.Context, t AuthType, userID, pin string) error {
	_, _, err := c.do(ctx, call{
		op:      opVerify,
		path:    accountPath + "verify",
		body:    verifyBody{ClientID: c.clientID(), AuthType: t, UserID: userID, Code: pin},
		secrets: []string{pin},
	})
	return err
}

// userBody is the JSON of /resend-verification and /forgot-password.
type userBody struct {
	ClientID    string   `json:"client_id"`
	AuthType    AuthType `json:"auth_type"`
	UserID      string   `json:"user_id"`
	RedirectURI string   `json:"redirect_uri"`
}

// ResendVerification asks the provider, with POST
// /idp/v1/account/resend-verification, to send a new verification PIN or
// link to an unverified user (after ErrUnverifiedUser). The provider answers
// 200 for verified, unverified and unknown users alike, so a nil error
// says nothing about the account (no enumeration). Users of the hosted
// screens should prefer the hosted resend screen.
//
// Errors: ErrForbidden (403), ErrInvalidInput (422, including an empty
// redirect URL's "missing_argument"), ErrRateLimited, as *Error;
// nextidentity.ErrInvalidConfig without a redirect URL.
func (c *Client) ResendVerification(ctx context.Context, t AuthType, userID string) error {
	return c.userCall(ctx, opResend, t, userID)
}

// userCall posts a userBody to op.
func (c *Client) userCall(ctx context.Context, op string, t AuthType, userID string) error {
	if c.redirectURL == "" {
		return errNoRedirect(op)
	}
	_, _, err := c.do(ctx, call{
		op:   op,
		path: accountPath + op,
		body: userBody{ClientID: c.clientID(), AuthType: t, UserID: userID, RedirectURI: c.redirectURL},
	})
	return err
}
