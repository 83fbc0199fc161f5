package events_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oidc-kit/nextidentity/events"
)

// BenchmarkVerify is the cost of one provider event once the JWK Set is
// cached: header checks, RS256 signature, claims.
func BenchmarkVerify(b *testing.B) {
	jwks := newJWKSServer(b, http.StatusOK, jwkOf("k1", rsaKey()))
	v, err := events.NewVerifier(events.Config{AllowedJKU: []string{jwks.jwksURL()}, Now: fixedNow})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = v.Close() })
	raw := sign(b, jwt.SigningMethodRS256, rsaKey(), rsHeader(jwks.jwksURL()), validClaims())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerDuplicate is one redelivery of an event already handled,
// through the handler without the network: verification plus the replay
// cache lookup.
func BenchmarkHandlerDuplicate(b *testing.B) {
	jwks := newJWKSServer(b, http.StatusOK, jwkOf("k1", rsaKey()))
	v, err := events.NewVerifier(events.Config{AllowedJKU: []string{jwks.jwksURL()}, Now: fixedNow})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = v.Close() })
	h := events.NewHandler(v, func(context.Context, *events.Event) error { return nil }, events.HandlerOptions{})
	body := sign(b, jwt.SigningMethodRS256, rsaKey(), rsHeader(jwks.jwksURL()), validClaims())
	deliver := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/events", bytes.NewReader(body)))
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
	deliver()
	b.ReportAllocs()
	for b.Loop() {
		deliver()
	}
	_ = h.Wait(context.Background())
}
