package nextidentity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// UserInfo is the provider's /userinfo response (OpenID Connect Core 5.3).
type UserInfo struct {
	// Subject is the "sub" member. When the token passed to Client.UserInfo
	// carried an ID token, it equals that token's Subject, as verified.
	Subject string
	// Profile holds the standard profile claims of the response.
	Profile

	claims []byte
}

// Claims decodes the whole response into v, for custom claims.
func (u *UserInfo) Claims(v any) error {
	if u == nil || u.claims == nil {
		return errors.New("nextidentity: UserInfo has no claims (not produced by Client.UserInfo)")
	}
	return json.Unmarshal(u.claims, v)
}

type userInfoJSON struct {
	Sub string `json:"sub"`
	profileClaims
}

// UserInfo calls the userinfo endpoint with tok's access token as a Bearer
// header (never in the URL), with Config.UserInfoMethod (POST by default).
// When tok carries an ID token, the response's "sub" must equal its subject
// (ErrSubjectMismatch). A token without an access token gives
// ErrNoAccessToken, before any request. Provider errors come back as *Error
// (ErrProvider): a wrong or expired token matches ErrUnauthorized.
func (c *Client) UserInfo(ctx context.Context, tok *Token) (_ *UserInfo, err error) {
	ctx, op := c.tel.Start(ctx, telemetry.UserInfo)
	defer op.End(&err)
	if tok == nil || tok.AccessToken == "" {
		return nil, ErrNoAccessToken
	}
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, c.cfg.UserInfoMethod, p.endpoints.userinfo, nil)
	if err != nil {
		return nil, fmt.Errorf("nextidentity: userinfo request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	var uj userInfoJSON
	body, status, err := c.doJSON(c.strict, req, "userinfo", &uj)
	if err != nil {
		return nil, err
	}
	if uj.Sub == "" {
		return nil, malformed("userinfo", status, body, errors.New("no sub"))
	}
	if name, bad := foldedName(body, infoNames); bad {
		return nil, malformed("userinfo", status, body, fmt.Errorf("member %q differs from a claim name only in case", name))
	}
	_, sub, err := tok.subject()
	if err != nil {
		return nil, err
	}
	if sub != "" && uj.Sub != sub {
		return nil, fmt.Errorf("%w: userinfo sub %q, id_token sub %q", ErrSubjectMismatch, uj.Sub, sub)
	}
	return &UserInfo{Subject: uj.Sub, Profile: uj.profile(), claims: body}, nil
}
