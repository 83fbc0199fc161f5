package events_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/events"
)

// TestResponderAnswers checks the answers with an independent JWKS
// implementation (keyfunc), as the provider would.
func TestResponderAnswers(t *testing.T) {
	for name, key := range map[string]crypto.Signer{"RS256": rsaKey(), "ES256": ecKey()} {
		t.Run(name, func(t *testing.T) {
			r, err := events.NewResponder(events.ResponderConfig{Issuer: "https://app.example.com", Key: key, Now: fixedNow})
			require.NoError(t, err)
			kf, err := keyfunc.NewJWKSetJSON(r.JWKS())
			require.NoError(t, err)

			var jtis []string
			for _, action := range []events.Action{events.ActionAllow, events.ActionBlock, events.ActionChallenge} {
				raw, err := r.Sign(action, map[string]any{"tier": "gold"})
				require.NoError(t, err)
				claims := jwt.MapClaims{}
				tok, err := jwt.ParseWithClaims(raw, claims, kf.Keyfunc, jwt.WithValidMethods([]string{name}), jwt.WithTimeFunc(fixedNow))
				require.NoError(t, err)
				require.Equal(t, r.KeyID(), tok.Header["kid"])
				require.Equal(t, "https://app.example.com", claims["iss"])
				require.EqualValues(t, testNow.Unix(), claims["iat"])
				require.Equal(t, string(action), claims["action"])
				require.Equal(t, map[string]any{"tier": "gold"}, claims["custom_claims"])
				require.NotEmpty(t, claims["jti"])
				require.NotContains(t, jtis, claims["jti"])
				jtis = append(jtis, claims["jti"].(string))
			}
			raw, err := r.Sign(events.ActionAllow, nil)
			require.NoError(t, err)
			claims := jwt.MapClaims{}
			_, err = jwt.ParseWithClaims(raw, claims, kf.Keyfunc, jwt.WithTimeFunc(fixedNow))
			require.NoError(t, err)
			require.Equal(t, map[string]any{}, claims["custom_claims"])
		})
	}
}

func TestResponderRespondAndJWKSHandler(t *testing.T) {
	r, err := events.NewResponder(events.ResponderConfig{Issuer: "https://app.example.com", Key: rsaKey(), KeyID: "answers-1"})
	require.NoError(t, err)
	require.Equal(t, "answers-1", r.KeyID())

	rec := httptest.NewRecorder()
	require.NoError(t, r.Respond(rec, events.ActionChallenge, nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/jwt", rec.Header().Get("Content-Type"))
	require.Len(t, strings.Split(rec.Body.String(), "."), 3)

	rec = httptest.NewRecorder()
	require.ErrorIs(t, r.Respond(rec, "deny", nil), events.ErrInvalidAction)
	require.Equal(t, http.StatusInternalServerError, rec.Code)

	srv := httptest.NewServer(r.JWKSHandler())
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, string(r.JWKS()), string(body))
	require.NotContains(t, string(body), `"d"`, "the private key leaked")

	resp, err = srv.Client().Post(srv.URL, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestResponderExtraKeys: a rotation publishes the next key before it signs.
func TestResponderExtraKeys(t *testing.T) {
	r, err := events.NewResponder(events.ResponderConfig{Issuer: "x", Key: rsaKey(), ExtraKeys: []crypto.PublicKey{ecKey().Public(), otherRSAKey().Public()}})
	require.NoError(t, err)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(r.JWKS(), &set))
	require.Len(t, set.Keys, 3)
	require.Equal(t, r.KeyID(), set.Keys[0]["kid"])
	require.Equal(t, "ES256", set.Keys[1]["alg"])
	require.Equal(t, "RS256", set.Keys[2]["alg"])

	next, err := events.NewResponder(events.ResponderConfig{Issuer: "x", Key: ecKey()})
	require.NoError(t, err)
	require.Equal(t, next.KeyID(), set.Keys[1]["kid"], "the published kid is the one the key signs with once it is Key")

	kf, err := keyfunc.NewJWKSetJSON(r.JWKS())
	require.NoError(t, err)
	raw, err := next.Sign(events.ActionAllow, nil)
	require.NoError(t, err)
	_, err = jwt.Parse(raw, kf.Keyfunc)
	require.NoError(t, err, "an answer from the next key verifies with the set given before the switch")

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	for _, bad := range []crypto.PublicKey{&small.PublicKey, "key", (*ecdsa.PublicKey)(nil)} {
		_, err := events.NewResponder(events.ResponderConfig{Issuer: "x", Key: rsaKey(), ExtraKeys: []crypto.PublicKey{bad}})
		require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	}
}

// TestResponderThumbprint checks the default kid against RFC 7638 section
// 3.1's example.
func TestResponderThumbprint(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	require.NoError(t, err)
	key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}}
	r, err := events.NewResponder(events.ResponderConfig{Issuer: "x", Key: key})
	require.NoError(t, err)
	require.Equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", r.KeyID())
}

func TestNewResponderConfig(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	for name, cfg := range map[string]events.ResponderConfig{
		"no issuer":       {Key: rsaKey()},
		"no key":          {Issuer: "x"},
		"small RSA":       {Issuer: "x", Key: small},
		"P-384":           {Issuer: "x", Key: p384},
		"Ed25519":         {Issuer: "x", Key: ed},
		"typed nil RSA":   {Issuer: "x", Key: (*rsa.PrivateKey)(nil)},
		"typed nil ECDSA": {Issuer: "x", Key: (*ecdsa.PrivateKey)(nil)},
	} {
		_, err := events.NewResponder(cfg)
		require.ErrorIs(t, err, nextidentity.ErrInvalidConfig, name)
	}
}
