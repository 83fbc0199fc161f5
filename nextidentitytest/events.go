package nextidentitytest

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oidc-kit/nextidentity/internal/fakecore"
)

// EndpointEventsJWKS serves the JWK Set that signs workflow events; event
// headers name it in "jku" (see EventsJWKSURL).
const EndpointEventsJWKS Endpoint = "/events/jwks"

// EventDeliveryTimeout is how long SendEvent waits for the target's answer:
// the provider counts a delivery without an answer within 5 seconds as
// failed.
const EventDeliveryTimeout = 5 * time.Second

// maxEventAnswerBytes bounds how much of a target's answer SendEvent reads.
const maxEventAnswerBytes = 64 << 10

// eventSigner holds the workflow events key. It is generated on first use,
// so servers that send no event do not pay for an RSA key.
type eventSigner struct {
	once sync.Once
	key  *signingKey[*rsa.PrivateKey]
}

func (e *eventSigner) get() *signingKey[*rsa.PrivateKey] {
	e.once.Do(func() { e.key = &signingKey[*rsa.PrivateKey]{kid: newKID(), key: fakecore.GenerateRSA()} })
	return e.key
}

// EventsJWKSURL returns the URL of the JWK Set that signs workflow events,
// the value of their "jku" header. A target's events.Config.AllowedJKU
// lists it.
func (s *Server) EventsJWKSURL() string { return s.endpointURL(EndpointEventsJWKS) }

// SignEvent signs a workflow event the way the provider does: a JWS with the
// header {"alg": "RS256", "kid": ..., "jku": EventsJWKSURL()} over a payload
// whose "events" member is events, keyed by event name (for example
// "account/v1/register"). The payload also carries "iss" (the issuer), "iat"
// (the server's clock) and a fresh "jti": the provider does not document
// these envelope claims, so the fake follows RFC 7519.
func (s *Server) SignEvent(events map[string]any) (string, error) {
	if len(events) == 0 {
		return "", fmt.Errorf("nextidentitytest: SignEvent needs at least one event")
	}
	k := s.events.get()
	signed, err := fakecore.Sign(jwt.SigningMethodRS256, k.key,
		map[string]any{"typ": nil, "kid": k.kid, "jku": s.EventsJWKSURL()},
		map[string]any{
			"iss":    s.issuer,
			"iat":    s.now().Unix(),
			"jti":    newUUID(),
			"events": events,
		})
	if err != nil {
		return "", fmt.Errorf("nextidentitytest: signing the event: %w", err)
	}
	return signed, nil
}

// SendEvent signs events with SignEvent and delivers them to targetURL with
// DeliverEvent. Each call is a new event (a new "jti"); a test repeats a
// delivery, as the provider's retries do, by calling DeliverEvent again with
// the same token.
func (s *Server) SendEvent(ctx context.Context, targetURL string, events map[string]any) (status int, err error) {
	tok, err := s.SignEvent(events)
	if err != nil {
		return 0, err
	}
	return s.DeliverEvent(ctx, targetURL, tok)
}

// DeliverEvent POSTs token, unchanged, to targetURL as the provider delivers
// workflow events (the body is the compact JWT, with no authorization), and
// returns the answer's status. It does not follow redirects and gives up
// after EventDeliveryTimeout, returning an error, as the provider counts
// such a delivery as failed. It makes one attempt: the provider's retries,
// after 30, 60, 120, 300 and 900 seconds, are the test calling it again.
func (s *Server) DeliverEvent(ctx context.Context, targetURL, token string) (status int, err error) {
	ctx, cancel := context.WithTimeout(ctx, EventDeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, targetURL, strings.NewReader(token))
	if err != nil {
		return 0, fmt.Errorf("nextidentitytest: event delivery: %w", err)
	}
	req.Header.Set("Content-Type", "application/jwt")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("nextidentitytest: event delivery: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxEventAnswerBytes))
	return resp.StatusCode, nil
}

func (s *Server) handleEventsJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	k := s.events.get()
	writeJSON(w, http.StatusOK, map[string]any{"keys": []fakecore.JWK{
		fakecore.MustPublicJWK(&k.key.PublicKey, k.kid, "RS256", "sig"),
	}})
}
