package nextidentity_test

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
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// Shared set-up of the conformance tests (conformance_*_test.go): a fixed
// clock, hand-built JWSs and the sign-in flow they drive.

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
