package nextidentitytest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

const (
	bodyInvalidRequest = `{"stat":"error","error":"invalid_request"}`
	bodyUnauthorized   = `{"error":"http_exception","error_details":{"message":"Unauthorized"}}`
)

func TestCodeExchange(t *testing.T) {
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
	p := newPKCE(t)
	q := login(t, srv, p, map[string]string{"access_type": "offline"})
	clk.Advance(5 * time.Second)

	r := postForm(t, srv, "/token", codeForm(q.Get("code"), p), basic("test-client", "test-secret"))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	var tk tokens
	require.NoError(t, json.Unmarshal([]byte(r.body), &tk))
	require.Regexp(t, `^[a-z0-9]{16}$`, tk.AccessToken)
	require.Regexp(t, `^[a-z0-9]{20}$`, tk.RefreshToken)
	require.Equal(t, "Bearer", tk.TokenType)
	require.Equal(t, 3600, tk.ExpiresIn)
	require.Equal(t, "openid profile email", tk.Scope)

	h, c := verify(t, srv, tk.IDToken)
	require.Equal(t, "RS256", h["alg"])
	require.NotEmpty(t, h["kid"])
	require.NotContains(t, h, "typ")

	now := clk.Now().Unix()
	sum := sha256.Sum256([]byte(tk.AccessToken))
	require.Equal(t, map[string]any{
		"iss":            srv.Issuer(),
		"sub":            nextidentitytest.DefaultUserSubject,
		"aud":            "test-client",
		"iat":            float64(now),
		"exp":            float64(now + 14*24*3600),
		"auth_time":      float64(now - 5),
		"nonce":          "n-456",
		"at_hash":        base64.RawURLEncoding.EncodeToString(sum[:16]),
		"name":           "Jane Doe",
		"given_name":     "Jane",
		"family_name":    "Doe",
		"email":          "jane@example.com",
		"email_verified": true,
		"locale":         "en-US",
		"updated_at":     "2021-01-07 20:44:35.176625 +0000",
		"membership":     "gold",
	}, map[string]any(c))
}

func TestIDTokenLifetimeAndNoNonce(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{IDTokenLifetime: time.Hour, IssuerTrailingSlash: true})
	p := newPKCE(t)
	tk := exchange(t, srv, login(t, srv, p, map[string]string{"nonce": ""}).Get("code"), p)
	_, c := verify(t, srv, tk.IDToken)
	require.NotContains(t, c, "nonce")
	require.Equal(t, c["iat"].(float64)+3600, c["exp"])
	require.Equal(t, srv.Issuer(), c["iss"])
	require.Equal(t, srv.URL+"/", c["iss"])
}

func TestCodeIsOneTimeAndReplayRevokesTokens(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	code := login(t, srv, p, nil).Get("code")
	tk := exchange(t, srv, code, p)
	require.Equal(t, http.StatusOK, userInfo(t, srv, http.MethodGet, "Bearer "+tk.AccessToken).status)

	r := postForm(t, srv, "/token", codeForm(code, p), basic("test-client", "test-secret"))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, `{"error":"invalid_grant","error_description":"The authorization code has already been used."}`, r.body)

	// Tokens issued from the replayed code are revoked.
	r = userInfo(t, srv, http.MethodGet, "Bearer "+tk.AccessToken)
	require.Equal(t, http.StatusUnauthorized, r.status)
	r = postForm(t, srv, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.RefreshToken}}, basic("test-client", "test-secret"))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, `{"error":"invalid_grant","error_description":"The refresh token is invalid."}`, r.body)
}

func TestTokenErrors(t *testing.T) {
	other := nextidentitytest.Client{ID: "other", Secret: "other-secret", RedirectURIs: []string{nextidentitytest.DefaultRedirectURI}}
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now, Clients: []nextidentitytest.Client{nextidentitytest.DefaultClient(), other}})
	auth := basic("test-client", "test-secret")
	invalidGrant := func(desc string) string {
		return `{"error":"invalid_grant","error_description":"` + desc + `"}`
	}
	invalidClient := func(desc string) string {
		return `{"error":"invalid_client","error_description":"` + desc + `"}`
	}

	for _, tc := range []struct {
		name       string
		form       func(code string, p pkce) url.Values
		auth       func(*http.Request)
		before     func()
		wantStatus int
		wantBody   string
	}{
		{
			name:       "no grant_type",
			form:       func(c string, p pkce) url.Values { f := codeForm(c, p); f.Del("grant_type"); return f },
			auth:       auth,
			wantStatus: 400, wantBody: bodyInvalidRequest,
		},
		{
			name:       "no code",
			form:       func(c string, p pkce) url.Values { f := codeForm(c, p); f.Del("code"); return f },
			auth:       auth,
			wantStatus: 400, wantBody: bodyInvalidRequest,
		},
		{
			name:       "no redirect_uri",
			form:       func(c string, p pkce) url.Values { f := codeForm(c, p); f.Del("redirect_uri"); return f },
			auth:       auth,
			wantStatus: 400, wantBody: bodyInvalidRequest,
		},
		{
			name:       "no code_verifier",
			form:       func(c string, p pkce) url.Values { f := codeForm(c, p); f.Del("code_verifier"); return f },
			auth:       auth,
			wantStatus: 400, wantBody: bodyInvalidRequest,
		},
		{
			name:       "no client at all",
			form:       codeForm,
			wantStatus: 400, wantBody: bodyInvalidRequest,
		},
		{
			name:       "unsupported grant_type",
			form:       func(c string, p pkce) url.Values { f := codeForm(c, p); f.Set("grant_type", "password"); return f },
			auth:       auth,
			wantStatus: 400, wantBody: `{"error":"unsupported_grant_type","error_description":"The grant_type password is not supported."}`,
		},
		{
			name:       "unknown code",
			form:       func(_ string, p pkce) url.Values { return codeForm("abcdefghijklmn", p) },
			auth:       auth,
			wantStatus: 400, wantBody: invalidGrant("The authorization code is invalid."),
		},
		{
			name:       "PKCE mismatch",
			form:       func(c string, _ pkce) url.Values { return codeForm(c, newPKCE(t)) },
			auth:       auth,
			wantStatus: 400, wantBody: invalidGrant("PKCE verification failed: the code_verifier does not match the code_challenge."),
		},
		{
			name:       "malformed verifier",
			form:       func(c string, _ pkce) url.Values { return codeForm(c, pkce{verifier: "short"}) },
			auth:       auth,
			wantStatus: 400, wantBody: invalidGrant("PKCE verification failed: the code_verifier does not match the code_challenge."),
		},
		{
			name: "redirect_uri mismatch",
			form: func(c string, p pkce) url.Values {
				f := codeForm(c, p)
				f.Set("redirect_uri", "http://127.0.0.1/callback/")
				return f
			},
			auth:       auth,
			wantStatus: 400, wantBody: invalidGrant("The redirect_uri does not match the authorization request."),
		},
		{
			name:       "code of another client",
			form:       codeForm,
			auth:       basic("other", "other-secret"),
			wantStatus: 400, wantBody: invalidGrant("The authorization code was issued to another client."),
		},
		{
			name:       "expired code",
			form:       codeForm,
			auth:       auth,
			before:     func() { clk.Advance(nextidentitytest.CodeLifetime) },
			wantStatus: 400, wantBody: invalidGrant("The authorization code has expired."),
		},
		{
			name:       "wrong secret",
			form:       codeForm,
			auth:       basic("test-client", "wrong"),
			wantStatus: 401, wantBody: invalidClient("Client authentication failed: wrong client secret."),
		},
		{
			name:       "unknown client",
			form:       codeForm,
			auth:       basic("nobody", "x"),
			wantStatus: 401, wantBody: invalidClient("Client authentication failed: unknown client."),
		},
		{
			name: "confidential client without secret",
			form: func(c string, p pkce) url.Values {
				f := codeForm(c, p)
				f.Set("client_id", "test-client")
				return f
			},
			wantStatus: 401, wantBody: invalidClient("Client authentication is required for confidential clients."),
		},
		{
			name: "wrong client_secret in body",
			form: func(c string, p pkce) url.Values {
				f := codeForm(c, p)
				f.Set("client_id", "test-client")
				f.Set("client_secret", "wrong")
				return f
			},
			wantStatus: 401, wantBody: invalidClient("Client authentication failed: wrong client secret."),
		},
		{
			name: "Basic and client_secret both",
			form: func(c string, p pkce) url.Values {
				f := codeForm(c, p)
				f.Set("client_secret", "test-secret")
				return f
			},
			auth:       auth,
			wantStatus: 400, wantBody: bodyInvalidRequest,
		},
		{
			name: "client_id differs from Basic",
			form: func(c string, p pkce) url.Values {
				f := codeForm(c, p)
				f.Set("client_id", "other")
				return f
			},
			auth:       auth,
			wantStatus: 401, wantBody: invalidClient("The client_id parameter does not match the authenticated client."),
		},
		{
			name:       "Basic not form-encoded",
			form:       codeForm,
			auth:       func(r *http.Request) { r.SetBasicAuth("test-client", "100%") },
			wantStatus: 401, wantBody: invalidClient("The client credentials in the Authorization header are not form-URL-encoded."),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKCE(t)
			code := login(t, srv, p, nil).Get("code")
			if tc.before != nil {
				tc.before()
			}
			r := postForm(t, srv, "/token", tc.form(code, p), tc.auth)
			require.Equal(t, tc.wantStatus, r.status)
			require.Equal(t, tc.wantBody, r.body)
			require.Equal(t, "application/json", r.header.Get("Content-Type"))
			if tc.wantStatus == 401 && tc.auth != nil {
				require.Equal(t, `Basic realm="nextidentity"`, r.header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("GET", func(t *testing.T) {
		r := get(t, srv, srv.URL+"/token")
		require.Equal(t, http.StatusMethodNotAllowed, r.status)
		require.Equal(t, bodyInvalidRequest, r.body)
	})
}

func TestClientSecretEncoding(t *testing.T) {
	const id, secret = "app:one%+é", "s3:cr%et+with é & = ü"
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{
		{ID: id, Secret: secret, RedirectURIs: []string{nextidentitytest.DefaultRedirectURI}},
	}})
	for _, tc := range []struct {
		name   string
		auth   func(*http.Request)
		body   url.Values
		status int
	}{
		{"basic form-encoded", basic(id, secret), nil, http.StatusOK},
		{"basic raw secret", func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), secret) }, nil, http.StatusUnauthorized},
		{"basic percent-encoded space", func(r *http.Request) {
			r.SetBasicAuth(url.QueryEscape(id), strings.ReplaceAll(url.QueryEscape(secret), "+", "%20")) // %20 for space decodes too
		}, nil, http.StatusOK},
		{"client_secret_post", nil, url.Values{"client_id": {id}, "client_secret": {secret}}, http.StatusOK},
		{"client_secret_post wrong", nil, url.Values{"client_id": {id}, "client_secret": {secret + "x"}}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPKCE(t)
			v := authParams(p, map[string]string{"client_id": id})
			q, err := srv.Login(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, v), "jane@example.com", "password")
			require.NoError(t, err)
			form := codeForm(q.Get("code"), p)
			for k, vs := range tc.body {
				form[k] = vs
			}
			r := postForm(t, srv, "/token", form, tc.auth)
			require.Equal(t, tc.status, r.status, r.body)
			if tc.status == http.StatusOK {
				var tk tokens
				require.NoError(t, json.Unmarshal([]byte(r.body), &tk))
				_, c := verify(t, srv, tk.IDToken)
				require.Equal(t, id, c["aud"])
			}
		})
	}
}

func TestPublicClient(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{
		SigningAlg: "HS256",
		Clients:    []nextidentitytest.Client{{ID: "spa", RedirectURIs: []string{"http://127.0.0.1:3000/cb"}}},
	})
	p := newPKCE(t)
	v := authParams(p, map[string]string{"client_id": "spa", "redirect_uri": "http://127.0.0.1:3000/cb"})
	q, err := srv.Login(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, v), "jane@example.com", "password")
	require.NoError(t, err)

	form := codeForm(q.Get("code"), p)
	form.Set("redirect_uri", "http://127.0.0.1:3000/cb")
	form.Set("client_id", "spa")
	r := postForm(t, srv, "/token", form, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var tk tokens
	require.NoError(t, json.Unmarshal([]byte(r.body), &tk))
	h, _ := verify(t, srv, tk.IDToken)
	require.Equal(t, "RS256", h["alg"], "HS256 needs a secret: public clients get RS256")

	form.Set("client_secret", "guess")
	r = postForm(t, srv, "/token", form, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
}

func TestHS256HasNoKid(t *testing.T) {
	for _, runtime := range []bool{false, true} {
		opts := nextidentitytest.Options{SigningAlg: "HS256"}
		if runtime {
			opts.SigningAlg = ""
		}
		srv := newServer(t, opts)
		if runtime {
			srv.SetSigningAlg("HS256")
		}
		p := newPKCE(t)
		tk := exchange(t, srv, login(t, srv, p, nil).Get("code"), p)
		h, c := verifyHS256(t, tk.IDToken, "test-secret")
		require.Equal(t, map[string]any{"alg": "HS256"}, h)
		require.Equal(t, "2021-01-07 20:44:35.176625 +0000", c["updated_at"])
	}
}

func TestES256(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{SigningAlg: "ES256"})
	p := newPKCE(t)
	tk := exchange(t, srv, login(t, srv, p, nil).Get("code"), p)
	h, _ := verify(t, srv, tk.IDToken)
	require.Equal(t, "ES256", h["alg"])
	require.Contains(t, srv.KeyIDs(), h["kid"])
}

func TestRefresh(t *testing.T) {
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
	p := newPKCE(t)
	first := exchange(t, srv, login(t, srv, p, nil).Get("code"), p)
	_, firstClaims := verify(t, srv, first.IDToken)
	clk.Advance(2 * time.Hour) // the access token has expired; the refresh token has not

	auth := basic("test-client", "test-secret")
	refresh := func(rt string, extra url.Values) response {
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		for k, v := range extra {
			f[k] = v
		}
		return postForm(t, srv, "/token", f, auth)
	}
	r := refresh(first.RefreshToken, nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	var second tokens
	require.NoError(t, json.Unmarshal([]byte(r.body), &second))
	require.Regexp(t, `^[a-z0-9]{16}$`, second.AccessToken)
	require.Regexp(t, `^[a-z0-9]{20}$`, second.RefreshToken)
	require.NotEqual(t, first.AccessToken, second.AccessToken)
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)
	_, c := verify(t, srv, second.IDToken)
	require.Equal(t, firstClaims["sub"], c["sub"])
	require.Equal(t, firstClaims["auth_time"], c["auth_time"])
	require.NotContains(t, c, "nonce")
	require.Equal(t, float64(clk.Now().Unix()), c["iat"])

	require.Equal(t, http.StatusUnauthorized, userInfo(t, srv, http.MethodGet, "Bearer "+first.AccessToken).status)
	require.Equal(t, http.StatusOK, userInfo(t, srv, http.MethodGet, "Bearer "+second.AccessToken).status)

	// Rotation: the old refresh token is spent.
	r = refresh(first.RefreshToken, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, `{"error":"invalid_grant","error_description":"The refresh token is invalid."}`, r.body)
	r = refresh("unknownunknownunknow", nil)
	require.Equal(t, `{"error":"invalid_grant","error_description":"The refresh token is invalid."}`, r.body)
	r = refresh("", nil)
	require.Equal(t, bodyInvalidRequest, r.body)

	// Narrowing the scope is allowed, widening it is not.
	r = refresh(second.RefreshToken, url.Values{"scope": {"openid phone"}})
	require.Equal(t, `{"error":"invalid_scope","error_description":"The scope phone was not granted."}`, r.body)
	r = refresh(second.RefreshToken, url.Values{"scope": {"openid email"}})
	require.Equal(t, http.StatusOK, r.status)
	var third tokens
	require.NoError(t, json.Unmarshal([]byte(r.body), &third))
	require.Equal(t, "openid email", third.Scope)
}
