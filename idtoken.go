package nextidentity

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oidc-kit/nextidentity/internal/keys"
)

// IDToken is a verified ID token's claims.
type IDToken struct {
	Issuer          string
	Subject         string
	Audience        []string
	AuthorizedParty string // "azp"
	IssuedAt        time.Time
	Expiry          time.Time
	AuthTime        time.Time // zero when absent
	Nonce           string
	AccessTokenHash string // "at_hash"
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

type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// maxIDTokenLen bounds the token before any decoding.
const maxIDTokenLen = 64 << 10

// signingMethods maps an allowed "alg" to its implementation. It is read-only
// after init, so the hot path takes no lock (jwt.GetSigningMethod does).
var signingMethods = map[string]jwt.SigningMethod{
	"RS256": jwt.SigningMethodRS256, "RS384": jwt.SigningMethodRS384, "RS512": jwt.SigningMethodRS512,
	"PS256": jwt.SigningMethodPS256, "PS384": jwt.SigningMethodPS384, "PS512": jwt.SigningMethodPS512,
	"ES256": jwt.SigningMethodES256, "ES384": jwt.SigningMethodES384, "ES512": jwt.SigningMethodES512,
	"EdDSA": jwt.SigningMethodEdDSA,
	"HS256": jwt.SigningMethodHS256, "HS384": jwt.SigningMethodHS384, "HS512": jwt.SigningMethodHS512,
}

var b64 = base64.RawURLEncoding.Strict()

// VerifyIDToken verifies rawIDToken as OpenID Connect Core 3.1.3.7 and RFC
// 8725 require: the signature (with an allowed alg and a key that fits it),
// iss, aud/azp, exp, iat, sub, and the nonce when nonce is not empty (""
// means none was sent). ctx bounds a JWKS fetch the token may cause. Every
// rejection wraps ErrInvalidIDToken, and the finer sentinel where one applies.
func (c *Client) VerifyIDToken(ctx context.Context, rawIDToken, nonce string) (*IDToken, error) {
	if len(rawIDToken) > maxIDTokenLen {
		return nil, invalidIDToken(nil, "token is %d bytes, longer than %d", len(rawIDToken), maxIDTokenLen)
	}
	dot1 := strings.IndexByte(rawIDToken, '.')
	dot2 := strings.LastIndexByte(rawIDToken, '.')
	if dot1 <= 0 || dot2 == dot1 || strings.IndexByte(rawIDToken[dot1+1:dot2], '.') >= 0 {
		return nil, invalidIDToken(nil, "not a compact JWS (need three dot-separated parts)")
	}
	hdr, cached, err := c.header(rawIDToken[:dot1])
	if err != nil {
		return nil, err
	}
	method, ok := signingMethods[hdr.Alg]
	if !ok || !c.algs[hdr.Alg] {
		return nil, invalidIDToken(ErrInvalidSignature, "alg %q is not allowed", hdr.Alg)
	}
	sig, err := b64.DecodeString(rawIDToken[dot2+1:])
	if err != nil {
		return nil, invalidIDToken(ErrInvalidSignature, "signature is not base64url: %v", err)
	}
	if err := c.verifySignature(ctx, method, hdr, rawIDToken[:dot2], sig); err != nil {
		return nil, err
	}
	if !cached {
		c.cacheHeader(rawIDToken[:dot1], hdr)
	}
	payload, err := b64.DecodeString(rawIDToken[dot1+1 : dot2])
	if err != nil {
		return nil, invalidIDToken(nil, "payload is not base64url: %v", err)
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
	return &IDToken{
		Issuer:          cl.Iss,
		Subject:         cl.Sub,
		Audience:        cl.Aud,
		AuthorizedParty: cl.Azp,
		IssuedAt:        cl.Iat.t,
		Expiry:          cl.Exp.t,
		AuthTime:        cl.AuthTime.t,
		Nonce:           cl.Nonce,
		AccessTokenHash: cl.AtHash,
		Profile:         cl.profile(),
		alg:             hdr.Alg,
		claims:          payload,
	}, nil
}

// maxCachedHeaders bounds the header cache. A provider uses a handful of
// distinct headers (one per signing key), so a small cache holds them all.
const maxCachedHeaders = 32

// header decodes the JOSE header segment, from the cache when this exact
// segment has verified before.
func (c *Client) header(seg string) (hdr *joseHeader, cached bool, err error) {
	if v, ok := c.headers.Load(seg); ok {
		return v.(*joseHeader), true, nil
	}
	b, err := b64.DecodeString(seg)
	if err != nil {
		return nil, false, invalidIDToken(nil, "header is not base64url: %v", err)
	}
	hdr = new(joseHeader)
	if err := json.Unmarshal(b, hdr); err != nil {
		return nil, false, invalidIDToken(nil, "header is not a JSON object: %v", err)
	}
	if name, bad := foldedName(b, headerNames); bad {
		return nil, false, invalidIDToken(ErrInvalidSignature, "header parameter %q differs from a registered name only in case", name)
	}
	if hdr.Crit != nil {
		return nil, false, invalidIDToken(ErrInvalidSignature, "unsupported critical header parameters %s", hdr.Crit)
	}
	return hdr, false, nil
}

// cacheHeader remembers a header whose token verified, so a forger cannot
// fill the cache: only the provider's keys produce entries.
func (c *Client) cacheHeader(seg string, hdr *joseHeader) {
	if c.nHeaders.Load() < maxCachedHeaders {
		c.nHeaders.Add(1)
		c.headers.Store(seg, hdr)
	}
}

// verifySignature checks sig over signed. HS* tokens are keyed with the
// client secret only; every other alg with JWKS keys that fit it, so an RSA
// or EC public key can never serve as an HMAC secret.
func (c *Client) verifySignature(ctx context.Context, m jwt.SigningMethod, hdr *joseHeader, signed string, sig []byte) error {
	if strings.HasPrefix(hdr.Alg, "HS") {
		if m.Verify(signed, sig, c.secret) != nil {
			return invalidIDToken(ErrInvalidSignature, "%s signature does not verify with the client secret", hdr.Alg)
		}
		return nil
	}
	if c.keys == nil {
		return invalidIDToken(ErrInvalidSignature, "%s token but the provider has no jwks_uri", hdr.Alg)
	}
	cands, err := c.keys.Candidates(ctx, hdr.Kid, hdr.Alg)
	if err != nil {
		if errors.Is(err, keys.ErrNoKey) {
			return invalidIDToken(ErrInvalidSignature, "%v", err)
		}
		if errors.Is(err, keys.ErrTooLarge) {
			return fmt.Errorf("%w: cannot get signing keys: %w: %w", ErrInvalidIDToken, ErrResponseTooLarge, err)
		}
		return fmt.Errorf("%w: cannot get signing keys: %w", ErrInvalidIDToken, err)
	}
	for _, k := range cands {
		if m.Verify(signed, sig, k.Public) == nil {
			return nil
		}
	}
	return invalidIDToken(ErrInvalidSignature, "%s signature does not verify with %d candidate key(s) for kid %q", hdr.Alg, len(cands), hdr.Kid)
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
	msg := fmt.Sprintf(format, args...)
	if kind == nil {
		return fmt.Errorf("%w: %s", ErrInvalidIDToken, msg)
	}
	return fmt.Errorf("%w: %w: %s", ErrInvalidIDToken, kind, msg)
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
