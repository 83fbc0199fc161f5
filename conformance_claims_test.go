package nextidentity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// TestConformanceIDTokenClaims: rp-id_token-iss-mismatch, -aud, -sub, -iat,
// exp and leeway, rp-nonce-invalid, rp-id_token-bad-at_hash.
func TestConformanceIDTokenClaims(t *testing.T) {
	claims := func(edit func(p *testprovider.Provider, cl map[string]any)) func(p *testprovider.Provider, n string) string {
		return func(p *testprovider.Provider, n string) string {
			return confRS256(p, n, func(cl map[string]any) { edit(p, cl) })
		}
	}
	leeway := nextidentity.DefaultLeeway
	explicitEndpoints := func(p *testprovider.Provider, cfg *nextidentity.Config) {
		cfg.AuthorizationEndpoint = p.URL + testprovider.PathAuthorize
		cfg.TokenEndpoint = p.URL + testprovider.PathToken
		cfg.UserInfoEndpoint = p.URL + testprovider.PathUserInfo
		cfg.JWKSURL = p.URL + testprovider.PathJWKS
	}
	issMismatch := []error{nextidentity.ErrIssuerMismatch}
	audMismatch := []error{nextidentity.ErrAudienceMismatch}
	invalid := []error{nextidentity.ErrInvalidIDToken}
	expired := []error{nextidentity.ErrTokenExpired}
	nonceMismatch := []error{nextidentity.ErrNonceMismatch}

	cases := []confIDCase{
		{name: "rp-id_token-valid", token: claims(func(*testprovider.Provider, map[string]any) {})},

		// iss
		{name: "rp-id_token-iss-mismatch", want: issMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["iss"] = "https://evil.example.com" })},
		{name: "rp-id_token-iss-missing", want: issMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { delete(cl, "iss") })},
		{name: "rp-id_token-iss-empty", want: issMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["iss"] = "" })},
		{name: "rp-id_token-iss-not-string", want: invalid,
			token: claims(func(p *testprovider.Provider, cl map[string]any) { cl["iss"] = []string{p.Issuer} })},
		{name: "rp-id_token-iss-trailing-slash", want: issMismatch,
			token: claims(func(p *testprovider.Provider, cl map[string]any) { cl["iss"] = p.Issuer + "/" })},
		{name: "rp-id_token-iss-case-differs", want: issMismatch,
			token: claims(func(p *testprovider.Provider, cl map[string]any) {
				cl["iss"] = strings.Replace(p.Issuer, "http://", "HTTP://", 1)
			})},
		{name: "rp-id_token-iss-missing-trailing-slash", want: issMismatch,
			edit: func(p *testprovider.Provider, cfg *nextidentity.Config) {
				explicitEndpoints(p, cfg)
				cfg.Issuer = p.Issuer + "/"
			},
			token: claims(func(p *testprovider.Provider, cl map[string]any) { cl["iss"] = p.Issuer })},
		{name: "rp-id_token-iss-trailing-slash-exact-match",
			edit: func(p *testprovider.Provider, cfg *nextidentity.Config) {
				explicitEndpoints(p, cfg)
				cfg.Issuer = p.Issuer + "/"
			},
			token: claims(func(p *testprovider.Provider, cl map[string]any) { cl["iss"] = p.Issuer + "/" })},

		// aud / azp
		{name: "rp-id_token-aud-mismatch", want: audMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["aud"] = "other-client" })},
		{name: "rp-id_token-aud-missing", want: audMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { delete(cl, "aud") })},
		{name: "rp-id_token-aud-empty-array", want: audMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["aud"] = []string{} })},
		{name: "rp-id_token-aud-prefix", want: audMismatch,
			token: claims(func(p *testprovider.Provider, cl map[string]any) { cl["aud"] = p.ClientID + "x" })},
		{name: "rp-id_token-aud-array-single",
			token: claims(func(p *testprovider.Provider, cl map[string]any) { cl["aud"] = []string{p.ClientID} })},
		{name: "rp-id_token-aud-multiple-no-azp", want: audMismatch,
			token: claims(func(p *testprovider.Provider, cl map[string]any) { cl["aud"] = []string{p.ClientID, "other-client"} })},
		{name: "rp-id_token-aud-multiple-azp-other", want: audMismatch,
			token: claims(func(p *testprovider.Provider, cl map[string]any) {
				cl["aud"] = []string{p.ClientID, "other-client"}
				cl["azp"] = "other-client"
			})},
		{name: "rp-id_token-aud-multiple-azp-client",
			token: claims(func(p *testprovider.Provider, cl map[string]any) {
				cl["aud"] = []string{"other-client", p.ClientID}
				cl["azp"] = p.ClientID
			})},
		{name: "rp-id_token-azp-mismatch", want: audMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["azp"] = "other-client" })},
		{name: "rp-id_token-azp-matches-single-aud",
			token: claims(func(p *testprovider.Provider, cl map[string]any) { cl["azp"] = p.ClientID })},

		// sub
		{name: "rp-id_token-sub-missing", want: invalid,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { delete(cl, "sub") })},
		{name: "rp-id_token-sub-empty", want: invalid,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["sub"] = "" })},

		// iat
		{name: "rp-id_token-iat-missing", want: invalid,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { delete(cl, "iat") })},
		{name: "rp-id_token-iat-far-future", want: invalid,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(24 * time.Hour).Unix()
				cl["exp"] = confNow.Add(25 * time.Hour).Unix()
			})},
		{name: "rp-id_token-iat-just-outside-leeway", want: invalid,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(leeway + time.Second).Unix()
			})},
		{name: "rp-id_token-iat-future-within-leeway",
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(leeway - time.Second).Unix()
			})},
		{name: "rp-id_token-iat-not-number", want: invalid,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["iat"] = "yesterday" })},

		// exp
		{name: "rp-id_token-exp-missing", want: invalid,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { delete(cl, "exp") })},
		{name: "rp-id_token-exp-null", want: invalid,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["exp"] = nil })},
		{name: "rp-id_token-exp-past", want: expired,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(-2 * time.Hour).Unix()
				cl["exp"] = confNow.Add(-time.Hour).Unix()
			})},
		{name: "rp-id_token-exp-just-inside-leeway",
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(-time.Hour).Unix()
				cl["exp"] = confNow.Add(-leeway + time.Second).Unix()
			})},
		{name: "rp-id_token-exp-at-leeway-boundary", want: expired,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(-time.Hour).Unix()
				cl["exp"] = confNow.Add(-leeway).Unix()
			})},
		{name: "rp-id_token-exp-just-outside-leeway", want: expired,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(-time.Hour).Unix()
				cl["exp"] = confNow.Add(-leeway - time.Second).Unix()
			})},
		{name: "rp-id_token-exp-past-no-leeway", want: expired,
			edit: func(_ *testprovider.Provider, cfg *nextidentity.Config) { cfg.Leeway = -1 },
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(-time.Hour).Unix()
				cl["exp"] = confNow.Add(-time.Second).Unix()
			})},
		{name: "rp-id_token-exp-custom-leeway-inside",
			edit: func(_ *testprovider.Provider, cfg *nextidentity.Config) { cfg.Leeway = 5 * time.Minute },
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(-time.Hour).Unix()
				cl["exp"] = confNow.Add(-4 * time.Minute).Unix()
			})},
		{name: "rp-id_token-exp-custom-leeway-outside", want: expired,
			edit: func(_ *testprovider.Provider, cfg *nextidentity.Config) { cfg.Leeway = 5 * time.Minute },
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["iat"] = confNow.Add(-time.Hour).Unix()
				cl["exp"] = confNow.Add(-5*time.Minute - time.Second).Unix()
			})},

		// nonce
		{name: "rp-nonce-invalid", want: nonceMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["nonce"] = "not-the-nonce-sent" })},
		{name: "rp-nonce-missing", want: nonceMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { delete(cl, "nonce") })},
		{name: "rp-nonce-empty", want: nonceMismatch,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["nonce"] = "" })},
		{name: "rp-nonce-prefix", want: nonceMismatch,
			token: func(p *testprovider.Provider, n string) string {
				return confRS256(p, n, func(cl map[string]any) { cl["nonce"] = n[:len(n)-1] })
			}},

		// at_hash (checked against the token response's access token)
		{name: "rp-id_token-bad-at_hash", want: invalid, flowOnly: true,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["at_hash"] = testprovider.AtHash(confAccessToken + "x")
			})},
		{name: "rp-id_token-at_hash-garbage", want: invalid, flowOnly: true,
			token: claims(func(_ *testprovider.Provider, cl map[string]any) { cl["at_hash"] = "!!" })},
		{name: "rp-id_token-good-at_hash",
			token: claims(func(_ *testprovider.Provider, cl map[string]any) {
				cl["at_hash"] = testprovider.AtHash(confAccessToken)
			})},
	}
	confRunIDCases(t, cases)
}

// TestConformanceVerifyAccessToken: at_hash through the public API.
func TestConformanceVerifyAccessToken(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, confConfig(p))
	for _, alg := range []string{"RS256", "ES256", "PS256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			cl := confClaims(p, confDirectNonce, func(cl map[string]any) { cl["at_hash"] = testprovider.AtHash(confAccessToken) })
			var raw string
			switch alg {
			case "RS256":
				raw = testprovider.Sign(alg, p.RSA, cl, nil)
			case "ES256":
				raw = testprovider.Sign(alg, p.EC, cl, nil)
			case "PS256":
				raw = testprovider.Sign(alg, p.PS, cl, nil)
			case "HS256":
				raw = testprovider.SignHS(alg, p.Secret, cl)
			}
			idt, err := c.VerifyIDToken(context.Background(), raw, confDirectNonce)
			require.NoError(t, err)
			require.NoError(t, idt.VerifyAccessToken(confAccessToken))
			for _, bad := range []string{confAccessToken + "x", "", "conf-access-token-2", strings.ToUpper(confAccessToken)} {
				require.ErrorIs(t, idt.VerifyAccessToken(bad), nextidentity.ErrInvalidIDToken, "access token %q", bad)
			}
		})
	}
}
