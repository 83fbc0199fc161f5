package nextidentity_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// TestConformanceIDTokenSignature: rp-id_token-sig-*, rp-id_token-bad-sig-*,
// alg "none", HMAC key confusion (RFC 8725 2.1, 3.1) and the alg allow-list.
func TestConformanceIDTokenSignature(t *testing.T) {
	sigInvalid := []error{nextidentity.ErrInvalidSignature}
	signed := map[string]func(p *testprovider.Provider, nonce string) string{
		"rs256": func(p *testprovider.Provider, n string) string {
			return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), nil)
		},
		"es256": func(p *testprovider.Provider, n string) string {
			return testprovider.Sign("ES256", p.EC, confClaims(p, n, nil), nil)
		},
		"ps256": func(p *testprovider.Provider, n string) string {
			return testprovider.Sign("PS256", p.PS, confClaims(p, n, nil), nil)
		},
		"eddsa": func(p *testprovider.Provider, n string) string {
			return testprovider.Sign("EdDSA", p.Ed, confClaims(p, n, nil), nil)
		},
		"hs256": func(p *testprovider.Provider, n string) string {
			return testprovider.SignHS("HS256", p.Secret, confClaims(p, n, nil))
		},
	}
	headerAlg := map[string]string{"rs256": "RS256", "es256": "ES256", "ps256": "PS256", "eddsa": "EdDSA", "hs256": "HS256"}
	var cases []confIDCase
	for _, alg := range []string{"rs256", "es256", "ps256", "eddsa", "hs256"} {
		sign := signed[alg]
		cases = append(cases,
			confIDCase{name: "rp-id_token-sig-" + alg, token: sign},
			confIDCase{
				name:  "rp-id_token-bad-sig-" + alg,
				token: func(p *testprovider.Provider, n string) string { return confCorrupt(sign(p, n)) },
				want:  sigInvalid,
			},
			confIDCase{
				// A valid signature of the provider, but over other claims.
				name: "rp-id_token-spliced-sig-" + alg,
				token: func(p *testprovider.Provider, n string) string {
					forged := confClaims(p, n, func(cl map[string]any) { cl["sub"] = "attacker" })
					return confSplice(confJWS(map[string]any{"alg": headerAlg[alg]}, forged, nil), sign(p, n))
				},
				want: sigInvalid,
			},
		)
	}

	// alg "none" in every spelling, with and without a signature part, with
	// and without a known kid.
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		cases = append(cases, confIDCase{
			name: "rp-id_token-sig-none-" + alg,
			token: func(p *testprovider.Provider, n string) string {
				return confJWS(map[string]any{"alg": alg, "typ": "JWT"}, confClaims(p, n, nil), nil)
			},
			want:   sigInvalid,
			noJWKS: true,
		})
	}
	cases = append(cases,
		confIDCase{
			name: "rp-id_token-sig-none-with-kid",
			token: func(p *testprovider.Provider, n string) string {
				return confJWS(map[string]any{"alg": "none", "kid": "rsa1"}, confClaims(p, n, nil), nil)
			},
			want:   sigInvalid,
			noJWKS: true,
		},
		confIDCase{
			name: "rp-id_token-sig-none-with-rs256-signature",
			token: func(p *testprovider.Provider, n string) string {
				good := confRS256(p, n, nil)
				return confSplice(confJWS(map[string]any{"alg": "none", "kid": "rsa1"}, confClaims(p, n, nil), nil), good)
			},
			want:   sigInvalid,
			noJWKS: true,
		},
		confIDCase{
			name: "rp-id_token-sig-none-hs256-allowed-by-discovery",
			// Default allow-list (discovery), which a careless RP might widen.
			edit: func(_ *testprovider.Provider, cfg *nextidentity.Config) { cfg.SigningAlgs = nil },
			token: func(p *testprovider.Provider, n string) string {
				return confJWS(map[string]any{"alg": "none"}, confClaims(p, n, nil), nil)
			},
			want:   sigInvalid,
			noJWKS: true,
		},
		confIDCase{
			name: "id_token_alg_missing",
			token: func(p *testprovider.Provider, n string) string {
				return confJWS(map[string]any{"kid": "rsa1"}, confClaims(p, n, nil), nil)
			},
			want:   sigInvalid,
			noJWKS: true,
		},
	)

	// HMAC keyed with the provider's public RSA key, in every form it is
	// published or commonly stored in (RFC 8725 2.1 / 3.1).
	for _, form := range []string{"pem-pkix", "pem-pkcs1", "der-pkix", "der-pkcs1", "jwk", "jwks", "modulus"} {
		for _, kid := range []string{"rsa1", ""} {
			name := "id_token_hs256_key_confusion_" + form
			if kid == "" {
				name += "_no_kid"
			}
			cases = append(cases, confIDCase{
				name: name,
				token: func(p *testprovider.Provider, n string) string {
					h := map[string]any{"alg": "HS256", "typ": "JWT"}
					if kid != "" {
						h["kid"] = kid
					}
					return confJWS(h, confClaims(p, n, nil), confHMAC256(confRSAPublicKeyForms(p)[form]))
				},
				want: sigInvalid,
			})
		}
	}
	cases = append(cases,
		confIDCase{
			name: "id_token_hs256_key_confusion_public_client",
			// A public client has no secret: HS256 is never allowed, even
			// though discovery advertises it.
			edit: func(_ *testprovider.Provider, cfg *nextidentity.Config) {
				cfg.ClientSecret = ""
				cfg.SigningAlgs = nil
			},
			token: func(p *testprovider.Provider, n string) string {
				return confJWS(map[string]any{"alg": "HS256", "kid": "rsa1"}, confClaims(p, n, nil),
					confHMAC256(confRSAPublicKeyForms(p)["pem-pkix"]))
			},
			want:   sigInvalid,
			noJWKS: true,
		},
		confIDCase{
			name: "id_token_hs256_empty_key_public_client",
			edit: func(_ *testprovider.Provider, cfg *nextidentity.Config) {
				cfg.ClientSecret = ""
				cfg.SigningAlgs = nil
			},
			token: func(p *testprovider.Provider, n string) string {
				return confJWS(map[string]any{"alg": "HS256"}, confClaims(p, n, nil), confHMAC256(nil))
			},
			want:   sigInvalid,
			noJWKS: true,
		},
		confIDCase{
			name: "id_token_hs256_wrong_secret",
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.SignHS("HS256", p.Secret+"x", confClaims(p, n, nil))
			},
			want: sigInvalid,
		},

		// The allow-list.
		confIDCase{
			name: "id_token_alg_not_allowed_es256",
			edit: func(_ *testprovider.Provider, cfg *nextidentity.Config) { cfg.SigningAlgs = []string{"RS256"} },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("ES256", p.EC, confClaims(p, n, nil), nil)
			},
			want:   sigInvalid,
			noJWKS: true,
		},
		confIDCase{
			name: "id_token_alg_not_allowed_hs256",
			edit: func(_ *testprovider.Provider, cfg *nextidentity.Config) { cfg.SigningAlgs = []string{"RS256"} },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.SignHS("HS256", p.Secret, confClaims(p, n, nil))
			},
			want:   sigInvalid,
			noJWKS: true,
		},
		confIDCase{
			name: "id_token_alg_not_allowed_rs384",
			token: func(p *testprovider.Provider, n string) string {
				k := *p.RSA
				k.Alg = "RS384"
				return testprovider.Sign("RS384", &k, confClaims(p, n, nil), nil)
			},
			want:   sigInvalid,
			noJWKS: true,
		},
		confIDCase{
			name: "id_token_alg_not_allowed_hs512",
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.SignHS("HS512", p.Secret, confClaims(p, n, nil))
			},
			want:   sigInvalid,
			noJWKS: true,
		},

		// The key must fit the alg (RFC 8725 3.1): a JWK's own "alg" and key
		// type bind it.
		confIDCase{
			name: "id_token_alg_key_mismatch_ps256_with_rs256_key",
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("PS256", p.RSA, confClaims(p, n, nil), nil) // kid rsa1, JWK alg RS256
			},
			want: sigInvalid,
		},
		confIDCase{
			name: "id_token_alg_key_mismatch_es256_header_rsa_kid",
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("ES256", p.EC, confClaims(p, n, nil), map[string]any{"kid": "rsa1"})
			},
			want: sigInvalid,
		},
		confIDCase{
			name: "id_token_alg_key_mismatch_rs256_with_ps_key",
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.PS, confClaims(p, n, nil), nil) // kid ps1, JWK alg PS256
			},
			want: sigInvalid,
		},

		// A symmetric key in the (public) JWKS is never an HMAC secret.
		confIDCase{
			name:  "id_token_hs256_with_oct_key_from_jwks",
			setup: confPublishOctKey,
			token: func(p *testprovider.Provider, n string) string {
				return confJWS(map[string]any{"alg": "HS256", "kid": "hmac1"}, confClaims(p, n, nil), confHMAC256([]byte(confOctSecret)))
			},
			want: sigInvalid,
		},
		confIDCase{
			name:  "id_token_rs256_naming_oct_kid",
			setup: confPublishOctKey,
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), map[string]any{"kid": "hmac1"})
			},
			want: sigInvalid,
		},
		confIDCase{
			name:  "id_token_rs256_valid_beside_oct_key",
			setup: confPublishOctKey,
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), nil)
			},
		},

		// Header-supplied keys are never trusted (RFC 8725 3.10).
		confIDCase{
			name: "id_token_embedded_jwk_header",
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), map[string]any{"jwk": testprovider.JWK(p.RSA2)})
			},
			want: sigInvalid,
		},
		confIDCase{
			name: "id_token_crit_header",
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), map[string]any{"crit": []string{"exp"}, "exp": 1})
			},
			want: sigInvalid,
		},
	)
	confRunIDCases(t, cases)
}

// TestConformanceIDTokenJKUHeaderIgnored: a "jku" pointing at an attacker's
// JWKS is neither fetched nor trusted (RFC 8725 3.10).
func TestConformanceIDTokenJKUHeaderIgnored(t *testing.T) {
	p := testprovider.New(t)
	var attackerHits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(testprovider.JWKS(p.RSA2))
	}))
	t.Cleanup(attacker.Close)
	c := mkClient(t, confConfig(p))
	f := confSignIn(t, p, c, func(n string) string {
		return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), map[string]any{"jku": attacker.URL, "x5u": attacker.URL})
	})
	confRequireRejected(t, f, nextidentity.ErrInvalidSignature)
	require.Zero(t, attackerHits.Load(), "jku/x5u must never be fetched")
}

// TestConformanceAlgNoneInAllowList: "none" cannot even be configured.
func TestConformanceAlgNoneInAllowList(t *testing.T) {
	p := testprovider.New(t)
	for _, algs := range [][]string{{"none"}, {"RS256", "none"}, {"RS256", "None"}} {
		t.Run(strings.Join(algs, ","), func(t *testing.T) {
			cfg := confConfig(p)
			cfg.SigningAlgs = algs
			c, err := nextidentity.New(context.Background(), cfg)
			require.ErrorIs(t, err, nextidentity.ErrInvalidConfig, "SigningAlgs with none must be refused")
			require.Nil(t, c)
		})
	}
}
