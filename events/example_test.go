package events_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/oidc-kit/nextidentity/events"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// A Verifier checks an event body; only the listed JWK Set URL may sign.
func ExampleNewVerifier() {
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer provider.Close()

	v, err := events.NewVerifier(events.Config{
		// In production: the exact jku URL of your tenant's workflow events.
		AllowedJKU: []string{provider.EventsJWKSURL()},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	raw, err := provider.SignEvent(map[string]any{
		"account/v1/userAuthenticationAction": map[string]any{"sub": "b30647ef", "clientId": "web"},
	})
	if err != nil {
		log.Fatal(err)
	}
	e, err := v.Verify(context.Background(), []byte(raw))
	if err != nil {
		log.Fatal(err)
	}
	var action struct {
		Sub      string `json:"sub"`
		ClientID string `json:"clientId"`
	}
	if err := e.Decode("account/v1/userAuthenticationAction", &action); err != nil {
		log.Fatal(err)
	}
	fmt.Println(action.Sub, action.ClientID)

	_, err = v.Verify(context.Background(), []byte("forged"))
	fmt.Println(errors.Is(err, events.ErrInvalidEvent))
	// Output:
	// b30647ef web
	// true
}

// Handler is the target URL: it answers 200 at once and runs fn after, once
// per event even when the provider delivers it again.
func ExampleHandler() {
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer provider.Close()
	v, err := events.NewVerifier(events.Config{AllowedJKU: []string{provider.EventsJWKSURL()}})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	done := make(chan string, 1)
	target := httptest.NewServer(events.Handler(v, func(ctx context.Context, e *events.Event) error {
		var reg struct {
			Email string `json:"email"`
		}
		if err := e.Decode("account/v1/register", &reg); err != nil {
			return err
		}
		done <- reg.Email // a real app would store it, or enqueue work
		return nil
	}))
	defer target.Close()

	raw, err := provider.SignEvent(map[string]any{
		"account/v1/register": map[string]any{"firstName": "Jane", "email": "jane@example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for range 2 { // the provider retries: the same event arrives twice
		status, err := provider.DeliverEvent(context.Background(), target.URL, raw)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(status)
	}
	fmt.Println(<-done)
	// Output:
	// 200
	// 200
	// jane@example.com
}

// A Responder answers an enrich step with a signed decision, and serves the
// JWK Set the tenant is given to verify it.
func ExampleNewResponder() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	r, err := events.NewResponder(events.ResponderConfig{
		Issuer: "https://app.example.com",
		Key:    key, // ES256; an *rsa.PrivateKey signs RS256
		KeyID:  "enrich-2026",
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /events/jwks", r.JWKSHandler())
	mux.HandleFunc("POST /events/enrich", func(w http.ResponseWriter, req *http.Request) {
		// Verify the request with a Verifier first; then decide.
		_ = r.Respond(w, events.ActionAllow, map[string]any{"membership": "gold"})
	})

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/events/enrich", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output:
	// 200 application/jwt
}
