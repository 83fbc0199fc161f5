package nextidentity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// This file verifies back-channel logout tokens (OpenID Connect Back-Channel
// Logout 1.0, sections 2.4 and 2.6). Next Identity does not document
// back-channel logout; the verification follows the specification, and an
// application switches the feature on when discovery says
// backchannel_logout_supported (see Client.BackChannelLogoutSupported).

// BackChannelLogoutEvent is the member of a logout token's "events" claim
// that declares the JWT a logout token.
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// DefaultLogoutTokenMaxAge is Config.LogoutTokenMaxAge when left zero.
const DefaultLogoutTokenMaxAge = 5 * time.Minute

// ErrInvalidLogoutToken is wrapped by every logout token rejection, with the
// specific check where one applies: the shared ErrInvalidSignature,
// ErrIssuerMismatch, ErrAudienceMismatch and ErrTokenExpired, or one of the
// logout token checks below.
var ErrInvalidLogoutToken = errors.New("nextidentity: invalid logout token")

// Checks specific to logout tokens, each wrapped under ErrInvalidLogoutToken.
var (
	// ErrLogoutTokenType: the JOSE header has a "typ" other than
	// "logout+jwt" (explicit typing, which keeps an ID token or an access
	// token from being accepted as a logout token).
	ErrLogoutTokenType = errors.New("nextidentity: logout token typ is not logout+jwt")
	// ErrNoLogoutEvent: the "events" claim is missing, is not a JSON object,
	// or lacks the BackChannelLogoutEvent member with a JSON object value.
	ErrNoLogoutEvent = errors.New("nextidentity: no back-channel logout event")
	// ErrLogoutTokenIssuedAt: "iat" is missing, in the future beyond the
	// leeway, or older than Config.LogoutTokenMaxAge plus the leeway.
	ErrLogoutTokenIssuedAt = errors.New("nextidentity: logout token iat missing or out of range")
	// ErrNoLogoutSubject: the token has neither "sub" nor "sid", so it names
	// no session to end.
	ErrNoLogoutSubject = errors.New("nextidentity: logout token has neither sub nor sid")
	// ErrLogoutTokenNonce: the token has a "nonce" claim, which the
	// specification prohibits so that an ID token cannot pass as a logout
	// token and the other way round.
	ErrLogoutTokenNonce = errors.New("nextidentity: logout token has a nonce")
	// ErrNoLogoutTokenID: the token has no "jti", so replays cannot be told
	// apart.
	ErrNoLogoutTokenID = errors.New("nextidentity: logout token has no jti")
	// ErrLogoutTokenReplayed: a logout token with the same "jti" (for the
	// same issuer and client) was accepted within Config.LogoutTokenMaxAge.
	ErrLogoutTokenReplayed = errors.New("nextidentity: logout token replayed")
)

// LogoutToken is a verified back-channel logout token's claims. The
// application ends its sessions for the provider session SessionID when it is
// set, else every session of Subject (section 2.7 of the specification).
type LogoutToken struct {
	// Issuer is "iss", equal to Config.Issuer.
	Issuer string
	// Subject is "sub": the user whose sessions end. "" when absent, in
	// which case SessionID is set.
	Subject string
	// SessionID is "sid": the provider session that ended, as it appeared
	// in the ID tokens of that session. "" when absent, in which case
	// Subject is set.
	SessionID string
	// ID is "jti", unique per token; a token with the same ID is refused
	// as a replay.
	ID string
	// Audience is "aud"; it contains the client id.
	Audience []string
	// IssuedAt is "iat".
	IssuedAt time.Time
	// Expiry is "exp", zero when the token has none (the specification
	// requires it since its final version; earlier drafts did not).
	Expiry time.Time

	claims []byte
}

// Claims decodes the token's payload into v, for claims the provider adds.
func (t *LogoutToken) Claims(v any) error {
	if t == nil || t.claims == nil {
		return errors.New("nextidentity: LogoutToken has no claims (not produced by VerifyLogoutToken)")
	}
	return json.Unmarshal(t.claims, v)
}

// logoutClaims is the logout token payload as decoded for verification.
type logoutClaims struct {
	Iss    string          `json:"iss"`
	Sub    string          `json:"sub"`
	Aud    audience        `json:"aud"`
	Azp    string          `json:"azp"`
	Iat    numericDate     `json:"iat"`
	Exp    numericDate     `json:"exp"`
	Jti    string          `json:"jti"`
	Sid    string          `json:"sid"`
	Events json.RawMessage `json:"events"`
	Nonce  json.RawMessage `json:"nonce"`
}

var logoutClaimNames = jsonNames(reflect.TypeFor[logoutClaims]())

// logoutState is the client's back-channel logout configuration.
type logoutState struct {
	maxAge time.Duration
	replay ReplayCache
}

// newLogoutState applies the defaults of the logout token settings.
func newLogoutState(cfg *Config, now func() time.Time) logoutState {
	s := logoutState{maxAge: cfg.LogoutTokenMaxAge, replay: cfg.ReplayCache}
	if s.maxAge == 0 {
		s.maxAge = DefaultLogoutTokenMaxAge
	}
	if s.replay == nil {
		s.replay = newMemoryReplayCache(0, now)
	}
	return s
}

// BackChannelLogoutSupported reports whether the discovery document says
// "backchannel_logout_supported": true. Next Identity does not document
// back-channel logout, so the feature follows the specification and is meant
// to be switched on from discovery. It is false when New read no discovery
// document (every endpoint configured), and with Config.LazyDiscovery while
// the document has not been read yet.
func (c *Client) BackChannelLogoutSupported() bool {
	p := c.loaded()
	return p != nil && p.bcl
}

// BackChannelLogoutSessionSupported reports whether the discovery document
// says "backchannel_logout_session_supported": true, that is, whether logout
// tokens (and ID tokens) carry "sid" so that one provider session can be
// ended rather than all of a user's. False when no discovery document was
// read (or, with Config.LazyDiscovery, not read yet).
func (c *Client) BackChannelLogoutSessionSupported() bool {
	p := c.loaded()
	return p != nil && p.bclSession
}

// VerifyLogoutToken verifies raw, the "logout_token" form parameter of a
// back-channel logout request, as section 2.6 of OpenID Connect Back-Channel
// Logout 1.0 requires:
//
//   - the signature, with the ID token discipline: an "alg" on the allow-list
//     (Config.SigningAlgs), a JWKS key fitting it or, for HS*, the client
//     secret; never "none";
//   - a "typ" header, when present, of "logout+jwt" (or
//     "application/logout+jwt", case-insensitively): a plain "JWT" is refused;
//   - "iss" equal to Config.Issuer; "aud" containing the client id, and
//     "azp", when present, equal to it;
//   - "iat" present, not in the future and not older than
//     Config.LogoutTokenMaxAge, both with the leeway; "exp", when present,
//     not past;
//   - "events" a JSON object whose BackChannelLogoutEvent member is a JSON
//     object; "sub" or "sid" present; no "nonce";
//   - "jti" present and not accepted before within the window, recorded in
//     Config.ReplayCache.
//
// ctx bounds a JWKS fetch the token may cause and the replay cache call.
// Every rejection wraps ErrInvalidLogoutToken and the specific check where
// one applies; the application answers it with HTTP 400. An error from the
// replay cache (a shared store that is down) does not wrap
// ErrInvalidLogoutToken: the token may be good, so answer it with a server
// error and the provider can retry.
func (c *Client) VerifyLogoutToken(ctx context.Context, raw string) (_ *LogoutToken, err error) {
	ctx, op := c.tel.StartVerify(ctx, telemetry.LogoutTokenVerify, telemetry.LogoutToken)
	defer op.End(&err)
	hdr, payload, err := c.verifyJWS(ctx, raw, jwsOptions{umbrella: ErrInvalidLogoutToken})
	if err != nil {
		return nil, err
	}
	if hdr.Typ != "" && !isLogoutType(hdr.Typ) {
		return nil, invalidLogoutToken(ErrLogoutTokenType, "typ %q", hdr.Typ)
	}
	var cl logoutClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, invalidLogoutToken(nil, "claims: %v", err)
	}
	if name, bad := foldedName(payload, logoutClaimNames); bad {
		return nil, invalidLogoutToken(nil, "claim %q differs from a registered claim name only in case", name)
	}
	if err := c.checkLogoutClaims(&cl); err != nil {
		return nil, err
	}
	// Recorded last, so that a token refused for another reason does not
	// use up its jti.
	ttl := cl.Iat.t.Add(c.logout.maxAge + c.leeway).Sub(c.now())
	if ttl < time.Second {
		ttl = time.Second
	}
	first, err := c.logout.replay.FirstSeen(ctx, c.logoutReplayKey(cl.Jti), ttl)
	if err != nil {
		return nil, fmt.Errorf("nextidentity: logout token replay check: %w", err)
	}
	if !first {
		return nil, invalidLogoutToken(ErrLogoutTokenReplayed, "jti %.64q was accepted before", cl.Jti)
	}
	t := &LogoutToken{
		Issuer:    cl.Iss,
		Subject:   cl.Sub,
		SessionID: cl.Sid,
		ID:        cl.Jti,
		Audience:  []string(cl.Aud),
		IssuedAt:  cl.Iat.t,
		claims:    payload,
	}
	if cl.Exp.set {
		t.Expiry = cl.Exp.t
	}
	return t, nil
}

func (c *Client) checkLogoutClaims(cl *logoutClaims) error {
	if cl.Iss != c.cfg.Issuer {
		return invalidLogoutToken(ErrIssuerMismatch, "iss %q, want %q", cl.Iss, c.cfg.Issuer)
	}
	if !slices.Contains(cl.Aud, c.cfg.ClientID) {
		return invalidLogoutToken(ErrAudienceMismatch, "aud %q does not contain client id %q", []string(cl.Aud), c.cfg.ClientID)
	}
	if cl.Azp != "" && cl.Azp != c.cfg.ClientID {
		return invalidLogoutToken(ErrAudienceMismatch, "azp %q is not client id %q", cl.Azp, c.cfg.ClientID)
	}
	now := c.now()
	if !cl.Iat.set {
		return invalidLogoutToken(ErrLogoutTokenIssuedAt, "no iat claim")
	}
	if cl.Iat.t.After(now.Add(c.leeway)) {
		return invalidLogoutToken(ErrLogoutTokenIssuedAt, "issued in the future (iat %s)", cl.Iat.t.UTC().Format(time.RFC3339))
	}
	if now.Sub(cl.Iat.t) > c.logout.maxAge+c.leeway {
		return invalidLogoutToken(ErrLogoutTokenIssuedAt, "issued at %s, more than %s ago (Config.LogoutTokenMaxAge plus leeway)",
			cl.Iat.t.UTC().Format(time.RFC3339), c.logout.maxAge+c.leeway)
	}
	if cl.Exp.set && !now.Before(cl.Exp.t.Add(c.leeway)) {
		return invalidLogoutToken(ErrTokenExpired, "expired at %s", cl.Exp.t.UTC().Format(time.RFC3339))
	}
	if err := checkLogoutEvents(cl.Events); err != nil {
		return err
	}
	if cl.Sub == "" && cl.Sid == "" {
		return invalidLogoutToken(ErrNoLogoutSubject, "")
	}
	if cl.Nonce != nil {
		return invalidLogoutToken(ErrLogoutTokenNonce, "")
	}
	if cl.Jti == "" {
		return invalidLogoutToken(ErrNoLogoutTokenID, "")
	}
	return nil
}

// checkLogoutEvents checks that events is a JSON object whose
// BackChannelLogoutEvent member is a JSON object.
func checkLogoutEvents(events json.RawMessage) error {
	if events == nil || bytes.Equal(events, jsonNull) {
		return invalidLogoutToken(ErrNoLogoutEvent, "no events claim")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(events, &m); err != nil {
		return invalidLogoutToken(ErrNoLogoutEvent, "events is not a JSON object")
	}
	ev, ok := m[BackChannelLogoutEvent]
	if !ok {
		return invalidLogoutToken(ErrNoLogoutEvent, "events has no %s member", BackChannelLogoutEvent)
	}
	if ev = bytes.TrimSpace(ev); len(ev) == 0 || ev[0] != '{' {
		return invalidLogoutToken(ErrNoLogoutEvent, "the %s event is not a JSON object", BackChannelLogoutEvent)
	}
	return nil
}

// isLogoutType reports whether a JOSE "typ" names a logout token. Media type
// names are case-insensitive, and the "application/" prefix may be left out
// (RFC 7515 section 4.1.9).
func isLogoutType(typ string) bool {
	typ = strings.ToLower(typ)
	return typ == "logout+jwt" || typ == "application/logout+jwt"
}

// logoutReplayKey names a jti in the replay cache. The issuer and the client
// id are part of it, so that applications sharing a cache do not take each
// other's tokens for replays; hashing bounds the key's size whatever the jti.
func (c *Client) logoutReplayKey(jti string) string {
	h := sha256.New()
	for _, s := range []string{c.cfg.Issuer, c.cfg.ClientID, jti} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return "nextidentity:logout:" + hex.EncodeToString(h.Sum(nil))
}

// invalidLogoutToken wraps ErrInvalidLogoutToken and, when not nil, the finer
// kind.
func invalidLogoutToken(kind error, format string, args ...any) error {
	return invalidToken(ErrInvalidLogoutToken, kind, format, args...)
}
