package events_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/events"
)

func TestVerifyAcceptsProviderEvent(t *testing.T) {
	good := newJWKSServer(t, http.StatusOK, jwkOf("k1", rsaKey()))
	v := newVerifier(t, events.Config{AllowedJKU: []string{good.jwksURL()}, Issuer: "https://id.example.com"})

	raw := sign(t, jwt.SigningMethodRS256, rsaKey(), rsHeader(good.jwksURL()), validClaims())
	e, err := v.Verify(context.Background(), append(raw, '\n'))
	require.NoError(t, err)
	require.Equal(t, "evt-1", e.ID)
	require.Equal(t, "https://id.example.com", e.Issuer)
	require.True(t, e.IssuedAt.Equal(testNow))
	require.Equal(t, []string{"account/v1/register"}, e.Names())

	var reg struct {
		FirstName string `json:"firstName"`
		Email     string `json:"email"`
	}
	require.NoError(t, e.Decode("account/v1/register", &reg))
	require.Equal(t, "Jane", reg.FirstName)
	require.Equal(t, "jane@example.com", reg.Email)
	require.ErrorIs(t, e.Decode("account/v1/userAuthenticationAction", &reg), events.ErrNoSuchEvent)
	var all map[string]any
	require.NoError(t, e.Claims(&all))
	require.Equal(t, "evt-1", all["jti"])

	// A second event is verified from the cache.
	_, err = v.Verify(context.Background(), raw)
	require.NoError(t, err)
	require.EqualValues(t, 1, good.hits.Load())
}

func TestVerifyES256WhenAllowed(t *testing.T) {
	good := newJWKSServer(t, http.StatusOK, jwkOf("ec", ecKey()))
	hdr := map[string]any{"alg": "ES256", "kid": "ec", "jku": good.jwksURL()}
	raw := sign(t, jwt.SigningMethodES256, ecKey(), hdr, validClaims())

	v := newVerifier(t, events.Config{AllowedJKU: []string{good.jwksURL()}})
	_, err := v.Verify(context.Background(), raw)
	require.ErrorIs(t, err, events.ErrAlgNotAllowed, "RS256 only by default")

	v = newVerifier(t, events.Config{AllowedJKU: []string{good.jwksURL()}, Algorithms: []string{"RS256", "ES256"}})
	_, err = v.Verify(context.Background(), raw)
	require.NoError(t, err)
}

// TestVerifyRefusesOtherJKUWithoutRequest: the jku header is the sender's
// choice, so a forger serves its own key from its own URL. Whatever the URL
// looks like, no request may go to it, nor to the allowed one.
func TestVerifyRefusesOtherJKUWithoutRequest(t *testing.T) {
	good := newJWKSServer(t, http.StatusOK, jwkOf("k1", rsaKey()))
	evil := newJWKSServer(t, http.StatusOK, jwkOf("k1", otherRSAKey()))
	allowed := good.jwksURL()
	v := newVerifier(t, events.Config{AllowedJKU: []string{allowed}})

	for _, jku := range []string{
		evil.jwksURL(),
		allowed + "/../../evil",
		allowed + "?x=1",
		allowed + "#",
		allowed + "/",
		strings.ToUpper(allowed[:4]) + allowed[4:],
		strings.TrimSuffix(allowed, ".json"),
		" " + allowed,
		"",
	} {
		raw := sign(t, jwt.SigningMethodRS256, otherRSAKey(), rsHeader(jku), validClaims())
		_, err := v.Verify(context.Background(), raw)
		require.ErrorIs(t, err, events.ErrJKUNotAllowed, "jku %q", jku)
		require.ErrorIs(t, err, events.ErrInvalidEvent, "jku %q", jku)
	}
	noJKU := sign(t, jwt.SigningMethodRS256, rsaKey(), map[string]any{"alg": "RS256", "kid": "k1"}, validClaims())
	_, err := v.Verify(context.Background(), noJKU)
	require.ErrorIs(t, err, events.ErrJKUNotAllowed)

	require.Zero(t, evil.hits.Load(), "a request went to the unlisted jku")
	require.Zero(t, good.hits.Load(), "a refused event caused a fetch")
}

func TestVerifyRejections(t *testing.T) {
	good := newJWKSServer(t, http.StatusOK, jwkOf("k1", rsaKey()))
	jku := good.jwksURL()
	rs := func(hdr, claims map[string]any) []byte {
		return sign(t, jwt.SigningMethodRS256, rsaKey(), hdr, claims)
	}
	with := func(k string, val any) map[string]any {
		c := validClaims()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	hdrWith := func(k string, val any) map[string]any {
		h := rsHeader(jku)
		if val == nil {
			delete(h, k)
		} else {
			h[k] = val
		}
		return h
	}
	valid := rs(rsHeader(jku), validClaims())
	parts := strings.Split(string(valid), ".")
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey().PublicKey)
	require.NoError(t, err)

	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"too large", append(valid, make([]byte, events.DefaultMaxEventBytes)...), events.ErrEventTooLarge},
		{"empty", nil, events.ErrMalformedEvent},
		{"two parts", []byte(parts[0] + "." + parts[1]), events.ErrMalformedEvent},
		{"four parts", []byte(string(valid) + ".x"), events.ErrMalformedEvent},
		{"header not base64url", []byte("!!." + parts[1] + "." + parts[2]), events.ErrMalformedEvent},
		{"header not an object", signRaw(t, jwt.SigningMethodRS256, rsaKey(), []byte(`["RS256"]`), []byte(`{"events":{"a":{}}}`)), events.ErrMalformedEvent},
		{"crit header", rs(hdrWith("crit", []string{"exp"}), validClaims()), events.ErrMalformedEvent},
		{"alg not a string", rs(hdrWith("alg", 256), validClaims()), events.ErrMalformedEvent},
		{"jku not a string", rs(hdrWith("jku", []string{jku}), validClaims()), events.ErrMalformedEvent},
		{"alg none", sign(t, nil, nil, hdrWith("alg", "none"), validClaims()), events.ErrAlgNotAllowed},
		{"alg HS256 keyed with the public key", sign(t, jwt.SigningMethodHS256, pubDER, hdrWith("alg", "HS256"), validClaims()), events.ErrAlgNotAllowed},
		{"alg case variant", rs(hdrWith("alg", "rs256"), validClaims()), events.ErrAlgNotAllowed},
		{"no alg", rs(hdrWith("alg", nil), validClaims()), events.ErrAlgNotAllowed},
		{"no kid", rs(hdrWith("kid", nil), validClaims()), events.ErrMissingKID},
		{"empty kid", rs(hdrWith("kid", ""), validClaims()), events.ErrMissingKID},
		{"payload not base64url", []byte(parts[0] + ".!!." + parts[2]), events.ErrMalformedEvent},
		{"payload not an object", signRaw(t, jwt.SigningMethodRS256, rsaKey(), []byte(`{"alg":"RS256","kid":"k1","jku":"`+jku+`"}`), []byte(`"x"`)), events.ErrMalformedEvent},
		{"no events", rs(rsHeader(jku), with("events", nil)), events.ErrMalformedEvent},
		{"events an array", rs(rsHeader(jku), with("events", []string{"account/v1/register"})), events.ErrMalformedEvent},
		{"events empty", rs(rsHeader(jku), with("events", map[string]any{})), events.ErrMalformedEvent},
		{"jti a number", rs(rsHeader(jku), with("jti", 7)), events.ErrMalformedEvent},
		{"iat a string", rs(rsHeader(jku), with("iat", "now")), events.ErrMalformedEvent},
		{"signature not base64url", []byte(parts[0] + "." + parts[1] + ".!!"), events.ErrMalformedEvent},
		{"unknown kid", rs(hdrWith("kid", "k2"), validClaims()), nextidentity.ErrInvalidSignature},
		{"other key under the kid", sign(t, jwt.SigningMethodRS256, otherRSAKey(), rsHeader(jku), validClaims()), nextidentity.ErrInvalidSignature},
		{"payload swapped", []byte(parts[0] + "." + strings.Split(string(rs(rsHeader(jku), with("jti", "evt-2"))), ".")[1] + "." + parts[2]), nextidentity.ErrInvalidSignature},
		{"expired", rs(rsHeader(jku), with("exp", testNow.Add(-2*time.Minute).Unix())), nextidentity.ErrTokenExpired},
		{"issued in the future", rs(rsHeader(jku), with("iat", testNow.Add(2*time.Minute).Unix())), events.ErrIssuedInFuture},
		{"issuer mismatch", rs(rsHeader(jku), with("iss", "https://id.example.com/")), nextidentity.ErrIssuerMismatch},
	}
	v := newVerifier(t, events.Config{AllowedJKU: []string{jku}, Issuer: "https://id.example.com"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.raw)
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, err, events.ErrInvalidEvent)
			require.True(t, strings.HasPrefix(err.Error(), "events: "), err.Error())
		})
	}
	_, err = v.Verify(context.Background(), valid)
	require.NoError(t, err, "the unaltered event verifies")
}

func TestVerifyTimeClaims(t *testing.T) {
	good := newJWKSServer(t, http.StatusOK, jwkOf("k1", rsaKey()))
	jku := good.jwksURL()
	at := func(claims map[string]any, k string, v any) []byte {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
		return sign(t, jwt.SigningMethodRS256, rsaKey(), rsHeader(jku), claims)
	}
	tests := []struct {
		name   string
		cfg    events.Config
		raw    []byte
		wantOK bool
	}{
		{"exp within leeway", events.Config{}, at(validClaims(), "exp", testNow.Add(-30*time.Second).Unix()), true},
		{"exp beyond no leeway", events.Config{Leeway: -1}, at(validClaims(), "exp", testNow.Unix()), false},
		{"iat within leeway", events.Config{}, at(validClaims(), "iat", testNow.Add(30*time.Second).Unix()), true},
		{"no iat, no MaxAge", events.Config{}, at(validClaims(), "iat", nil), true},
		{"no iat with MaxAge", events.Config{MaxAge: time.Hour}, at(validClaims(), "iat", nil), false},
		{"old beyond MaxAge", events.Config{MaxAge: time.Hour}, at(validClaims(), "iat", testNow.Add(-62*time.Minute).Unix()), false},
		{"old within MaxAge and leeway", events.Config{MaxAge: time.Hour}, at(validClaims(), "iat", testNow.Add(-60*time.Minute-30*time.Second).Unix()), true},
		{"no issuer configured", events.Config{}, at(validClaims(), "iss", nil), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.AllowedJKU = []string{jku}
			v := newVerifier(t, tc.cfg)
			_, err := v.Verify(context.Background(), tc.raw)
			if tc.wantOK {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, events.ErrInvalidEvent)
			require.ErrorIs(t, err, nextidentity.ErrTokenExpired)
		})
	}
}

func TestVerifyKeysUnavailable(t *testing.T) {
	down := newJWKSServer(t, http.StatusInternalServerError)
	target := newJWKSServer(t, http.StatusOK, jwkOf("k1", rsaKey()))
	redirect := httptest.NewServer(http.RedirectHandler(target.jwksURL(), http.StatusFound))
	t.Cleanup(redirect.Close)
	weak := newJWKSServer(t, http.StatusOK, jwkOf("k1", mustRSA1024(t)))
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", 4096) + `]}`))
	}))
	t.Cleanup(huge.Close)

	for name, jku := range map[string]string{
		"HTTP 500":            down.jwksURL(),
		"redirect":            redirect.URL + "/jwks.json",
		"RSA below 2048 bits": weak.jwksURL(),
		"oversized set":       huge.URL + "/jwks.json",
	} {
		t.Run(name, func(t *testing.T) {
			v := newVerifier(t, events.Config{AllowedJKU: []string{jku}, MaxJWKSBytes: 1024})
			raw := sign(t, jwt.SigningMethodRS256, rsaKey(), rsHeader(jku), validClaims())
			_, err := v.Verify(context.Background(), raw)
			require.ErrorIs(t, err, events.ErrKeysUnavailable)
			require.NotErrorIs(t, err, events.ErrInvalidEvent, "an outage says nothing about the event")
		})
	}
	require.Zero(t, target.hits.Load(), "the redirect was followed")
}

func TestVerifyOneStorePerJKU(t *testing.T) {
	a := newJWKSServer(t, http.StatusOK, jwkOf("k1", rsaKey()))
	b := newJWKSServer(t, http.StatusOK, jwkOf("k1", otherRSAKey()))
	v := newVerifier(t, events.Config{AllowedJKU: []string{a.jwksURL(), b.jwksURL(), a.jwksURL()}})

	for range 3 {
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, rsaKey(), rsHeader(a.jwksURL()), validClaims()))
		require.NoError(t, err)
		_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, otherRSAKey(), rsHeader(b.jwksURL()), validClaims()))
		require.NoError(t, err)
	}
	// A key of one set does not verify an event naming the other set.
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, rsaKey(), rsHeader(b.jwksURL()), validClaims()))
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature)
	require.EqualValues(t, 1, a.hits.Load())
	require.EqualValues(t, 1, b.hits.Load(), "a known kid whose signature fails causes no refetch")
}

func TestNewVerifierConfig(t *testing.T) {
	ok := "https://id.example.com/events/jwks"
	tests := []struct {
		name string
		cfg  events.Config
	}{
		{"no AllowedJKU", events.Config{}},
		{"relative jku", events.Config{AllowedJKU: []string{"/jwks"}}},
		{"http jku off loopback", events.Config{AllowedJKU: []string{"http://id.example.com/jwks"}}},
		{"jku with fragment", events.Config{AllowedJKU: []string{ok + "#k"}}},
		{"ftp jku", events.Config{AllowedJKU: []string{"ftp://id.example.com/jwks"}}},
		{"alg none", events.Config{AllowedJKU: []string{ok}, Algorithms: []string{"none"}}},
		{"alg HS256", events.Config{AllowedJKU: []string{ok}, Algorithms: []string{"RS256", "HS256"}}},
		{"alg unknown", events.Config{AllowedJKU: []string{ok}, Algorithms: []string{"RSA-OAEP"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.NewVerifier(tc.cfg)
			require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
			require.True(t, strings.HasPrefix(err.Error(), "events: "), err.Error())
		})
	}
	for _, jku := range []string{ok, "http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]/jwks"} {
		v, err := events.NewVerifier(events.Config{AllowedJKU: []string{jku}})
		require.NoError(t, err, jku)
		require.NoError(t, v.Close())
	}
}

// mustRSA1024 is a key too small to be used.
func mustRSA1024(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	return k
}
