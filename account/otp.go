package account

import (
	"context"
	"fmt"
	"strings"
)

// OTP asks the provider to send a one-time sign-in code.
type OTP struct {
	// AuthType is where the code goes: SMS or Email.
	AuthType AuthType
	// UserID is the mobile number or email address.
	UserID string
	// Message is the text of the SMS; it must contain "%code%", which the
	// provider replaces by the code. Empty leaves the text to the provider.
	Message string
	// Locale, e.g. "en-US"; optional.
	Locale string
}

type otpSendBody struct {
	Message     string   `json:"message,omitempty"`
	ClientID    string   `json:"client_id"`
	RedirectURI string   `json:"redirect_uri,omitempty"`
	UserID      string   `json:"user_id"`
	AuthType    AuthType `json:"auth_type"`
	Locale      string   `json:"locale,omitempty"`
}

// SendOTP sends the user a 6-digit sign-in code with POST
// /idp/v1/otp/send; finish with VerifyOTP. The provider documents the body
// but not the answer or the authentication (open question 19): any 2xx
// without an error envelope is success, and no Authorization header is
// sent. The redirect URL is sent when one is configured.
//
// Errors: ErrInvalidInput (400, 422), ErrForbidden (403), ErrRateLimited,
// as *Error; a Message without "%code%" fails before any request.
func (c *Client) SendOTP(ctx context.Context, o OTP) error {
	if o.Message != "" && !strings.Contains(o.Message, "%code%") {
		return fmt.Errorf("account: %s: the message must contain %%code%%", opOTPSend)
	}
	_, _, err := c.do(ctx, call{
		op:   opOTPSend,
		path: otpPath + "send",
		body: otpSendBody{Message: o.Message, ClientID: c.clientID(), RedirectURI: c.redirectURL,
			UserID: o.UserID, AuthType: o.AuthType, Locale: o.Locale},
	})
	return err
}

type otpVerifyBody struct {
	Code     string   `json:"code"`
	ClientID string   `json:"client_id"`
	UserID   string   `json:"user_id"`
	AuthType AuthType `json:"auth_type"`
}

// VerifyOTP checks the code SendOTP sent with POST /idp/v1/otp/verify and
// returns the sign-in's authorization code, which Exchange redeems like
// Login's. The provider does not document the answer (open question 19):
// this package reads an "authorization_code" member, as /login returns.
//
// Errors: ErrInvalidCredentials (401), nextidentity.ErrInvalidGrant (a 422
// on the "code" field: a wrong or spent code), ErrInvalidInput,
// ErrRateLimited, as *Error.
func (c *Client) VerifyOTP(ctx context.Context, t AuthType, userID, code string) (*LoginResult, error) {
	secrets := []string{code}
	body, status, err := c.do(ctx, call{
		op:      opOTPVerify,
		path:    otpPath + "verify",
		body:    otpVerifyBody{Code: code, ClientID: c.clientID(), UserID: userID, AuthType: t},
		secrets: secrets,
	})
	if err != nil {
		return nil, err
	}
	return codeResult(opOTPVerify, status, body, t, userID, secrets)
}
