package nextidentity_test

// An RP conformance suite modelled on the OpenID Foundation's relying-party
// certification tests for the Basic profile (authorization code flow), with
// the JWT hardening of RFC 8725 and the OAuth security BCP (RFC 9700).
//
// Subtest names follow the OIDF RP test ids where one exists
// (rp-id_token-sig-none, rp-id_token-kid-absent-single-jwks, ...).
//
// Every flow-level rejection runs the real flow, as an app would
// (AuthCodeURL -> scripted token endpoint -> Exchange, then UserInfo only on
// success), and asserts that the app receives no *Token and that the
// userinfo endpoint is never called.

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// confNow is the fixed clock every conformance client runs on.
var confNow = time.Unix(1700000000, 0)

const (
	confAccessToken  = "conf-access-token-1"
	confRefreshToken = "conf-refresh-token-1"
	confDirectNonce  = "conf-direct-nonce"
)

// confConfig is a client for p on the fixed clock, allowing the five
// algorithms the Basic profile tests exercise.
func confConfig(p *testprovider.Provider) nextidentity.Config {
	cfg := mkConfig(p)
	cfg.Now = func() time.Time { return confNow }
	cfg.SigningAlgs = []string{"RS256", "PS256", "ES256", "EdDSA", "HS256"}
	return cfg
}

// confClaims returns valid claims at confNow for nonce, edited by edit.
func confClaims(p *testprovider.Provider, nonce string, edit func(map[string]any)) map[string]any {
	cl := p.Claims(confNow, nonce)
	if edit != nil {
		edit(cl)
	}
	return cl
}

// confRS256 signs claims with the provider's published RSA key (kid rsa1).
func confRS256(p *testprovider.Provider, nonce string, edit func(map[string]any)) string {
	return testprovider.Sign("RS256", p.RSA, confClaims(p, nonce, edit), nil)
}

func confB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// confJWS builds a compact JWS by hand, so headers and signatures can be
// anything at all. sign == nil leaves the signature empty.
func confJWS(header, claims map[string]any, sign func(signingInput []byte) []byte) string {
	h, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	in := confB64(h) + "." + confB64(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(in))
	}
	return in + "." + confB64(sig)
}

// confHMAC256 signs with HMAC-SHA256 keyed by key (any bytes, even empty).
func confHMAC256(key []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(in)
		return m.Sum(nil)
	}
}

// confCorrupt flips one bit in the middle of the token's signature.
func confCorrupt(raw string) string {
	i := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	if err != nil || len(sig) == 0 {
		panic(fmt.Sprintf("confCorrupt: bad signature in %q", raw))
	}
	sig[len(sig)/2] ^= 0x01
	return raw[:i+1] + confB64(sig)
}

// confSplice returns a's header and payload with b's signature.
func confSplice(a, b string) string {
	return a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]
}

// confRSAPublicKeyForms are the byte strings an attacker would try as the
// HMAC secret in a key-confusion attack on the provider's public RSA key.
func confRSAPublicKeyForms(p *testprovider.Provider) map[string][]byte {
	pub := p.RSA.Private.Public().(*rsa.PublicKey)
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	jwk, err := json.Marshal(testprovider.JWK(p.RSA))
	if err != nil {
		panic(err)
	}
	return map[string][]byte{
		"pem-pkix":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"pem-pkcs1": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"der-pkix":  pkix,
		"der-pkcs1": pkcs1,
		"jwk":       jwk,
		"jwks":      testprovider.JWKS(p.RSA),
		"modulus":   pub.N.Bytes(),
	}
}

const confOctSecret = "a-symmetric-key-published-in-the-jwks-0123456789"

// confPublishOctKey publishes the RSA key and a symmetric ("oct") key with
// kid hmac1 in the JWKS.
func confPublishOctKey(p *testprovider.Provider) {
	doc := map[string]any{"keys": []any{
		testprovider.JWK(p.RSA),
		map[string]any{"kty": "oct", "kid": "hmac1", "alg": "HS256", "use": "sig", "k": confB64([]byte(confOctSecret))},
	}}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	p.SetJWKS(b)
}

// confFlow is what an app sees from one sign-in.
type confFlow struct {
	tok      *nextidentity.Token
	ui       *nextidentity.UserInfo
	err      error
	tokenReq int64 // token endpoint requests
	userReq  int64 // userinfo endpoint requests
}

// confSignIn plays a relying-party app through the code flow: it builds the
// authorization URL, lets the scripted token endpoint answer with
// idToken(nonce) and, only when Exchange succeeds, reads the user's profile
// from the userinfo endpoint.
func confSignIn(t *testing.T, p *testprovider.Provider, c *nextidentity.Client, idToken func(nonce string) string) confFlow {
	t.Helper()
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	u, err := url.Parse(ar.URL)
	require.NoError(t, err)
	require.Equal(t, "code", u.Query().Get("response_type"))
	require.Equal(t, ar.Nonce, u.Query().Get("nonce"), "the nonce is sent")
	require.Equal(t, ar.State, u.Query().Get("state"))
	require.Equal(t, "S256", u.Query().Get("code_challenge_method"))

	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{
			"access_token":  confAccessToken,
			"token_type":    "Bearer",
			"refresh_token": confRefreshToken,
			"expires_in":    3600,
			"id_token":      idToken(ar.Nonce),
		})
	})
	p.Handle(testprovider.PathUserInfo, func(w http.ResponseWriter, r *http.Request) {
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{
			"sub": testprovider.Subject, "name": "John Smith", "email": "john.smith@example.com",
		})
	})
	tokBefore, userBefore := p.Count(testprovider.PathToken), p.Count(testprovider.PathUserInfo)
	var f confFlow
	f.tok, f.err = c.Exchange(context.Background(), callbackFor(ar), ar)
	if f.err == nil {
		f.ui, f.err = c.UserInfo(context.Background(), f.tok)
	}
	f.tokenReq = p.Count(testprovider.PathToken) - tokBefore
	f.userReq = p.Count(testprovider.PathUserInfo) - userBefore
	return f
}

// confRequireRejected asserts an ID token rejection: every wanted sentinel,
// ErrInvalidIDToken, no token for the app and no user data fetched.
func confRequireRejected(t *testing.T, f confFlow, want ...error) {
	t.Helper()
	require.Error(t, f.err)
	for _, w := range want {
		require.ErrorIs(t, f.err, w)
	}
	require.ErrorIs(t, f.err, nextidentity.ErrInvalidIDToken)
	require.Nil(t, f.tok, "no *Token after a rejected id_token")
	require.Nil(t, f.ui)
	require.EqualValues(t, 1, f.tokenReq, "the code was redeemed once")
	require.Zero(t, f.userReq, "userinfo must not be called after a rejected id_token")
}

func confRequireAccepted(t *testing.T, f confFlow) {
	t.Helper()
	require.NoError(t, f.err)
	require.NotNil(t, f.tok)
	require.NotNil(t, f.tok.IDToken)
	require.Equal(t, testprovider.Subject, f.tok.IDToken.Subject)
	require.Equal(t, confAccessToken, f.tok.AccessToken)
	require.NotNil(t, f.ui)
	require.Equal(t, testprovider.Subject, f.ui.Subject)
	require.EqualValues(t, 1, f.userReq)
}

// confIDCase is one ID token conformance case.
type confIDCase struct {
	name string
	// setup runs on the fresh provider before the client is built.
	setup func(p *testprovider.Provider)
	// edit changes the client's config.
	edit func(p *testprovider.Provider, cfg *nextidentity.Config)
	// token is the id_token the provider returns for nonce.
	token func(p *testprovider.Provider, nonce string) string
	// want lists the sentinels of the rejection (ErrInvalidIDToken is always
	// checked too); nil means the token is accepted.
	want []error
	// flowOnly: the case is about the token response (at_hash), so a bare
	// VerifyIDToken is not expected to reject it.
	flowOnly bool
	// noJWKS: the token must be refused before any JWKS request.
	noJWKS bool
}

func confRunIDCases(t *testing.T, cases []confIDCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		require.False(t, seen[tc.name], "duplicate case %s", tc.name)
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			p := testprovider.New(t)
			if tc.setup != nil {
				tc.setup(p)
			}
			cfg := confConfig(p)
			if tc.edit != nil {
				tc.edit(p, &cfg)
			}
			c := mkClient(t, cfg)

			if !tc.flowOnly {
				idt, err := c.VerifyIDToken(context.Background(), tc.token(p, confDirectNonce), confDirectNonce)
				if tc.want == nil {
					require.NoError(t, err, "VerifyIDToken")
					require.Equal(t, testprovider.Subject, idt.Subject)
				} else {
					require.Error(t, err, "VerifyIDToken accepted a token it must reject")
					require.Nil(t, idt)
					for _, w := range tc.want {
						require.ErrorIs(t, err, w, "VerifyIDToken")
					}
					require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken, "VerifyIDToken")
				}
			}

			f := confSignIn(t, p, c, func(nonce string) string { return tc.token(p, nonce) })
			if tc.want == nil {
				confRequireAccepted(t, f)
			} else {
				confRequireRejected(t, f, tc.want...)
			}
			if tc.noJWKS {
				require.Zero(t, p.Count(testprovider.PathJWKS), "a refused alg must not cause a JWKS fetch")
			}
		})
	}
}

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

// TestConformanceKeySelection: rp-id_token-kid-absent-single-jwks and
// rp-id_token-kid-absent-multiple-jwks.
func TestConformanceKeySelection(t *testing.T) {
	sigInvalid := []error{nextidentity.ErrInvalidSignature}
	noKid := map[string]any{"kid": nil}
	encKey := func(p *testprovider.Provider) *testprovider.Key {
		return &testprovider.Key{KID: "enc1", Use: "enc", Private: p.RSA2.Private}
	}
	cases := []confIDCase{
		{
			name:  "rp-id_token-kid-absent-single-jwks",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, encKey(p)) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), noKid)
			},
		},
		{
			name: "rp-id_token-kid-absent-single-jwks-no-kid-published",
			setup: func(p *testprovider.Provider) {
				p.SetKeys(encKey(p), &testprovider.Key{Alg: "RS256", Private: p.RSA.Private})
			},
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), noKid)
			},
		},
		{
			name:  "rp-id_token-kid-absent-signed-with-enc-key",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, encKey(p)) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), noKid)
			},
			want: sigInvalid,
		},
		{
			name:  "rp-id_token-kid-of-enc-key",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, encKey(p)) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), map[string]any{"kid": "enc1"})
			},
			want: sigInvalid,
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), noKid)
			},
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks-first-key",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.RSA, confClaims(p, n, nil), noKid)
			},
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks-ps256",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("PS256", p.PS, confClaims(p, n, nil), noKid)
			},
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks-es256",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("ES256", p.EC, confClaims(p, n, nil), noKid)
			},
		},
		{
			// Signed by an RSA key that is not published (ps1 is gone and
			// was PS256-only anyway): none of the candidates verifies.
			name:  "rp-id_token-kid-absent-multiple-jwks-none-verifies",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return testprovider.Sign("RS256", p.PS, confClaims(p, n, nil), noKid)
			},
			want: sigInvalid,
		},
		{
			name:  "rp-id_token-kid-absent-multiple-jwks-corrupted",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2, p.PS, p.EC) },
			token: func(p *testprovider.Provider, n string) string {
				return confCorrupt(testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), noKid))
			},
			want: sigInvalid,
		},
		{
			name:  "rp-id_token-kid-wrong-key",
			setup: func(p *testprovider.Provider) { p.SetKeys(p.RSA, p.RSA2) },
			token: func(p *testprovider.Provider, n string) string {
				// Signed by rsa2 but naming rsa1: only rsa1 is a candidate.
				return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), map[string]any{"kid": "rsa1"})
			},
			want: sigInvalid,
		},
	}
	confRunIDCases(t, cases)
}

// TestConformanceKeyRotation: rp-key-rotation-op-sign-key. An unknown kid
// after the provider rotates causes exactly one JWKS fetch, and the token is
// accepted.
func TestConformanceKeyRotation(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, confConfig(p))
	ctx := context.Background()
	jwks := func() int64 { return p.Count(testprovider.PathJWKS) }

	_, err := c.VerifyIDToken(ctx, confRS256(p, "", nil), "")
	require.NoError(t, err)
	require.EqualValues(t, 1, jwks(), "first use loads the JWKS once")

	_, err = c.VerifyIDToken(ctx, confRS256(p, "", nil), "")
	require.NoError(t, err)
	require.EqualValues(t, 1, jwks(), "a known kid needs no fetch")

	// The provider rotates: rsa1 is retired, rsa2 signs.
	p.SetKeys(p.RSA2)
	f := confSignIn(t, p, c, func(n string) string {
		return testprovider.Sign("RS256", p.RSA2, confClaims(p, n, nil), nil)
	})
	confRequireAccepted(t, f)
	require.EqualValues(t, 2, jwks(), "the unknown kid refetched the JWKS exactly once")

	_, err = c.VerifyIDToken(ctx, testprovider.Sign("RS256", p.RSA2, confClaims(p, "", nil), nil), "")
	require.NoError(t, err)
	require.EqualValues(t, 2, jwks(), "the new key is cached")

	// The retired key no longer verifies, and asking for it again is rate
	// limited: no further fetch.
	_, err = c.VerifyIDToken(ctx, confRS256(p, "", nil), "")
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
	require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
	require.EqualValues(t, 2, jwks(), "unknown-kid refetches are rate limited")
}

// TestConformanceKeyRotationAfterInterval: once JWKSUnknownKIDInterval has
// passed, an unknown kid may refetch again (once).
func TestConformanceKeyRotationAfterInterval(t *testing.T) {
	p := testprovider.New(t)
	clock := newFakeClock(confNow)
	cfg := confConfig(p)
	cfg.Now = clock.Now
	cfg.JWKSUnknownKIDInterval = 10 * time.Minute
	c := mkClient(t, cfg)
	ctx := context.Background()
	jwks := func() int64 { return p.Count(testprovider.PathJWKS) }
	sign := func(k *testprovider.Key) string {
		return testprovider.Sign("RS256", k, p.Claims(clock.Now(), ""), nil)
	}

	_, err := c.VerifyIDToken(ctx, sign(p.RSA), "")
	require.NoError(t, err)
	p.SetKeys(p.RSA, p.RSA2)
	_, err = c.VerifyIDToken(ctx, sign(p.RSA2), "")
	require.NoError(t, err, "first unknown kid after a load is always allowed a fetch")
	require.EqualValues(t, 2, jwks())

	// A second rotation within the interval cannot be picked up yet.
	k3 := &testprovider.Key{KID: "rsa3", Alg: "RS256", Private: p.PS.Private}
	p.SetKeys(p.RSA, p.RSA2, k3)
	clock.Advance(9 * time.Minute)
	_, err = c.VerifyIDToken(ctx, sign(k3), "")
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
	require.EqualValues(t, 2, jwks(), "within JWKSUnknownKIDInterval: no fetch")

	clock.Advance(2 * time.Minute)
	_, err = c.VerifyIDToken(ctx, sign(k3), "")
	require.NoError(t, err, "after JWKSUnknownKIDInterval the new key is fetched")
	require.EqualValues(t, 3, jwks())
}

// confFlood verifies n tokens with random kids from workers goroutines and
// returns every result.
func confFlood(c *nextidentity.Client, p *testprovider.Provider, n, workers int) []error {
	toks := make(chan string, n)
	for i := range n {
		toks <- testprovider.Sign("RS256", p.RSA, confClaims(p, "", nil), map[string]any{"kid": fmt.Sprintf("random-%d-%x", i, confNow.UnixNano()+int64(i)*7919)})
	}
	close(toks)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for raw := range toks {
				_, err := c.VerifyIDToken(context.Background(), raw, "")
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

// TestConformanceUnknownKIDFlood: 200 tokens with random kids from 50
// goroutines do not become a flood of JWKS requests (RFC 8725 / DoS).
func TestConformanceUnknownKIDFlood(t *testing.T) {
	const n, workers, maxExtra = 200, 50, 2
	requireAllRejected := func(t *testing.T, errs []error) {
		t.Helper()
		require.Len(t, errs, n)
		for _, err := range errs {
			require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
			require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
		}
	}

	t.Run("warm cache", func(t *testing.T) {
		p := testprovider.New(t)
		c := mkClient(t, confConfig(p))
		_, err := c.VerifyIDToken(context.Background(), confRS256(p, "", nil), "")
		require.NoError(t, err)
		before := p.Count(testprovider.PathJWKS)
		require.EqualValues(t, 1, before)

		requireAllRejected(t, confFlood(c, p, n, workers))
		extra := p.Count(testprovider.PathJWKS) - before
		require.LessOrEqual(t, extra, int64(maxExtra), "%d JWKS fetches for %d unknown kids", extra, n)

		// Good tokens still verify, with no further fetch.
		_, err = c.VerifyIDToken(context.Background(), confRS256(p, "", nil), "")
		require.NoError(t, err)
		require.Equal(t, before+extra, p.Count(testprovider.PathJWKS))
	})

	t.Run("cold cache", func(t *testing.T) {
		p := testprovider.New(t)
		c := mkClient(t, confConfig(p))
		requireAllRejected(t, confFlood(c, p, n, workers))
		require.LessOrEqual(t, p.Count(testprovider.PathJWKS), int64(1+maxExtra))
	})

	t.Run("slow jwks endpoint", func(t *testing.T) {
		// The JWKS endpoint holds every request until the flood is queued on
		// it, so concurrent callers must share fetches rather than each start one.
		p := testprovider.New(t)
		c := mkClient(t, confConfig(p))
		_, err := c.VerifyIDToken(context.Background(), confRS256(p, "", nil), "")
		require.NoError(t, err)
		release := make(chan struct{})
		var releaseOnce sync.Once
		// Runs before the client and provider are closed, even on failure.
		t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
		body := p.JWKS()
		p.Handle(testprovider.PathJWKS, func(w http.ResponseWriter, r *http.Request) {
			<-release
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
		done := make(chan []error, 1)
		go func() { done <- confFlood(c, p, n, workers) }()
		// Wait for the first refetch to arrive, then let it (and any other) go.
		require.Eventually(t, func() bool { return p.Count(testprovider.PathJWKS) >= 2 }, 10*time.Second, time.Millisecond)
		releaseOnce.Do(func() { close(release) })
		requireAllRejected(t, <-done)
		require.LessOrEqual(t, p.Count(testprovider.PathJWKS)-1, int64(maxExtra))
	})
}

// TestConformanceUserInfoSubject: rp-userinfo-bad-sub-claim.
func TestConformanceUserInfoSubject(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, confConfig(p))
	f := confSignIn(t, p, c, func(n string) string { return confRS256(p, n, nil) })
	confRequireAccepted(t, f)

	restored := func() *nextidentity.Token {
		b, err := json.Marshal(f.tok)
		require.NoError(t, err)
		var r nextidentity.Token
		require.NoError(t, json.Unmarshal(b, &r))
		return &r
	}()
	for _, tc := range []struct {
		name string
		body map[string]any
		want error
	}{
		{"rp-userinfo-bad-sub-claim", map[string]any{"sub": "someone-else", "email": "attacker@example.com"}, nextidentity.ErrSubjectMismatch},
		{"rp-userinfo-sub-case-differs", map[string]any{"sub": strings.ToUpper(testprovider.Subject)}, nextidentity.ErrSubjectMismatch},
		{"rp-userinfo-sub-missing", map[string]any{"email": "attacker@example.com"}, nextidentity.ErrMalformedResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.Handle(testprovider.PathUserInfo, func(w http.ResponseWriter, r *http.Request) {
				testprovider.WriteJSON(w, http.StatusOK, tc.body)
			})
			for _, tok := range []*nextidentity.Token{f.tok, restored} {
				ui, err := c.UserInfo(context.Background(), tok)
				require.ErrorIs(t, err, tc.want)
				require.Nil(t, ui)
			}
		})
	}
}

// TestConformanceRefreshedIDToken: a refreshed ID token must keep iss and
// sub (OpenID Connect Core 12.2).
func TestConformanceRefreshedIDToken(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, confConfig(p))
	f := confSignIn(t, p, c, func(n string) string { return confRS256(p, n, nil) })
	confRequireAccepted(t, f)

	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want []error
	}{
		{"refresh-same-subject", func(map[string]any) {}, nil},
		{"refresh-no-nonce", func(cl map[string]any) { delete(cl, "nonce") }, nil},
		{"refresh-sub-differs", func(cl map[string]any) { cl["sub"] = "someone-else" }, []error{nextidentity.ErrSubjectMismatch, nextidentity.ErrInvalidIDToken}},
		{"refresh-iss-differs", func(cl map[string]any) { cl["iss"] = "https://evil.example.com" }, []error{nextidentity.ErrIssuerMismatch, nextidentity.ErrInvalidIDToken}},
		{"refresh-aud-differs", func(cl map[string]any) { cl["aud"] = "other-client" }, []error{nextidentity.ErrAudienceMismatch, nextidentity.ErrInvalidIDToken}},
		{"refresh-expired", func(cl map[string]any) {
			cl["iat"] = confNow.Add(-2 * time.Hour).Unix()
			cl["exp"] = confNow.Add(-time.Hour).Unix()
		}, []error{nextidentity.ErrTokenExpired, nextidentity.ErrInvalidIDToken}},
		{"refresh-bad-signature", nil, []error{nextidentity.ErrInvalidSignature, nextidentity.ErrInvalidIDToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw string
			if tc.edit == nil {
				raw = confCorrupt(confRS256(p, "", nil))
			} else {
				raw = confRS256(p, f.tok.IDToken.Nonce, tc.edit)
			}
			p.Handle(testprovider.PathToken, testprovider.TokenResponse(raw))
			nt, err := c.Refresh(context.Background(), f.tok)
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, testprovider.Subject, nt.IDToken.Subject)
				require.Equal(t, p.Issuer, nt.IDToken.Issuer)
				return
			}
			for _, w := range tc.want {
				require.ErrorIs(t, err, w)
			}
			require.Nil(t, nt, "no token after a rejected refreshed id_token")
		})
	}
}

// TestConformanceDiscoveryIssuer: rp-discovery-issuer-not-matching-config.
func TestConformanceDiscoveryIssuer(t *testing.T) {
	for _, tc := range []struct {
		name string
		iss  func(p *testprovider.Provider) any
		cfg  func(p *testprovider.Provider) string
	}{
		{"rp-discovery-issuer-other-host", func(*testprovider.Provider) any { return "https://evil.example.com" }, nil},
		{"rp-discovery-issuer-trailing-slash", func(p *testprovider.Provider) any { return p.Issuer + "/" }, nil},
		{"rp-discovery-issuer-missing", func(*testprovider.Provider) any { return nil }, nil},
		{"rp-discovery-issuer-not-string", func(p *testprovider.Provider) any { return []string{p.Issuer} }, nil},
		{"rp-discovery-issuer-path-suffix", func(p *testprovider.Provider) any { return p.Issuer + "/tenant" }, nil},
		{"rp-discovery-config-trailing-slash", func(p *testprovider.Provider) any { return p.Issuer }, func(p *testprovider.Provider) string { return p.Issuer + "/" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testprovider.New(t)
			p.Handle(testprovider.PathDiscovery, func(w http.ResponseWriter, r *http.Request) {
				d := p.Discovery()
				if v := tc.iss(p); v == nil {
					delete(d, "issuer")
				} else {
					d["issuer"] = v
				}
				testprovider.WriteJSON(w, http.StatusOK, d)
			})
			cfg := confConfig(p)
			if tc.cfg != nil {
				cfg.Issuer = tc.cfg(p)
			}
			c, err := nextidentity.New(context.Background(), cfg)
			if tc.name == "rp-discovery-issuer-not-string" {
				// An undecodable document is refused as malformed.
				require.ErrorIs(t, err, nextidentity.ErrMalformedResponse)
				require.Nil(t, c)
				require.EqualValues(t, 1, p.Count(testprovider.PathDiscovery))
				return
			}
			require.ErrorIs(t, err, nextidentity.ErrIssuerMismatch)
			require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
			require.NotErrorIs(t, err, nextidentity.ErrInvalidIDToken)
			require.NotErrorIs(t, err, nextidentity.ErrInvalidCallback)
			require.Nil(t, c)
			require.EqualValues(t, 1, p.Count(testprovider.PathDiscovery))
			require.Zero(t, p.Count(testprovider.PathJWKS))
		})
	}
}

// TestConformanceCallback: the authorization response (RFC 9207 iss, state,
// error) is checked before the code is redeemed.
func TestConformanceCallback(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, confConfig(p))
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	other, err := c.AuthCodeURL()
	require.NoError(t, err)
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		testprovider.TokenResponse(confRS256(p, ar.Nonce, nil))(w, r)
	})

	for _, tc := range []struct {
		name string
		cb   url.Values
		want error
	}{
		{"rp-response-iss-mismatch", url.Values{"code": {"c"}, "state": {ar.State}, "iss": {"https://evil.example.com"}}, nextidentity.ErrIssuerMismatch},
		{"rp-response-iss-trailing-slash", url.Values{"code": {"c"}, "state": {ar.State}, "iss": {p.Issuer + "/"}}, nextidentity.ErrIssuerMismatch},
		{"rp-response-iss-empty", url.Values{"code": {"c"}, "state": {ar.State}, "iss": {""}}, nextidentity.ErrIssuerMismatch},
		{"rp-response-iss-twice", url.Values{"code": {"c"}, "state": {ar.State}, "iss": {p.Issuer, "https://evil.example.com"}}, nextidentity.ErrIssuerMismatch},
		{"rp-response-state-missing", url.Values{"code": {"c"}, "iss": {p.Issuer}}, nextidentity.ErrStateMismatch},
		{"rp-response-state-empty", url.Values{"code": {"c"}, "state": {""}}, nextidentity.ErrStateMismatch},
		{"rp-response-state-different", url.Values{"code": {"c"}, "state": {other.State}}, nextidentity.ErrStateMismatch},
		{"rp-response-state-prefix", url.Values{"code": {"c"}, "state": {ar.State[:len(ar.State)-1]}}, nextidentity.ErrStateMismatch},
		{"rp-response-state-twice", url.Values{"code": {"c"}, "state": {ar.State, other.State}}, nextidentity.ErrStateMismatch},
		{"rp-response-error-access_denied", url.Values{"error": {"access_denied"}, "error_description": {"The user denied access"}, "state": {ar.State}}, nextidentity.ErrAccessDenied},
		{"rp-response-error-access_denied-with-code", url.Values{"error": {"access_denied"}, "code": {"c"}, "state": {ar.State}}, nextidentity.ErrAccessDenied},
		{"rp-response-error-access_denied-no-state", url.Values{"error": {"access_denied"}}, nextidentity.ErrAccessDenied},
		{"rp-response-code-missing", url.Values{"state": {ar.State}}, nextidentity.ErrMissingCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := c.Exchange(context.Background(), tc.cb, ar)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, tok)
			require.Zero(t, p.Count(testprovider.PathToken), "no token request")
			require.Zero(t, p.Count(testprovider.PathUserInfo))
		})
	}

	t.Run("rp-response-iss-matching", func(t *testing.T) {
		cb := callbackFor(ar)
		cb.Set("iss", p.Issuer)
		tok, err := c.Exchange(context.Background(), cb, ar)
		require.NoError(t, err)
		require.Equal(t, testprovider.Subject, tok.IDToken.Subject)
	})
}

// TestConformanceClientSecretBasic: rp-token_endpoint-client_secret_basic and
// client_secret_post with secrets that need encoding (RFC 6749 2.3.1).
func TestConformanceClientSecretBasic(t *testing.T) {
	type seen struct {
		authz  string
		form   url.Values
		hasHdr bool
	}
	for _, tc := range []struct {
		name, id, secret string
	}{
		{"colon", "client-1", "s3:cr:t"},
		{"percent", "client-1", "s3cr%t%41%zz"},
		{"plus", "client-1", "s3+cr+t"},
		{"space", "client-1", "s3 cr t "},
		{"non-ascii", "client-1", "sécrét-密码-🔑"},
		{"mixed", "client-1", "s3:cr%t+ é"},
		{"url-reserved", "client-1", "a&b=c?d/e#f;g@h"},
		{"tricky-client-id", "my:client id+é%", "s3:cr%t+ é"},
	} {
		for _, style := range []nextidentity.AuthStyle{nextidentity.AuthStyleBasic, nextidentity.AuthStyleInParams} {
			styleName := map[nextidentity.AuthStyle]string{nextidentity.AuthStyleBasic: "basic", nextidentity.AuthStyleInParams: "post"}[style]
			t.Run("rp-token_endpoint-client_secret_"+styleName+"-"+tc.name, func(t *testing.T) {
				p := testprovider.New(t)
				cfg := confConfig(p)
				cfg.ClientID = tc.id
				cfg.ClientSecret = tc.secret
				cfg.AuthStyle = style
				c := mkClient(t, cfg)
				ar, err := c.AuthCodeURL()
				require.NoError(t, err)

				var (
					mu  sync.Mutex
					got []seen
				)
				p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
					_ = r.ParseForm()
					mu.Lock()
					got = append(got, seen{authz: r.Header.Get("Authorization"), form: r.PostForm, hasHdr: len(r.Header.Values("Authorization")) > 0})
					mu.Unlock()
					raw := confRS256(p, ar.Nonce, func(cl map[string]any) { cl["aud"] = tc.id })
					testprovider.TokenResponse(raw)(w, r)
				})
				tok, err := c.Exchange(context.Background(), callbackFor(ar), ar)
				require.NoError(t, err)
				require.NotNil(t, tok)

				mu.Lock()
				defer mu.Unlock()
				require.Len(t, got, 1)
				s := got[0]
				switch style {
				case nextidentity.AuthStyleBasic:
					require.True(t, strings.HasPrefix(s.authz, "Basic "), "Authorization %q", s.authz)
					dec, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s.authz, "Basic "))
					require.NoError(t, err)
					parts := strings.Split(string(dec), ":")
					require.Len(t, parts, 2, "the form-encoded id and secret contain no raw ':' (%q)", dec)
					for _, part := range parts {
						for _, r := range part {
							require.True(t, r < 0x80 && r != ' ', "raw %q in form-encoded credential %q", r, part)
						}
					}
					id, err := url.QueryUnescape(parts[0])
					require.NoError(t, err)
					secret, err := url.QueryUnescape(parts[1])
					require.NoError(t, err)
					require.Equal(t, tc.id, id)
					require.Equal(t, tc.secret, secret)
					require.NotContains(t, s.form, "client_secret", "the secret is sent once, in the header")
				case nextidentity.AuthStyleInParams:
					require.False(t, s.hasHdr, "no Authorization header with client_secret_post")
					require.Equal(t, []string{tc.id}, s.form["client_id"])
					require.Equal(t, []string{tc.secret}, s.form["client_secret"])
				}
				require.Equal(t, []string{"authorization_code"}, s.form["grant_type"])
				require.Equal(t, []string{ar.CodeVerifier}, s.form["code_verifier"])
			})
		}
	}
}
