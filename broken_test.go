package nextidentity_test

// Broken providers: every failure must come back as a typed error, in bounded
// time and memory, and must leave the client usable.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// brokenEnv is a provider, a client for it and the client's clock, which the
// test moves forward to step over the JWKS store's failure backoff without
// waiting for it.
type brokenEnv struct {
	p   *testprovider.Provider
	c   *nextidentity.Client
	clk *fakeClock
}

func brokenNew(t *testing.T, edit func(*nextidentity.Config)) *brokenEnv {
	t.Helper()
	e := &brokenEnv{p: testprovider.New(t), clk: newFakeClock(time.Now())}
	cfg := mkConfig(e.p)
	cfg.Now = e.clk.Now
	if edit != nil {
		edit(&cfg)
	}
	e.c = mkClient(t, cfg)
	return e
}

func (e *brokenEnv) idToken() string {
	return testprovider.Sign("RS256", e.p.RSA, e.p.Claims(e.clk.Now(), ""), nil)
}

// serveOK restores well-behaved token, userinfo, discovery and JWKS endpoints.
func (e *brokenEnv) serveOK() {
	e.p.Handle(testprovider.PathToken, testprovider.TokenResponse(e.idToken()))
	e.p.Handle(testprovider.PathUserInfo, func(w http.ResponseWriter, r *http.Request) {
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{"sub": testprovider.Subject, "name": "John Smith"})
	})
	e.p.Handle(testprovider.PathDiscovery, nil)
	e.p.Handle(testprovider.PathJWKS, nil)
}

func (e *brokenEnv) refresh(ctx context.Context) (*nextidentity.Token, error) {
	return e.c.Refresh(ctx, &nextidentity.Token{AccessToken: "old-at", RefreshToken: "old-rt"})
}

func (e *brokenEnv) userInfo(ctx context.Context) (*nextidentity.UserInfo, error) {
	return e.c.UserInfo(ctx, &nextidentity.Token{AccessToken: "rb5bzkygqs5ahevp"})
}

func (e *brokenEnv) verify(ctx context.Context) (*nextidentity.IDToken, error) {
	return e.c.VerifyIDToken(ctx, e.idToken(), "")
}

// requireWorks restores the provider and checks that the same client can
// refresh, call userinfo and verify an ID token again.
func (e *brokenEnv) requireWorks(t *testing.T) {
	t.Helper()
	e.serveOK()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := e.refresh(ctx)
	require.NoError(t, err, "token endpoint after the failure")
	require.Equal(t, "rb5bzkygqs5ahevp", tok.AccessToken)
	require.Equal(t, testprovider.Subject, tok.IDToken.Subject)
	ui, err := e.userInfo(ctx)
	require.NoError(t, err, "userinfo after the failure")
	require.Equal(t, testprovider.Subject, ui.Subject)
	idt, err := e.verify(ctx)
	require.NoError(t, err, "ID token verification after the failure")
	require.Equal(t, testprovider.Subject, idt.Subject)
}

// brokenRequireProviderError asserts err is an *Error from endpoint with
// status, and returns it.
func brokenRequireProviderError(t *testing.T, err error, endpoint string, status int) *nextidentity.Error {
	t.Helper()
	var pe *nextidentity.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, endpoint, pe.Endpoint)
	require.Equal(t, status, pe.StatusCode)
	require.LessOrEqual(t, len(pe.Body), 256, "Body is an excerpt")
	require.Less(t, len(err.Error()), 1024, "the message stays short")
	return pe
}

// brokenRespond is a handler writing body with status and content type.
func brokenRespond(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestBrokenJWKSDownWithCachedKeys(t *testing.T) {
	e := brokenNew(t, func(cfg *nextidentity.Config) {
		cfg.JWKSRefreshInterval = 20 * time.Millisecond
		cfg.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	})
	ctx := context.Background()
	_, err := e.verify(ctx)
	require.NoError(t, err, "keys cached")

	t.Run("500", func(t *testing.T) {
		e.p.Handle(testprovider.PathJWKS, brokenRespond(500, "text/html", "<html>Internal Server Error</html>"))
		n := e.p.Count(testprovider.PathJWKS)
		require.Eventually(t, func() bool { return e.p.Count(testprovider.PathJWKS) >= n+3 }, 5*time.Second, 5*time.Millisecond,
			"background refreshes keep failing")
		for range 5 {
			idt, err := e.verify(ctx)
			require.NoError(t, err, "the cached key still verifies")
			require.Equal(t, testprovider.Subject, idt.Subject)
		}
	})

	t.Run("hangs", func(t *testing.T) {
		release := make(chan struct{})
		var releaseOnce sync.Once
		t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
		var hanging atomic.Int32
		e.p.Handle(testprovider.PathJWKS, func(w http.ResponseWriter, r *http.Request) {
			hanging.Add(1)
			defer hanging.Add(-1)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		require.Eventually(t, func() bool { return hanging.Load() > 0 }, 5*time.Second, 5*time.Millisecond,
			"a background refresh is stuck on the JWKS endpoint")
		for range 5 {
			vctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			_, err := e.verify(vctx)
			cancel()
			// Waiting for the stuck refresh would end in DeadlineExceeded.
			require.NoError(t, err, "the cached key verifies without waiting for the stuck refresh")
		}
		// An unknown kid has to wait for the stuck fetch: only as long as
		// the caller allows.
		vctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		unknown := testprovider.Sign("RS256", e.p.RSA2, e.p.Claims(e.clk.Now(), ""), nil)
		_, err := e.c.VerifyIDToken(vctx, unknown, "")
		require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 3*time.Second)
		_, err = e.verify(ctx)
		require.NoError(t, err)

		// The provider answers again, now with the rotated key too.
		e.p.SetKeys(e.p.RSA, e.p.RSA2)
		e.p.Handle(testprovider.PathJWKS, nil)
		releaseOnce.Do(func() { close(release) })
		require.Eventually(t, func() bool {
			_, err := e.c.VerifyIDToken(ctx, unknown, "")
			return err == nil
		}, 5*time.Second, 20*time.Millisecond)
		e.requireWorks(t)
	})
}

func TestBrokenJWKSMalformedAndDuplicateKeys(t *testing.T) {
	e := brokenNew(t, nil)
	p := e.p
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)

	with := func(k *testprovider.Key, edit map[string]any) map[string]any {
		m := testprovider.JWK(k)
		for name, v := range edit {
			if v == nil {
				delete(m, name)
			} else {
				m[name] = v
			}
		}
		return m
	}
	dupRSA2 := &testprovider.Key{KID: "dup", Alg: "RS256", Private: p.RSA2.Private}
	dupPS := &testprovider.Key{KID: "dup", Alg: "RS256", Private: p.PS.Private}
	dupEC := &testprovider.Key{KID: "dup", Alg: "ES256", Private: p.EC.Private}
	weakKey := &testprovider.Key{KID: "weak", Alg: "RS256", Private: weak}
	encKey := &testprovider.Key{KID: "enc", Alg: "RS256", Use: "enc", Private: p.RSA2.Private}
	keys := []any{
		map[string]any{"kty": "RSA", "kid": "bad-n", "n": "!!!not base64!!!", "e": "AQAB"},
		map[string]any{"kty": "EC", "kid": "bad-crv", "crv": "P-999", "x": "AAAA", "y": "AAAA"},
		map[string]any{"kty": "oct", "kid": "sym", "k": base64.RawURLEncoding.EncodeToString([]byte("oct-key-material"))},
		map[string]any{"kid": "no-kty"},
		"not an object",
		42,
		nil,
		testprovider.JWK(weakKey),
		testprovider.JWK(encKey),
		with(p.RSA, map[string]any{"n": "AQAB"}), // kid rsa1, a broken twin of the good key
		testprovider.JWK(p.RSA),                  // the one plain good key
		testprovider.JWK(dupRSA2),
		testprovider.JWK(dupPS),
		testprovider.JWK(dupEC),
		with(dupRSA2, map[string]any{"e": "AA"}), // a broken "dup"
	}
	raw, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	p.SetJWKS(raw)

	ctx := context.Background()
	claims := p.Claims(e.clk.Now(), "")
	verify := func(raw string) error {
		_, err := e.c.VerifyIDToken(ctx, raw, "")
		return err
	}

	// The good key verifies despite its broken neighbours and broken twin.
	require.NoError(t, verify(testprovider.Sign("RS256", p.RSA, claims, nil)))
	require.EqualValues(t, 1, p.Count(testprovider.PathJWKS), "the JWKS loaded in one fetch despite its broken keys")

	// Duplicate kids: every well-formed key under the kid is a candidate
	// (each one that fits the alg is tried), and no other key is.
	require.NoError(t, verify(testprovider.Sign("RS256", dupRSA2, claims, nil)), "first RSA dup")
	require.NoError(t, verify(testprovider.Sign("RS256", dupPS, claims, nil)), "second RSA dup")
	require.NoError(t, verify(testprovider.Sign("ES256", dupEC, claims, nil)), "EC dup")
	err = verify(testprovider.Sign("RS256", p.RSA, claims, map[string]any{"kid": "dup"}))
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature, "a key published under another kid does not answer for dup")
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	err = verify(testprovider.Sign("ES256", &testprovider.Key{KID: "dup", Private: stranger}, claims, nil))
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature, "an unpublished EC key")

	// Skipped keys never verify anything.
	for _, tc := range []struct {
		name, alg string
		key       *testprovider.Key
	}{
		{"weak RSA", "RS256", weakKey},
		{"encryption key", "RS256", encKey},
		{"malformed n", "RS256", &testprovider.Key{KID: "bad-n", Private: p.RSA2.Private}},
		{"bad curve", "ES256", &testprovider.Key{KID: "bad-crv", Private: p.EC.Private}},
	} {
		err := verify(testprovider.Sign(tc.alg, tc.key, claims, nil))
		require.ErrorIs(t, err, nextidentity.ErrInvalidSignature, tc.name)
	}
	// The symmetric JWK never becomes an HMAC key.
	err = verify(testprovider.SignHS("HS256", "secret-1", claims)) // sanity: the client secret does
	require.NoError(t, err)
	hsWithJWK := brokenSignHSKid(t, "oct-key-material", "sym", claims)
	require.ErrorIs(t, verify(hsWithJWK), nextidentity.ErrInvalidSignature)

	// A JWKS with no usable key at all: a typed error, and recovery.
	t.Run("no usable key", func(t *testing.T) {
		e := brokenNew(t, nil)
		e.p.SetJWKS([]byte(`{"keys":[{"kty":"RSA","kid":"rsa1","n":"AQAB","e":"AQAB"},{"kty":"oct","k":"AAAA"}]}`))
		_, err := e.verify(ctx)
		require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
		e.p.SetKeys(e.p.RSA)
		e.clk.Advance(2 * time.Second) // past the JWKS store's 1s failure backoff
		e.requireWorks(t)
	})
	e.requireWorks(t)
}

// brokenSignHSKid signs claims with HS256 keyed by secret, with kid in the
// header.
func brokenSignHSKid(t *testing.T, secret, kid string, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims))
	tok.Header["kid"] = kid
	raw, err := tok.SignedString([]byte(secret))
	require.NoError(t, err)
	return raw
}

func TestBrokenRedirects(t *testing.T) {
	type hit struct{ auth, body string }
	var (
		mu   sync.Mutex
		hits []hit
	)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, hit{r.Header.Get("Authorization"), string(b)})
		mu.Unlock()
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{
			"access_token": "stolen", "sub": testprovider.Subject, "id_token": "x.y.z",
		})
	}))
	t.Cleanup(other.Close)
	// "localhost" rather than 127.0.0.1: another host as well as another port.
	target := strings.Replace(other.URL, "127.0.0.1", "localhost", 1) + "/steal"

	for _, style := range []struct {
		name  string
		style nextidentity.AuthStyle
		hc    *http.Client
	}{
		{"basic auth", nextidentity.AuthStyleBasic, nil},
		{"secret in body", nextidentity.AuthStyleInParams, nil},
		{"permissive HTTPClient", nextidentity.AuthStyleInParams, &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return nil },
		}},
	} {
		for _, status := range []int{301, 302, 303, 307, 308} {
			for _, ep := range []string{"token", "userinfo"} {
				t.Run(style.name+"/"+http.StatusText(status)+"/"+ep, func(t *testing.T) {
					e := brokenNew(t, func(cfg *nextidentity.Config) {
						cfg.AuthStyle = style.style
						cfg.HTTPClient = style.hc
					})
					path := map[string]string{"token": testprovider.PathToken, "userinfo": testprovider.PathUserInfo}[ep]
					e.p.Handle(path, func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Location", target)
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(status)
						// A body that would pass for a success.
						_, _ = io.WriteString(w, `{"access_token":"from-redirect","sub":"`+testprovider.Subject+`"}`)
					})
					var err error
					if ep == "token" {
						_, err = e.refresh(context.Background())
					} else {
						_, err = e.userInfo(context.Background())
					}
					require.ErrorIs(t, err, nextidentity.ErrMalformedResponse)
					pe := brokenRequireProviderError(t, err, ep, status)
					require.Empty(t, pe.Code)
					require.EqualValues(t, 1, e.p.Count(path))
					e.requireWorks(t)
				})
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, hits, "the other host never receives a request, a token or a secret")
}
