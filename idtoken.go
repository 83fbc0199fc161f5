package nextidentity

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// IDToken is a verified ID token's claims (OpenID Connect Core 2). The
// standard profile claims are parsed into the embedded Profile; read any
// other claim with Claims.
type IDToken struct {
	// Issuer is the "iss" claim: the provider that issued the token. It
	// equals Config.Issuer exactly, as verified.
	Issuer string
	// Subject is the "sub" claim: the user's identifier at the provider,
	// unique and never reassigned within the issuer. Key accounts on
	// (Issuer, Subject), not on the email address.
	Subject string
	// Audience is the "aud" claim: the clients the token is meant for. It
	// contains Config.ClientID, as verified.
	Audience []string
	// AuthorizedParty is the "azp" claim: the client the token was issued
	// to, when the provider sent one. It equals Config.ClientID when set,
	// and is required when Audience has several entries.
	AuthorizedParty string
	// IssuedAt is the "iat" claim: when the token was issued.
	IssuedAt time.Time
	// Expiry is the "exp" claim: after it (and the leeway) the token is
	// refused. It bounds the ID token, not the session or the access token.
	Expiry time.Time
	// AuthTime is the "auth_time" claim: when the user last authenticated
	// at the provider. Zero when the provider did not send it; required
	// when the request was made WithMaxAge.
	AuthTime time.Time
	// Nonce is the "nonce" claim: the value sent with the authorization
	// request, as verified by Exchange. Empty in refreshed tokens that
	// carry none.
	Nonce string
	// AccessTokenHash is the "at_hash" claim, when sent: the left half of
	// the access token's hash, checked by Exchange and Refresh and by
	// VerifyAccessToken.
	AccessTokenHash string
	// Profile holds the standard profile claims the token carries.
	Profile

	alg    string
	claims []byte
}

// Claims decodes the token's payload into v, for custom claims.
func (t *IDToken) Claims(v any) error {
	if t == nil || t.claims == nil {
		return errors.New("nextidentity: IDToken has no claims (not produced by VerifyIDToken)")
	}
	return json.Unmarshal(t.claims, v)
}

// VerifyAccessToken checks accessToken against the token's "at_hash" claim
// (OpenID Connect Core 3.1.3.8). It fails when the token has no at_hash.
func (t *IDToken) VerifyAccessToken(accessToken string) error {
	if t.AccessTokenHash == "" {
		return invalidIDToken(nil, "no at_hash claim to verify the access token with")
	}
	var h hash.Hash
	switch {
	case strings.HasSuffix(t.alg, "256"):
		h = sha256.New()
	case strings.HasSuffix(t.alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(t.alg, "512"), t.alg == "EdDSA":
		h = sha512.New()
	default:
		return invalidIDToken(nil, "at_hash: unknown alg %q", t.alg)
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	want := base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	if subtle.ConstantTimeCompare([]byte(want), []byte(t.AccessTokenHash)) != 1 {
		return invalidIDToken(nil, "at_hash does not match the access token")
	}
	return nil
}

// idClaims is the ID token payload as decoded for verification.
type idClaims struct {
	Iss      string      `json:"iss"`
	Sub      string      `json:"sub"`
	Aud      audience    `json:"aud"`
	Azp      string      `json:"azp"`
	Exp      numericDate `json:"exp"`
	Iat      numericDate `json:"iat"`
	AuthTime numericDate `json:"auth_time"`
	Nonce    string      `json:"nonce"`
	AtHash   string      `json:"at_hash"`
	profileClaims
}

// VerifyIDToken verifies rawIDToken as OpenID Connect Core 3.1.3.7 and RFC
// 8725 require: the signature (with an allowed alg and a key that fits it),
// iss, aud/azp, exp, iat, sub, and the nonce when nonce is not empty (""
// means none was sent). ctx bounds a JWKS fetch the token may cause. Every
// rejection wraps ErrInvalidIDToken, and the finer sentinel where one applies.
func (c *Client) VerifyIDToken(ctx context.Context, rawIDToken, nonce string) (_ *IDToken, err error) {
	defer c.tel.VerifyFailed(ctx, telemetry.IDToken, &err)
	hdr, payload, err := c.verifyJWS(ctx, rawIDToken, jwsOptions{umbrella: ErrInvalidIDToken, wrongTypes: notIDTokenTypes})
	if err != nil {
		return nil, err
	}
	var cl idClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, invalidIDToken(nil, "claims: %v", err)
	}
	if name, bad := foldedName(payload, claimNames); bad {
		return nil, invalidIDToken(nil, "claim %q differs from a registered claim name only in case", name)
	}
	if err := c.checkClaims(&cl, nonce); err != nil {
		return nil, err
	}
	return newIDToken(&cl, hdr.Alg, payload), nil
}

func (c *Client) checkClaims(cl *idClaims, nonce string) error {
	if cl.Iss != c.cfg.Issuer {
		return invalidIDToken(ErrIssuerMismatch, "iss %q, want %q", cl.Iss, c.cfg.Issuer)
	}
	if !slices.Contains(cl.Aud, c.cfg.ClientID) {
		return invalidIDToken(ErrAudienceMismatch, "aud %q does not contain client id %q", []string(cl.Aud), c.cfg.ClientID)
	}
	if len(cl.Aud) > 1 && cl.Azp == "" {
		return invalidIDToken(ErrAudienceMismatch, "several audiences and no azp")
	}
	if cl.Azp != "" && cl.Azp != c.cfg.ClientID {
		return invalidIDToken(ErrAudienceMismatch, "azp %q is not client id %q", cl.Azp, c.cfg.ClientID)
	}
	if cl.Sub == "" {
		return invalidIDToken(nil, "no sub claim")
	}
	now := c.now()
	if !cl.Exp.set {
		return invalidIDToken(nil, "no exp claim")
	}
	if !now.Before(cl.Exp.t.Add(c.leeway)) {
		return invalidIDToken(ErrTokenExpired, "expired at %s", cl.Exp.t.UTC().Format(time.RFC3339))
	}
	if !cl.Iat.set {
		return invalidIDToken(nil, "no iat claim")
	}
	if cl.Iat.t.After(now.Add(c.leeway)) {
		return invalidIDToken(nil, "issued in the future (iat %s)", cl.Iat.t.UTC().Format(time.RFC3339))
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(nonce)) != 1 {
		if cl.Nonce == "" {
			return invalidIDToken(ErrNonceMismatch, "no nonce claim, one was sent")
		}
		return invalidIDToken(ErrNonceMismatch, "nonce does not match the one sent")
	}
	return nil
}

// invalidIDToken wraps ErrInvalidIDToken and, when not nil, the finer kind.
func invalidIDToken(kind error, format string, args ...any) error {
	return invalidToken(ErrInvalidIDToken, kind, format, args...)
}

// unverifiedSubject reads iss and sub from a token this client verified
// earlier (for example one restored from a session store), without checking
// it again.
func unverifiedSubject(raw string) (iss, sub string, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", "", invalidIDToken(nil, "not a compact JWS")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return "", "", invalidIDToken(nil, "payload is not base64url: %v", err)
	}
	var cl struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &cl); err != nil {
		return "", "", invalidIDToken(nil, "claims: %v", err)
	}
	return cl.Iss, cl.Sub, nil
}
