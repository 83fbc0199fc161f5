package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/events"
)

func TestEventDecodeErrors(t *testing.T) {
	e := &events.Event{Events: map[string]json.RawMessage{"account/v1/register": json.RawMessage(`{"email":7}`)}}
	var reg struct {
		Email string `json:"email"`
	}
	err := e.Decode("account/v1/register", &reg)
	require.Error(t, err)
	require.NotErrorIs(t, err, events.ErrNoSuchEvent)
	require.Contains(t, err.Error(), "events: decoding")

	err = e.Decode("account/v1/delete", &reg)
	require.ErrorIs(t, err, events.ErrNoSuchEvent)
	require.Contains(t, err.Error(), "account/v1/register", "the error names the events present")

	var all map[string]any
	require.Error(t, e.Claims(&all), "an Event not made by Verify has no payload")
}

// FuzzVerify: no input panics, and every failure is either a rejection of
// the event or an unavailable key set.
func FuzzVerify(f *testing.F) {
	jwks := newJWKSServer(f, http.StatusOK, jwkOf("k1", rsaKey()))
	v, err := events.NewVerifier(events.Config{AllowedJKU: []string{jwks.jwksURL()}, Now: fixedNow})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = v.Close() })
	f.Add(sign(f, jwt.SigningMethodRS256, rsaKey(), rsHeader(jwks.jwksURL()), validClaims()))
	f.Add(signRaw(f, jwt.SigningMethodRS256, rsaKey(), []byte(`{"alg":"RS256","kid":"k1","jku":"`+jwks.jwksURL()+`"}`), []byte(`{"events":{"a":null},"iat":1e300}`)))
	f.Add([]byte("a.b.c"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := v.Verify(context.Background(), raw)
		if err != nil && !errors.Is(err, events.ErrInvalidEvent) && !errors.Is(err, events.ErrKeysUnavailable) {
			t.Fatalf("error outside the taxonomy: %v", err)
		}
	})
}
