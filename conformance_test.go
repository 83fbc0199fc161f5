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
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

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
