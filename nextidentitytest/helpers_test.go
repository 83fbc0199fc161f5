package nextidentitytest_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// newServer starts a server closed at the end of the test.
func newServer(t testing.TB, opts nextidentitytest.Options) *nextidentitytest.Server {
	t.Helper()
	srv := nextidentitytest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pkce is a code verifier and its S256 challenge.
type pkce struct{ verifier, challenge string }

func newPKCE(t testing.TB) pkce {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	v := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(v))
	return pkce{v, base64.RawURLEncoding.EncodeToString(h[:])}
}

// authParams returns valid authorization parameters for the default client;
// edit changes them (an empty value deletes the parameter).
func authParams(p pkce, edit map[string]string) url.Values {
	v := url.Values{
		"response_type":         {"code"},
		"client_id":             {nextidentitytest.DefaultClientID},
		"redirect_uri":          {nextidentitytest.DefaultRedirectURI},
		"scope":                 {"openid profile email"},
		"state":                 {"st-123"},
		"nonce":                 {"n-456"},
		"code_challenge":        {p.challenge},
		"code_challenge_method": {"S256"},
	}
	for k, val := range edit {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return v
}

func authURL(srv *nextidentitytest.Server, e nextidentitytest.Endpoint, v url.Values) string {
	return srv.URL + string(e) + "?" + v.Encode()
}

// rawClient never follows redirects and keeps no cookies.
func rawClient(srv *nextidentitytest.Server) *http.Client {
	c := srv.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, c *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func get(t testing.TB, srv *nextidentitytest.Server, u string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return do(t, rawClient(srv), req)
}

func postForm(t testing.TB, srv *nextidentitytest.Server, path string, form url.Values, edit func(*http.Request)) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return do(t, rawClient(srv), req)
}

// basic sets RFC 6749 section 2.3.1 client credentials.
func basic(id, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
}

// login signs the default user in and returns the callback query.
func login(t testing.TB, srv *nextidentitytest.Server, p pkce, edit map[string]string) url.Values {
	t.Helper()
	q, err := srv.Login(context.Background(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, edit)),
		nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"), "callback: %v", q)
	return q
}

func codeForm(code string, p pkce) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {nextidentitytest.DefaultRedirectURI},
		"code_verifier": {p.verifier},
	}
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// exchange redeems code for the default client with Basic authentication.
func exchange(t testing.TB, srv *nextidentitytest.Server, code string, p pkce) tokens {
	t.Helper()
	r := postForm(t, srv, "/token", codeForm(code, p), basic(nextidentitytest.DefaultClientID, nextidentitytest.DefaultClientSecret))
	require.Equal(t, http.StatusOK, r.status, r.body)
	var tk tokens
	require.NoError(t, json.Unmarshal([]byte(r.body), &tk))
	return tk
}

// verify checks an ID token's signature against the server's JWKS (parsed by
// a third-party JWKS library) and returns its header and claims.
func verify(t testing.TB, srv *nextidentitytest.Server, raw string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	r := get(t, srv, srv.URL+"/jwks")
	require.Equal(t, http.StatusOK, r.status)
	var set jwkset.JWKSMarshal
	require.NoError(t, json.Unmarshal([]byte(r.body), &set))
	keys, err := set.JWKSlice()
	require.NoError(t, err)
	keyFunc := func(tok *jwt.Token) (any, error) {
		for _, k := range keys {
			if m := k.Marshal(); m.KID == tok.Header["kid"] && string(m.ALG) == tok.Method.Alg() {
				return k.Key(), nil
			}
		}
		return nil, errors.New("no such key in the JWKS")
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, keyFunc, jwt.WithoutClaimsValidation())
	require.NoError(t, err)
	return tok.Header, claims
}

// verifyHS256 checks an HMAC ID token with the client secret.
func verifyHS256(t testing.TB, raw, secret string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
	require.NoError(t, err)
	return tok.Header, claims
}

func userInfo(t testing.TB, srv *nextidentitytest.Server, method, authorization string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/userinfo", nil)
	require.NoError(t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return do(t, rawClient(srv), req)
}

// location parses a redirect response's Location.
func location(t testing.TB, r response) *url.URL {
	t.Helper()
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, r.status, r.body)
	u, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	return u
}
