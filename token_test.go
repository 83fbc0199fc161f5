package nextidentity_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// tokenServer answers the token endpoint with a fresh RS256 ID token for
// claims (edited per call) and records each request's form and Basic auth.
type tokenServer struct {
	p      *testprovider.Provider
	mu     sync.Mutex
	forms  []url.Values
	basic  [][2]string
	claims func(url.Values) map[string]any
	resp   func(idToken string) map[string]any
}

func newTokenServer(p *testprovider.Provider) *tokenServer {
	ts := &tokenServer{p: p}
	ts.resp = func(idt string) map[string]any {
		return map[string]any{
			"access_token": "rb5bzkygqs5ahevp", "token_type": "Bearer",
			"refresh_token": "h4zakujpack6qtfbyy8r", "expires_in": 3600, "id_token": idt,
		}
	}
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, _ := r.BasicAuth()
		ts.mu.Lock()
		ts.forms = append(ts.forms, r.PostForm)
		ts.basic = append(ts.basic, [2]string{id, secret})
		claimsFn := ts.claims
		ts.mu.Unlock()
		idt := ""
		if claimsFn != nil {
			idt = testprovider.Sign("RS256", p.RSA, claimsFn(r.PostForm), nil)
		}
		testprovider.WriteJSON(w, http.StatusOK, ts.resp(idt))
	})
	return ts
}

func (ts *tokenServer) lastForm() url.Values {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.forms[len(ts.forms)-1]
}

func (ts *tokenServer) lastBasic() [2]string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.basic[len(ts.basic)-1]
}

func callbackFor(ar *nextidentity.AuthRequest) url.Values {
	return url.Values{"code": {"abcdefghijklmn"}, "state": {ar.State}}
}

func TestExchange(t *testing.T) {
	p := testprovider.New(t)
	ts := newTokenServer(p)
	c := mkClient(t, mkConfig(p))
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	ts.claims = func(url.Values) map[string]any {
		cl := p.Claims(time.Now(), ar.Nonce)
		cl["at_hash"] = testprovider.AtHash("rb5bzkygqs5ahevp")
		return cl
	}
	cb := callbackFor(ar)
	cb.Set("iss", p.Issuer)
	before := time.Now()
	tok, err := c.Exchange(context.Background(), cb, ar)
	require.NoError(t, err)

	form := ts.lastForm()
	require.Equal(t, "authorization_code", form.Get("grant_type"))
	require.Equal(t, "abcdefghijklmn", form.Get("code"))
	require.Equal(t, "http://127.0.0.1:9999/callback", form.Get("redirect_uri"))
	require.Equal(t, ar.CodeVerifier, form.Get("code_verifier"))
	require.Equal(t, p.ClientID, form.Get("client_id"))
	require.Empty(t, form.Get("client_secret"), "Basic is the default")
	require.Equal(t, [2]string{p.ClientID, p.Secret}, ts.lastBasic())

	require.Equal(t, "rb5bzkygqs5ahevp", tok.AccessToken)
	require.Equal(t, "Bearer", tok.TokenType)
	require.Equal(t, "h4zakujpack6qtfbyy8r", tok.RefreshToken)
	require.WithinDuration(t, before.Add(time.Hour), tok.Expiry, 5*time.Second)
	require.True(t, tok.Valid())
	require.Equal(t, "b30647ef-7f03-4ce1-ae91-9476e49d0605", tok.IDToken.Subject)
	require.Equal(t, ar.Nonce, tok.IDToken.Nonce)

	o := tok.OAuth2()
	require.Equal(t, tok.AccessToken, o.AccessToken)
	require.Equal(t, tok.RawIDToken, o.Extra("id_token"))
}

func TestExchangeChecksCallbackBeforeAnyRequest(t *testing.T) {
	p := testprovider.New(t)
	newTokenServer(p)
	c := mkClient(t, mkConfig(p))
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		cb   url.Values
		req  *nextidentity.AuthRequest
		want error
	}{
		{"provider error", url.Values{"error": {"access_denied"}, "error_description": {"user cancelled"}, "state": {ar.State}}, ar, nextidentity.ErrAccessDenied},
		{"login required", url.Values{"error": {"login_required"}, "state": {ar.State}}, ar, nextidentity.ErrLoginRequired},
		{"no state", url.Values{"code": {"x"}}, ar, nextidentity.ErrStateMismatch},
		{"other state", url.Values{"code": {"x"}, "state": {"forged"}}, ar, nextidentity.ErrStateMismatch},
		{"two states", url.Values{"code": {"x"}, "state": {ar.State, "forged"}}, ar, nextidentity.ErrStateMismatch},
		{"nil request", url.Values{"code": {"x"}, "state": {ar.State}}, nil, nextidentity.ErrIncompleteAuthRequest},
		{"empty stored state", url.Values{"code": {"x"}, "state": {""}}, &nextidentity.AuthRequest{}, nextidentity.ErrIncompleteAuthRequest},
		{"stored request without nonce", url.Values{"code": {"x"}, "state": {ar.State}}, &nextidentity.AuthRequest{State: ar.State, CodeVerifier: ar.CodeVerifier}, nextidentity.ErrIncompleteAuthRequest},
		{"stored request without verifier", url.Values{"code": {"x"}, "state": {ar.State}}, &nextidentity.AuthRequest{State: ar.State, Nonce: ar.Nonce}, nextidentity.ErrIncompleteAuthRequest},
		{"other iss", url.Values{"code": {"x"}, "state": {ar.State}, "iss": {"https://evil.example.com"}}, ar, nextidentity.ErrIssuerMismatch},
		{"iss with slash", url.Values{"code": {"x"}, "state": {ar.State}, "iss": {p.Issuer + "/"}}, ar, nextidentity.ErrIssuerMismatch},
		{"no code", url.Values{"state": {ar.State}}, ar, nextidentity.ErrMissingCode},
		{"empty code", url.Values{"code": {""}, "state": {ar.State}}, ar, nextidentity.ErrMissingCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := c.Exchange(context.Background(), tc.cb, tc.req)
			require.ErrorIs(t, err, tc.want)
			var pe *nextidentity.Error
			switch {
			case errors.As(err, &pe):
				require.ErrorIs(t, err, nextidentity.ErrProvider)
				require.NotErrorIs(t, err, nextidentity.ErrInvalidCallback)
			case errors.Is(err, nextidentity.ErrIncompleteAuthRequest):
				require.NotErrorIs(t, err, nextidentity.ErrInvalidCallback, "the app's stored request, not the browser's callback")
			default:
				require.ErrorIs(t, err, nextidentity.ErrInvalidCallback)
				require.NotErrorIs(t, err, nextidentity.ErrProvider)
			}
			require.NotErrorIs(t, err, nextidentity.ErrInvalidIDToken)
			require.Nil(t, tok)
		})
	}
	require.Zero(t, p.Count(testprovider.PathToken))

	_, err = c.Exchange(context.Background(), url.Values{"error": {"access_denied"}, "error_description": {"user cancelled"}}, ar)
	var pe *nextidentity.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "authorize", pe.Endpoint)
	require.Equal(t, "user cancelled", pe.Description)
}

func TestExchangeRequiresIDToken(t *testing.T) {
	p := testprovider.New(t)
	newTokenServer(p) // no claims: empty id_token
	c := mkClient(t, mkConfig(p))
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	_, err = c.Exchange(context.Background(), callbackFor(ar), ar)
	require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
}

func TestClientAuthentication(t *testing.T) {
	p := testprovider.New(t)
	ts := newTokenServer(p)
	for _, tc := range []struct {
		name       string
		secret     string
		style      nextidentity.AuthStyle
		wantBasic  [2]string
		wantSecret string
	}{
		{"basic", "s3cret", nextidentity.AuthStyleBasic, [2]string{"client-1", "s3cret"}, ""},
		{"basic encodes reserved characters", "a:b%c+d é", nextidentity.AuthStyleBasic, [2]string{"client-1", "a%3Ab%25c%2Bd+%C3%A9"}, ""},
		{"in params", "a:b%c+d é", nextidentity.AuthStyleInParams, [2]string{}, "a:b%c+d é"},
		{"public client", "", nextidentity.AuthStyleBasic, [2]string{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mkConfig(p)
			cfg.ClientSecret = tc.secret
			cfg.AuthStyle = tc.style
			c := mkClient(t, cfg)
			ar, err := c.AuthCodeURL()
			require.NoError(t, err)
			ts.claims = func(url.Values) map[string]any { return p.Claims(time.Now(), ar.Nonce) }
			_, err = c.Exchange(context.Background(), callbackFor(ar), ar)
			require.NoError(t, err)
			require.Equal(t, tc.wantBasic, ts.lastBasic())
			require.Equal(t, tc.wantSecret, ts.lastForm().Get("client_secret"))
			require.Equal(t, "client-1", ts.lastForm().Get("client_id"))
			if tc.wantBasic[1] != "" {
				dec, err := url.QueryUnescape(tc.wantBasic[1])
				require.NoError(t, err)
				require.Equal(t, tc.secret, dec, "RFC 6749 2.3.1 decoding gives the secret back")
			}
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, mkConfig(p))
	for _, tc := range []struct {
		name   string
		status int
		ctype  string
		body   string
		want   []error
		code   string
	}{
		{"invalid_grant", 400, "application/json", `{"error":"invalid_grant","error_description":"code reused"}`, []error{nextidentity.ErrInvalidGrant}, "invalid_grant"},
		{"invalid_client", 401, "application/json", `{"error":"invalid_client"}`, []error{nextidentity.ErrInvalidClient, nextidentity.ErrUnauthorized}, "invalid_client"},
		{"stat error 400", 400, "application/json", `{"stat":"error","error":"invalid_request"}`, []error{nextidentity.ErrInvalidRequest}, "invalid_request"},
		{"stat error 200", 200, "application/json", `{"stat":"error","error":"invalid_request"}`, []error{nextidentity.ErrInvalidRequest}, "invalid_request"},
		{"html 502", 502, "text/html", `<html><body>Bad Gateway</body></html>`, []error{nextidentity.ErrMalformedResponse}, ""},
		{"json lie", 200, "application/json", `<html>`, []error{nextidentity.ErrMalformedResponse}, ""},
		{"no access token", 200, "application/json", `{"token_type":"Bearer"}`, []error{nextidentity.ErrMalformedResponse}, ""},
		{"redirect not followed", 302, "text/html", ``, []error{nextidentity.ErrMalformedResponse}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 302 {
					w.Header().Set("Location", "http://127.0.0.2:1/steal")
				}
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			ar, err := c.AuthCodeURL()
			require.NoError(t, err)
			_, err = c.Exchange(context.Background(), callbackFor(ar), ar)
			for _, want := range tc.want {
				require.ErrorIs(t, err, want)
			}
			var pe *nextidentity.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tc.status, pe.StatusCode)
			require.Equal(t, tc.code, pe.Code)
			require.Equal(t, "token", pe.Endpoint)
		})
	}
}

func TestRefresh(t *testing.T) {
	p := testprovider.New(t)
	ts := newTokenServer(p)
	c := mkClient(t, mkConfig(p))
	old := &nextidentity.Token{AccessToken: "old", RefreshToken: "r-old"}

	// No id_token, no refresh_token in the response: keep the old refresh token.
	ts.resp = func(string) map[string]any {
		return map[string]any{"access_token": "new", "token_type": "bearer", "expires_in": "60"}
	}
	nt, err := c.Refresh(context.Background(), old)
	require.NoError(t, err)
	require.Equal(t, "new", nt.AccessToken)
	require.Equal(t, "r-old", nt.RefreshToken)
	require.WithinDuration(t, time.Now().Add(time.Minute), nt.Expiry, 5*time.Second)
	require.Equal(t, "refresh_token", ts.lastForm().Get("grant_type"))
	require.Equal(t, "r-old", ts.lastForm().Get("refresh_token"))

	_, err = c.Refresh(context.Background(), &nextidentity.Token{AccessToken: "x"})
	require.ErrorIs(t, err, nextidentity.ErrNoRefreshToken)
}

func TestRefreshVerifiesIDToken(t *testing.T) {
	p := testprovider.New(t)
	ts := newTokenServer(p)
	c := mkClient(t, mkConfig(p))
	ar, err := c.AuthCodeURL()
	require.NoError(t, err)
	ts.claims = func(url.Values) map[string]any { return p.Claims(time.Now(), ar.Nonce) }
	first, err := c.Exchange(context.Background(), callbackFor(ar), ar)
	require.NoError(t, err)

	// The same subject, a nonce present (tolerated), none required.
	second, err := c.Refresh(context.Background(), first)
	require.NoError(t, err)
	require.Equal(t, first.IDToken.Subject, second.IDToken.Subject)
	require.NotSame(t, first.IDToken, second.IDToken)

	// Restored by a store that kept only the raw ID token: sub comes from
	// RawIDToken.
	restored := *first
	restored.IDToken = nil

	ts.claims = func(url.Values) map[string]any {
		cl := p.Claims(time.Now(), "")
		cl["sub"] = "someone-else"
		return cl
	}
	for _, tok := range []*nextidentity.Token{first, &restored} {
		_, err = c.Refresh(context.Background(), tok)
		require.ErrorIs(t, err, nextidentity.ErrSubjectMismatch)
		require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
	}

	ts.claims = func(url.Values) map[string]any {
		cl := p.Claims(time.Now(), "")
		cl["exp"] = time.Now().Add(-time.Hour).Unix()
		return cl
	}
	_, err = c.Refresh(context.Background(), first)
	require.ErrorIs(t, err, nextidentity.ErrTokenExpired)

	// A session restored from another tenant's token: same sub, other iss.
	// The refreshed token is valid for this client, but it is not the same
	// identity.
	ts.claims = func(url.Values) map[string]any { return p.Claims(time.Now(), "") }
	other := p.Claims(time.Now(), "")
	other["iss"] = "https://other-tenant.example.com"
	foreign := &nextidentity.Token{AccessToken: "a", RefreshToken: "r", RawIDToken: testprovider.Sign("RS256", p.RSA, other, nil)}
	_, err = c.Refresh(context.Background(), foreign)
	require.ErrorIs(t, err, nextidentity.ErrIssuerMismatch)
	require.NotErrorIs(t, err, nextidentity.ErrSubjectMismatch)
}

func TestTokenSourceRefreshesOnceUnderConcurrency(t *testing.T) {
	p := testprovider.New(t)
	var calls atomic.Int32
	release := make(chan struct{})
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "fresh", "token_type": "Bearer", "refresh_token": "r2", "expires_in": 3600})
	})
	c := mkClient(t, mkConfig(p))
	expired := &nextidentity.Token{AccessToken: "stale", RefreshToken: "r1", Expiry: time.Now().Add(-time.Minute)}
	var hooked []*nextidentity.Token
	var hookMu sync.Mutex
	var src oauth2.TokenSource = c.TokenSource(context.Background(), expired, func(t *nextidentity.Token) {
		hookMu.Lock()
		hooked = append(hooked, t)
		hookMu.Unlock()
	})

	var wg sync.WaitGroup
	results := make(chan string, 20)
	for range 20 {
		wg.Go(func() {
			tok, err := src.Token()
			if err != nil {
				results <- "error: " + err.Error()
				return
			}
			results <- tok.AccessToken
		})
	}
	time.Sleep(50 * time.Millisecond) // let them pile up on the refresh
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		require.Equal(t, "fresh", r)
	}
	require.EqualValues(t, 1, calls.Load(), "one refresh for all callers")
	require.Len(t, hooked, 1)
	require.Equal(t, "r2", hooked[0].RefreshToken)

	// Still valid: no more requests.
	tok, err := src.Token()
	require.NoError(t, err)
	require.Equal(t, "fresh", tok.AccessToken)
	require.EqualValues(t, 1, calls.Load())
}

func TestTokenSourceReportsRefreshErrors(t *testing.T) {
	p := testprovider.New(t)
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		testprovider.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
	})
	c := mkClient(t, mkConfig(p))
	src := c.TokenSource(context.Background(), &nextidentity.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now()}, nil)
	_, err := src.Token()
	require.ErrorIs(t, err, nextidentity.ErrInvalidGrant)
}
