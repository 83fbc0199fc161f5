package account

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/oidc-kit/nextidentity"
)

// Profile is the user's profile as this client may see it.
type Profile struct {
	// Fields are the profile fields by the provider's names
	// ("firstName", "emailAddress", ...).
	Fields map[string]any
	// Raw is the response body as received.
	Raw json.RawMessage
}

// Profile reads the profile fields scoped to this client with GET
// /idp/v1/account/profile?client_id=..., authorized by tok's access token.
// The provider's sample response was cut off: the fields are read from the
// member "profile" (an assumption; the body is kept in Raw), or from the
// top level when there is no such member.
//
// Errors: nextidentity.ErrUnauthorized (401), ErrForbidden (403), as
// *Error.
func (c *Client) Profile(ctx context.Context, tok *nextidentity.Token) (*Profile, error) {
	if tok == nil || tok.AccessToken == "" {
		return nil, fmt.Errorf("account: %s: %w", opProfile, nextidentity.ErrNoAccessToken)
	}
	secrets := []string{tok.AccessToken}
	body, status, err := c.do(ctx, call{
		op:      opProfile,
		method:  http.MethodGet,
		path:    accountPath + opProfile,
		query:   url.Values{"client_id": {c.clientID()}},
		bearer:  tok.AccessToken,
		secrets: secrets,
	})
	if err != nil {
		return nil, err
	}
	var resp map[string]json.RawMessage
	if err := decode(opProfile, status, body, &resp, secrets); err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, malformed(opProfile, status, body, secrets, "not a JSON object")
	}
	var fields map[string]any
	if p, ok := resp["profile"]; ok {
		if err := decode(opProfile, status, p, &fields, secrets); err != nil {
			return nil, err
		}
	} else if err := decode(opProfile, status, body, &fields, secrets); err != nil {
		return nil, err
	}
	return &Profile{Fields: fields, Raw: body}, nil
}

type profileBody struct {
	ClientID      string         `json:"client_id"`
	Locale        string         `json:"locale,omitempty"`
	ProfileFields map[string]any `json:"profile_fields"`
}

// UpdateProfile changes the given profile fields with PUT
// /idp/v1/account/profile, authorized by tok's access token; fields not
// given are left alone. The provider's sample body was cut before the name
// of the member holding the fields: this package sends them as
// "profile_fields", as /register does (an assumption). locale is
// optional. The provider answers 200 {"stat": "ok"}.
//
// Errors: nextidentity.ErrUnauthorized (401), ErrForbidden (403: a wrong
// client_id), ErrInvalidInput (422: a required field missing,
// "invalid_form_fields" for a malformed email), as *Error.
func (c *Client) UpdateProfile(ctx context.Context, tok *nextidentity.Token, fields map[string]any, locale string) error {
	if tok == nil || tok.AccessToken == "" {
		return fmt.Errorf("account: %s: %w", opProfile, nextidentity.ErrNoAccessToken)
	}
	_, _, err := c.do(ctx, call{
		op:      opProfile,
		method:  http.MethodPut,
		path:    accountPath + opProfile,
		body:    profileBody{ClientID: c.clientID(), Locale: locale, ProfileFields: fields},
		bearer:  tok.AccessToken,
		secrets: []string{tok.AccessToken},
	})
	return err
}
