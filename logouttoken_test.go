package nextidentity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

var logoutJTI atomic.Int64

// logoutClaims returns valid logout token claims for p's client at now, with
// a fresh jti.
func logoutClaims(p *testprovider.Provider, now time.Time) map[string]any {
	return map[string]any{
		"iss":    p.Issuer,
		"aud":    p.ClientID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    fmt.Sprintf("jti-%d", logoutJTI.Add(1)),
		"sub":    testprovider.Subject,
		"sid":    "08a5019c-17e1-4977-8f42-65a12843ea02",
		"events": map[string]any{nextidentity.BackChannelLogoutEvent: map[string]any{}},
	}
}

// signLogout signs claims with p's RSA key and the header a logout token
// has (typ logout+jwt), changed by header (a nil value deletes a parameter).
func signLogout(p *testprovider.Provider, claims, header map[string]any) string {
	h := map[string]any{"typ": "logout+jwt"}
	maps.Copy(h, header)
	return testprovider.Sign("RS256", p.RSA, claims, h)
}

// signLogoutHS signs claims with HS256 keyed by secret, typ logout+jwt.
func signLogoutHS(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims))
	tok.Header["typ"] = "logout+jwt"
	s, err := tok.SignedString([]byte(secret))
	require.NoError(t, err)
	return s
}

// unsignedJWT is an alg "none" token: header and claims, empty signature.
func unsignedJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "none", "typ": "logout+jwt"}) + "." + enc(claims) + "."
}

// logoutClient is a client of p with clock clk.
func logoutClient(t *testing.T, p *testprovider.Provider, clk *fakeClock, edit func(*nextidentity.Config)) *nextidentity.Client {
	t.Helper()
	cfg := mkConfig(p)
	cfg.Now = clk.Now
	if edit != nil {
		edit(&cfg)
	}
	return mkClient(t, cfg)
}

func TestVerifyLogoutToken(t *testing.T) {
	p, c, now := fixedClient(t)
	cl := logoutClaims(p, now)
	cl["custom"] = "x"
	tok, err := c.VerifyLogoutToken(context.Background(), signLogout(p, cl, nil))
	require.NoError(t, err)
	require.Equal(t, &nextidentity.LogoutToken{
		Issuer:    p.Issuer,
		Subject:   testprovider.Subject,
		SessionID: "08a5019c-17e1-4977-8f42-65a12843ea02",
		ID:        cl["jti"].(string),
		Audience:  []string{p.ClientID},
		IssuedAt:  now,
		Expiry:    now.Add(2 * time.Minute),
	}, withoutClaims(tok))
	var custom struct {
		Custom string `json:"custom"`
	}
	require.NoError(t, tok.Claims(&custom))
	require.Equal(t, "x", custom.Custom)
	require.Error(t, (&nextidentity.LogoutToken{}).Claims(&custom), "not from VerifyLogoutToken")
}

// withoutClaims copies tok's exported fields, for comparison.
func withoutClaims(tok *nextidentity.LogoutToken) *nextidentity.LogoutToken {
	return &nextidentity.LogoutToken{
		Issuer: tok.Issuer, Subject: tok.Subject, SessionID: tok.SessionID, ID: tok.ID,
		Audience: tok.Audience, IssuedAt: tok.IssuedAt, Expiry: tok.Expiry,
	}
}

// Tokens that differ from the usual shape but are valid.
func TestVerifyLogoutTokenAccepts(t *testing.T) {
	p, c, now := fixedClient(t)
	leeway := nextidentity.DefaultLeeway
	for _, tc := range []struct {
		name string
		edit func(cl, hdr map[string]any)
		sign func(cl, hdr map[string]any) string
	}{
		{name: "no typ", edit: func(_, hdr map[string]any) { hdr["typ"] = nil }},
		{name: "typ application/logout+jwt", edit: func(_, hdr map[string]any) { hdr["typ"] = "application/Logout+JWT" }},
		{name: "sid only", edit: func(cl, _ map[string]any) { delete(cl, "sub") }},
		{name: "sub only", edit: func(cl, _ map[string]any) { delete(cl, "sid") }},
		{name: "no exp", edit: func(cl, _ map[string]any) { delete(cl, "exp") }},
		{name: "several audiences", edit: func(cl, _ map[string]any) { cl["aud"] = []string{"other", p.ClientID} }},
		{name: "azp is the client", edit: func(cl, _ map[string]any) { cl["azp"] = p.ClientID }},
		{name: "event with members", edit: func(cl, _ map[string]any) {
			cl["events"] = map[string]any{nextidentity.BackChannelLogoutEvent: map[string]any{"reason": "x"}, "other": 1}
		}},
		{name: "iat at the window's edge", edit: func(cl, _ map[string]any) {
			cl["iat"] = now.Add(-nextidentity.DefaultLogoutTokenMaxAge - leeway).Unix()
		}},
		{name: "iat in the future within leeway", edit: func(cl, _ map[string]any) { cl["iat"] = now.Add(leeway).Unix() }},
		{name: "HS256 with the client secret", sign: func(cl, _ map[string]any) string { return signLogoutHS(t, p.Secret, cl) }},
		{name: "ES256", sign: func(cl, hdr map[string]any) string { return testprovider.Sign("ES256", p.EC, cl, hdr) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, hdr := logoutClaims(p, now), map[string]any{"typ": "logout+jwt"}
			if tc.edit != nil {
				tc.edit(cl, hdr)
			}
			raw := signLogout(p, cl, hdr)
			if tc.sign != nil {
				raw = tc.sign(cl, hdr)
			}
			tok, err := c.VerifyLogoutToken(context.Background(), raw)
			require.NoError(t, err)
			require.Equal(t, cl["jti"], tok.ID)
		})
	}
}

// One row per verification rule of section 2.6: each is refused under
// ErrInvalidLogoutToken with its own sentinel.
func TestVerifyLogoutTokenRejects(t *testing.T) {
	p, c, now := fixedClient(t)
	leeway := nextidentity.DefaultLeeway
	for _, tc := range []struct {
		name string
		edit func(cl, hdr map[string]any)
		// sign replaces signLogout(p, cl, hdr) when set.
		sign func(t *testing.T, cl, hdr map[string]any) string
		kind error // nil: the umbrella only
	}{
		{name: "alg none", kind: nextidentity.ErrInvalidSignature,
			sign: func(t *testing.T, cl, _ map[string]any) string { return unsignedJWT(t, cl) }},
		{name: "key not in the JWKS", kind: nextidentity.ErrInvalidSignature,
			sign: func(_ *testing.T, cl, hdr map[string]any) string {
				hdr["kid"] = p.RSA.KID
				return testprovider.Sign("RS256", p.RSA2, cl, hdr)
			}},
		{name: "HS256 with another secret", kind: nextidentity.ErrInvalidSignature,
			sign: func(t *testing.T, cl, _ map[string]any) string { return signLogoutHS(t, "other-secret", cl) }},
		{name: "alg not allowed", kind: nextidentity.ErrInvalidSignature,
			sign: func(_ *testing.T, cl, _ map[string]any) string { return testprovider.SignHS("HS512", p.Secret, cl) }},
		{name: "typ JWT", kind: nextidentity.ErrLogoutTokenType, edit: func(_, hdr map[string]any) { hdr["typ"] = "JWT" }},
		{name: "typ at+jwt", kind: nextidentity.ErrLogoutTokenType, edit: func(_, hdr map[string]any) { hdr["typ"] = "at+jwt" }},
		{name: "other issuer", kind: nextidentity.ErrIssuerMismatch, edit: func(cl, _ map[string]any) { cl["iss"] = p.Issuer + "/" }},
		{name: "no issuer", kind: nextidentity.ErrIssuerMismatch, edit: func(cl, _ map[string]any) { delete(cl, "iss") }},
		{name: "other audience", kind: nextidentity.ErrAudienceMismatch, edit: func(cl, _ map[string]any) { cl["aud"] = "other" }},
		{name: "no audience", kind: nextidentity.ErrAudienceMismatch, edit: func(cl, _ map[string]any) { delete(cl, "aud") }},
		{name: "azp another client", kind: nextidentity.ErrAudienceMismatch, edit: func(cl, _ map[string]any) {
			cl["aud"], cl["azp"] = []string{p.ClientID, "other"}, "other"
		}},
		{name: "no iat", kind: nextidentity.ErrLogoutTokenIssuedAt, edit: func(cl, _ map[string]any) { delete(cl, "iat") }},
		{name: "iat older than the window", kind: nextidentity.ErrLogoutTokenIssuedAt, edit: func(cl, _ map[string]any) {
			cl["iat"] = now.Add(-nextidentity.DefaultLogoutTokenMaxAge - leeway - time.Second).Unix()
		}},
		{name: "iat in the future", kind: nextidentity.ErrLogoutTokenIssuedAt, edit: func(cl, _ map[string]any) {
			cl["iat"] = now.Add(leeway + time.Second).Unix()
		}},
		{name: "expired", kind: nextidentity.ErrTokenExpired, edit: func(cl, _ map[string]any) {
			cl["iat"], cl["exp"] = now.Add(-3*time.Minute).Unix(), now.Add(-leeway).Unix()
		}},
		{name: "no events", kind: nextidentity.ErrNoLogoutEvent, edit: func(cl, _ map[string]any) { delete(cl, "events") }},
		{name: "events an array (early drafts)", kind: nextidentity.ErrNoLogoutEvent, edit: func(cl, _ map[string]any) {
			cl["events"] = []string{nextidentity.BackChannelLogoutEvent}
		}},
		{name: "events without the logout event", kind: nextidentity.ErrNoLogoutEvent, edit: func(cl, _ map[string]any) {
			cl["events"] = map[string]any{"account/v1/register": map[string]any{}}
		}},
		{name: "logout event not an object", kind: nextidentity.ErrNoLogoutEvent, edit: func(cl, _ map[string]any) {
			cl["events"] = map[string]any{nextidentity.BackChannelLogoutEvent: true}
		}},
		{name: "neither sub nor sid", kind: nextidentity.ErrNoLogoutSubject, edit: func(cl, _ map[string]any) {
			delete(cl, "sub")
			delete(cl, "sid")
		}},
		{name: "nonce", kind: nextidentity.ErrLogoutTokenNonce, edit: func(cl, _ map[string]any) { cl["nonce"] = "n-1" }},
		{name: "empty nonce", kind: nextidentity.ErrLogoutTokenNonce, edit: func(cl, _ map[string]any) { cl["nonce"] = "" }},
		{name: "no jti", kind: nextidentity.ErrNoLogoutTokenID, edit: func(cl, _ map[string]any) { delete(cl, "jti") }},
		{name: "NONCE in capitals", edit: func(cl, _ map[string]any) { cl["NONCE"] = "n-1" }},
		{name: "sub not a string", edit: func(cl, _ map[string]any) { cl["sub"] = 42 }},
		{name: "not a JWS", sign: func(*testing.T, map[string]any, map[string]any) string { return "logout" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, hdr := logoutClaims(p, now), map[string]any{"typ": "logout+jwt"}
			if tc.edit != nil {
				tc.edit(cl, hdr)
			}
			raw := signLogout(p, cl, hdr)
			if tc.sign != nil {
				raw = tc.sign(t, cl, hdr)
			}
			tok, err := c.VerifyLogoutToken(context.Background(), raw)
			require.Nil(t, tok)
			require.ErrorIs(t, err, nextidentity.ErrInvalidLogoutToken)
			require.NotErrorIs(t, err, nextidentity.ErrInvalidIDToken)
			if tc.kind != nil {
				require.ErrorIs(t, err, tc.kind)
			}
			require.NotErrorIs(t, err, nextidentity.ErrLogoutTokenReplayed)
		})
	}
}

// The provider's ID tokens (no typ, no events, a nonce) are not logout
// tokens, whatever else they share.
func TestVerifyLogoutTokenRefusesIDToken(t *testing.T) {
	p, c, now := fixedClient(t)
	for _, nonce := range []string{"n-1", ""} {
		cl := p.Claims(now, nonce)
		cl["jti"] = "id-token-jti"
		cl["sid"] = "sid-1"
		for _, raw := range []string{
			testprovider.Sign("RS256", p.RSA, cl, map[string]any{"typ": nil}),
			testprovider.SignHS("HS256", p.Secret, cl), // typ JWT
		} {
			_, err := c.VerifyLogoutToken(context.Background(), raw)
			require.ErrorIs(t, err, nextidentity.ErrInvalidLogoutToken)
		}
	}
}

func TestVerifyLogoutTokenReplay(t *testing.T) {
	p := testprovider.New(t)
	clk := newFakeClock(fixedNow)
	c := logoutClient(t, p, clk, nil)
	ctx := context.Background()

	cl := logoutClaims(p, clk.Now())
	raw := signLogout(p, cl, nil)
	_, err := c.VerifyLogoutToken(ctx, raw)
	require.NoError(t, err)
	_, err = c.VerifyLogoutToken(ctx, raw)
	require.ErrorIs(t, err, nextidentity.ErrInvalidLogoutToken)
	require.ErrorIs(t, err, nextidentity.ErrLogoutTokenReplayed)

	// Another token with the same jti is a replay too.
	again := maps.Clone(cl)
	again["iat"] = clk.Now().Add(time.Second).Unix()
	_, err = c.VerifyLogoutToken(ctx, signLogout(p, again, nil))
	require.ErrorIs(t, err, nextidentity.ErrLogoutTokenReplayed)

	// Once the window has passed, the token is refused as too old, not
	// accepted because its jti was forgotten.
	clk.Advance(nextidentity.DefaultLogoutTokenMaxAge + nextidentity.DefaultLeeway + time.Second)
	_, err = c.VerifyLogoutToken(ctx, raw)
	require.ErrorIs(t, err, nextidentity.ErrLogoutTokenIssuedAt)
}

// A token refused for another reason does not use up its jti.
func TestVerifyLogoutTokenRefusalKeepsJTI(t *testing.T) {
	p, c, now := fixedClient(t)
	cl := logoutClaims(p, now)
	bad := maps.Clone(cl)
	bad["nonce"] = "n"
	_, err := c.VerifyLogoutToken(context.Background(), signLogout(p, bad, nil))
	require.ErrorIs(t, err, nextidentity.ErrLogoutTokenNonce)
	_, err = c.VerifyLogoutToken(context.Background(), signLogout(p, cl, nil))
	require.NoError(t, err)
}

// Two applications sharing one replay cache each accept a token addressed
// to both; each refuses its second delivery.
func TestVerifyLogoutTokenSharedReplayCache(t *testing.T) {
	p := testprovider.New(t)
	clk := newFakeClock(fixedNow)
	shared := nextidentity.NewMemoryReplayCache(0)
	a := logoutClient(t, p, clk, func(cfg *nextidentity.Config) { cfg.ReplayCache = shared })
	b := logoutClient(t, p, clk, func(cfg *nextidentity.Config) { cfg.ReplayCache = shared; cfg.ClientID = "client-2" })
	b2 := logoutClient(t, p, clk, func(cfg *nextidentity.Config) { cfg.ReplayCache = shared; cfg.ClientID = "client-2" })

	cl := logoutClaims(p, clk.Now())
	cl["aud"] = []string{p.ClientID, "client-2"}
	raw := signLogout(p, cl, nil)
	ctx := context.Background()
	_, err := a.VerifyLogoutToken(ctx, raw)
	require.NoError(t, err)
	_, err = b.VerifyLogoutToken(ctx, raw)
	require.NoError(t, err)
	_, err = b2.VerifyLogoutToken(ctx, raw) // another instance of b
	require.ErrorIs(t, err, nextidentity.ErrLogoutTokenReplayed)
}

type failingReplayCache struct{}

var errCacheDown = errors.New("cache down")

func (failingReplayCache) FirstSeen(context.Context, string, time.Duration) (bool, error) {
	return false, errCacheDown
}

// A replay cache that fails is not the token's fault: the error must not
// say the token is invalid, so the application answers 5xx and the provider
// retries.
func TestVerifyLogoutTokenReplayCacheDown(t *testing.T) {
	p := testprovider.New(t)
	clk := newFakeClock(fixedNow)
	c := logoutClient(t, p, clk, func(cfg *nextidentity.Config) { cfg.ReplayCache = failingReplayCache{} })
	_, err := c.VerifyLogoutToken(context.Background(), signLogout(p, logoutClaims(p, clk.Now()), nil))
	require.ErrorIs(t, err, errCacheDown)
	require.NotErrorIs(t, err, nextidentity.ErrInvalidLogoutToken)
}

// Config.LogoutTokenMaxAge sets the window, with the leeway on top.
func TestVerifyLogoutTokenWindow(t *testing.T) {
	p := testprovider.New(t)
	clk := newFakeClock(fixedNow)
	c := logoutClient(t, p, clk, func(cfg *nextidentity.Config) {
		cfg.LogoutTokenMaxAge = 30 * time.Second
		cfg.Leeway = 5 * time.Second
	})
	now := clk.Now()
	for _, tc := range []struct {
		age time.Duration
		ok  bool
	}{
		{0, true},
		{35 * time.Second, true},
		{36 * time.Second, false},
		{-5 * time.Second, true},
		{-6 * time.Second, false},
	} {
		cl := logoutClaims(p, now)
		cl["iat"] = now.Add(-tc.age).Unix()
		_, err := c.VerifyLogoutToken(context.Background(), signLogout(p, cl, nil))
		if tc.ok {
			require.NoError(t, err, "age %s", tc.age)
		} else {
			require.ErrorIs(t, err, nextidentity.ErrLogoutTokenIssuedAt, "age %s", tc.age)
		}
	}

	cfg := mkConfig(p)
	cfg.LogoutTokenMaxAge = -time.Second
	_, err := nextidentity.New(context.Background(), cfg)
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	require.ErrorContains(t, err, "LogoutTokenMaxAge")
}

func TestBackChannelLogoutDiscovery(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		supported, sessionOnly any
		wantSupported, wantSID bool
	}{
		{"absent", nil, nil, false, false},
		{"both true", true, true, true, true},
		{"without sid", true, false, true, false},
		{"strings are not booleans", "true", "true", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testprovider.New(t)
			doc := p.Discovery()
			if tc.supported != nil {
				doc["backchannel_logout_supported"] = tc.supported
				doc["backchannel_logout_session_supported"] = tc.sessionOnly
			}
			p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, _ *http.Request) {
				testprovider.WriteJSON(w, http.StatusOK, doc)
			})
			c := mkClient(t, mkConfig(p))
			require.Equal(t, tc.wantSupported, c.BackChannelLogoutSupported())
			require.Equal(t, tc.wantSID, c.BackChannelLogoutSessionSupported())
		})
	}
}
