package account

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
)

// Invitation invites a user: the provider creates the account with the
// profile known so far and sends an activation email or SMS; the user
// completes the account (password, terms) on the hosted activation
// screens and then signs in.
type Invitation struct {
	// AuthType is the identifier type: Email (an activation email) or SMS
	// (an activation text).
	AuthType AuthType
	// UserID is the invitee's email address or mobile number, sent as the
	// profile field "emailAddress" (Email) or "mobileNumber" (SMS, an
	// assumption: the provider does not name it), unless Profile sets it.
	UserID string
	// Profile holds the profile fields to create the account with, by the
	// provider's names ("firstName", "lastName", "resourceAccessB2b", ...).
	Profile map[string]any
	// Resend re-sends the activation message to an invitee; the account and
	// its UUID stay the same.
	Resend bool
	// Locale, e.g. "en-US", picks the language of the message; optional.
	Locale string
}

// Invited is the provider's answer to an invitation.
type Invited struct {
	// UUID is the account's id: the new account's (HTTP 201), the same one
	// again for a Resend, or the existing account's.
	UUID string
	// Existing is true when the provider answered 200: the identifier
	// already had an account, which the provider linked to this client
	// (setting its resourceAccess) without changing its profile. A tenant
	// that answers 422 instead gives ErrUserExists.
	Existing bool
	// Raw is the response body as received.
	Raw json.RawMessage
}

type inviteBody struct {
	ClientID      string         `json:"client_id"`
	AuthType      AuthType       `json:"auth_type"`
	GrantType     string         `json:"grant_type"`
	RedirectURI   string         `json:"redirect_uri"`
	ProfileFields map[string]any `json:"profile_fields"`
	Locale        string         `json:"locale,omitempty"`
	Resend        bool           `json:"resend,omitempty"`
}

// Invite invites a user with POST /idp/v1/account/pre-register, a
// server-to-server call authenticated with the client ID and secret (HTTP
// Basic; Bearer with WithInviteTokenSource). Calling it again for the same
// user is safe: with Resend the activation message goes out again under the
// same UUID, and without it the provider links the existing account and
// answers with its UUID (Invited.Existing). The provider requires a
// grant_type that it does not check: "password" is sent, as in its sample.
// The redirect URL is where the activation ends; the provider does not say
// with which parameters (open question 8), so start a normal sign-in there.
//
// Errors: ErrUserExists (a 422 "invalid_form_fields" on the identifier,
// which the provider's response-code table lists for an existing user
// without Resend; open question 6), ErrInvalidInput (400 bad JSON, 422 for
// a missing field), ErrForbidden (403) and nextidentity.ErrUnauthorized
// (401, wrong client credentials), ErrRateLimited, as *Error;
// nextidentity.ErrInvalidConfig without a client secret (and no
// WithInviteTokenSource) or a redirect URL.
func (c *Client) Invite(ctx context.Context, inv Invitation) (*Invited, error) {
	if c.redirectURL == "" {
		return nil, errNoRedirect(opInvite)
	}
	fields := maps.Clone(inv.Profile)
	if fields == nil {
		fields = map[string]any{}
	}
	if id := identifierField(inv.AuthType); inv.UserID != "" && fields[id] == nil {
		fields[id] = inv.UserID
	}
	k := call{
		op:   opInvite,
		path: accountPath + opInvite,
		body: inviteBody{
			ClientID:      c.clientID(),
			AuthType:      inv.AuthType,
			GrantType:     "password",
			RedirectURI:   c.redirectURL,
			ProfileFields: fields,
			Locale:        inv.Locale,
			Resend:        inv.Resend,
		},
		auth: c.c.SetClientAuth,
	}
	if c.invite != nil {
		t, err := c.invite.Token()
		if err != nil {
			return nil, fmt.Errorf("account: %s: getting a token: %w", opInvite, err)
		}
		k.auth, k.bearer = nil, t.AccessToken
		k.secrets = []string{t.AccessToken}
	}
	body, status, err := c.do(ctx, k)
	if err != nil {
		return nil, err
	}
	var resp struct {
		UUID string `json:"uuid"`
	}
	if err := decode(opInvite, status, body, &resp, k.secrets); err != nil {
		return nil, err
	}
	if resp.UUID == "" {
		return nil, malformed(opInvite, status, body, k.secrets, "no uuid")
	}
	return &Invited{UUID: resp.UUID, Existing: status == http.StatusOK, Raw: body}, nil
}
