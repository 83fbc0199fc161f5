package events

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/keys"
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// DefaultMaxEventBytes bounds an event JWT when Config.MaxEventBytes is zero.
const DefaultMaxEventBytes = 64 << 10

// DefaultAlgorithms is the "alg" allow-list when Config.Algorithms is empty:
// the provider signs events with RS256.
var DefaultAlgorithms = []string{"RS256"}

// signingMethods are the asymmetric algorithms a Verifier can allow. "none"
// and the HMAC algorithms are absent on purpose: a JWK Set publishes public
// keys, and a public key must never serve as an HMAC secret.
var signingMethods = map[string]jwt.SigningMethod{
	"RS256": jwt.SigningMethodRS256, "RS384": jwt.SigningMethodRS384, "RS512": jwt.SigningMethodRS512,
	"PS256": jwt.SigningMethodPS256, "PS384": jwt.SigningMethodPS384, "PS512": jwt.SigningMethodPS512,
	"ES256": jwt.SigningMethodES256, "ES384": jwt.SigningMethodES384, "ES512": jwt.SigningMethodES512,
	"EdDSA": jwt.SigningMethodEdDSA,
}

// Config configures a Verifier. AllowedJKU is required.
type Config struct {
	// AllowedJKU lists the JWK Set URLs whose keys may sign events, as the
	// tenant's workflow configuration gives them. An event's "jku" header
	// must equal one of them byte for byte: no prefix match, no
	// normalisation, and redirects from these URLs are not followed. Each
	// must be an absolute https URL (http only on loopback hosts).
	AllowedJKU []string
	// Algorithms is the "alg" allow-list; default DefaultAlgorithms (RS256).
	// Only asymmetric algorithms are accepted: "none" and HS256/384/512 make
	// NewVerifier fail.
	Algorithms []string
	// Issuer, when set, must equal the "iss" claim exactly. The provider does
	// not document "iss" on events, so it is not checked by default.
	Issuer string
	// MaxAge, when positive, refuses events without "iat" or issued longer
	// ago than MaxAge (plus Leeway). Zero means no limit in Verify; the
	// Handler then refuses events issued longer ago than its ReplayTTL (see
	// HandlerOptions.ReplayTTL). The provider retries a delivery for about
	// 25 minutes and does not document whether "iat" is renewed on retries,
	// so a MaxAge must be longer than that.
	MaxAge time.Duration
	// Leeway tolerated on "exp", "iat" and MaxAge. Zero means
	// nextidentity.DefaultLeeway; a negative value means no leeway.
	Leeway time.Duration
	// MaxEventBytes bounds the event JWT; default DefaultMaxEventBytes.
	MaxEventBytes int64

	// HTTPClient fetches the JWK Sets. Default: a client with a
	// nextidentity.DefaultHTTPTimeout timeout. Redirects are never followed,
	// whatever its CheckRedirect says.
	HTTPClient *http.Client
	// MaxJWKSBytes bounds a JWK Set body; default
	// nextidentity.DefaultMaxResponseBytes.
	MaxJWKSBytes int64
	// JWKSRefreshInterval is how often a JWK Set in use is refreshed in the
	// background; default nextidentity.DefaultJWKSRefresh.
	JWKSRefreshInterval time.Duration
	// JWKSUnknownKIDInterval is the least time between two fetches of a JWK
	// Set caused by an unknown "kid"; default
	// nextidentity.DefaultJWKSUnknownKID.
	JWKSUnknownKIDInterval time.Duration
	// Now is the clock for the time checks; default time.Now.
	Now func() time.Time
	// Logger receives one debug record per JWK Set request. Nil means silent.
	Logger *slog.Logger

	// TracerProvider makes the verifier's spans (nextidentity.event.verify,
	// nextidentity.jwks.fetch). Default: the global provider,
	// otel.GetTracerProvider(), a no-op until the application sets one.
	TracerProvider trace.TracerProvider
	// MeterProvider makes its metrics (nextidentity.verification.failures
	// with token kind "event", the JWKS fetch metrics). Default: the global
	// provider.
	MeterProvider metric.MeterProvider
}

// Verifier verifies workflow event JWTs. It keeps one cached, rate-limited
// key store per allowed JWK Set URL. It is safe for concurrent use; call
// Close when done with it.
type Verifier struct {
	cfg    Config
	algs   map[string]bool
	stores map[string]*keys.Store // by allowed jku, exact
	leeway time.Duration
	now    func() time.Time
	tel    *telemetry.Telemetry // see telemetry.go
}

// NewVerifier validates cfg and returns a Verifier. It makes no request: a
// JWK Set is fetched when the first event naming it arrives.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.AllowedJKU) == 0 {
		return nil, configError("AllowedJKU", "is required")
	}
	for i, u := range cfg.AllowedJKU {
		if err := checkJKU(u); err != nil {
			return nil, configError(fmt.Sprintf("AllowedJKU[%d]", i), "%q %v", u, err)
		}
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	v := &Verifier{
		tel:    newTelemetry(&cfg),
		cfg:    cfg,
		algs:   map[string]bool{},
		stores: map[string]*keys.Store{},
		leeway: cfg.Leeway,
		now:    cfg.Now,
	}
	for _, a := range algs {
		if _, ok := signingMethods[a]; !ok {
			return nil, configError("Algorithms", "%q is not an asymmetric JWS algorithm", a)
		}
		v.algs[a] = true
	}
	switch {
	case v.leeway == 0:
		v.leeway = nextidentity.DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.cfg.MaxEventBytes <= 0 {
		v.cfg.MaxEventBytes = DefaultMaxEventBytes
	}
	client := &http.Client{Timeout: nextidentity.DefaultHTTPTimeout}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, u := range cfg.AllowedJKU {
		if v.stores[u] != nil {
			continue
		}
		// keys.New starts no request; its refresh loop skips a store never used.
		v.stores[u] = keys.New(keys.Options{
			URL:                u,
			Client:             client,
			MaxBytes:           positiveOr(cfg.MaxJWKSBytes, nextidentity.DefaultMaxResponseBytes),
			RefreshInterval:    positiveOr(cfg.JWKSRefreshInterval, nextidentity.DefaultJWKSRefresh),
			UnknownKIDInterval: positiveOr(cfg.JWKSUnknownKIDInterval, nextidentity.DefaultJWKSUnknownKID),
			Now:                v.now,
			Logger:             cfg.Logger,
			Telemetry:          v.tel,
		})
	}
	return v, nil
}

// Close stops the background JWK Set refreshes. Verify fails with
// ErrKeysUnavailable afterwards when it would need a fetch.
func (v *Verifier) Close() error {
	for _, s := range v.stores {
		s.Close()
	}
	return nil
}

// MaxEventBytes is the largest event JWT Verify accepts.
func (v *Verifier) MaxEventBytes() int64 { return v.cfg.MaxEventBytes }

var b64 = base64.RawURLEncoding.Strict()

// Verify checks raw, the body of an event delivery, and returns the event.
// Everything that can be checked without a key is checked first, the "jku"
// allow-list included, so an event naming another JWK Set causes no request.
// Then the signature is verified with a key of that set whose "kid" and type
// fit the allowed "alg", and finally "exp", "iat", Issuer and MaxAge. ctx
// bounds a JWK Set fetch the event may cause.
//
// Every rejection wraps ErrInvalidEvent and a finer sentinel. A JWK Set that
// cannot be fetched gives ErrKeysUnavailable instead.
func (v *Verifier) Verify(ctx context.Context, raw []byte) (_ *Event, err error) {
	ctx, op := v.tel.StartVerify(ctx, telemetry.EventVerify, telemetry.Event)
	defer op.End(&err)
	if int64(len(raw)) > v.cfg.MaxEventBytes {
		return nil, invalid(ErrEventTooLarge, "%d bytes, more than %d", len(raw), v.cfg.MaxEventBytes)
	}
	raw = bytes.TrimSpace(raw)
	parts := bytes.Split(raw, []byte("."))
	if len(parts) != 3 || len(parts[0]) == 0 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return nil, invalid(ErrMalformedEvent, "not a compact JWS (need three non-empty dot-separated parts)")
	}
	hdr, err := decodeObject(parts[0])
	if err != nil {
		return nil, invalid(ErrMalformedEvent, "header: %v", err)
	}
	if _, ok := hdr["crit"]; ok {
		return nil, invalid(ErrMalformedEvent, "unsupported critical header parameters")
	}
	alg, err := stringMember(hdr, "alg")
	if err != nil {
		return nil, invalid(ErrMalformedEvent, "header: %v", err)
	}
	if !v.algs[alg] {
		return nil, invalid(ErrAlgNotAllowed, "alg %q", alg)
	}
	kid, err := stringMember(hdr, "kid")
	if err != nil {
		return nil, invalid(ErrMalformedEvent, "header: %v", err)
	}
	if kid == "" {
		return nil, invalid(ErrMissingKID, "the signing key must be named")
	}
	jku, err := stringMember(hdr, "jku")
	if err != nil {
		return nil, invalid(ErrMalformedEvent, "header: %v", err)
	}
	store := v.stores[jku]
	if store == nil {
		return nil, invalid(ErrJKUNotAllowed, "jku %q is not one of the configured AllowedJKU", jku)
	}
	payload, err := b64.DecodeString(string(parts[1]))
	if err != nil {
		return nil, invalid(ErrMalformedEvent, "payload is not base64url: %v", err)
	}
	e, err := parseEvent(payload)
	if err != nil {
		return nil, err
	}
	sig, err := b64.DecodeString(string(parts[2]))
	if err != nil {
		return nil, invalid(ErrMalformedEvent, "signature is not base64url: %v", err)
	}
	cands, err := store.Candidates(ctx, kid, alg)
	if err != nil {
		if errors.Is(err, keys.ErrNoKey) {
			return nil, invalid(nextidentity.ErrInvalidSignature, "%v", err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrKeysUnavailable, jku, err)
	}
	signed := string(raw[:len(parts[0])+1+len(parts[1])])
	method := signingMethods[alg]
	if !slices.ContainsFunc(cands, func(k *keys.Key) bool { return method.Verify(signed, sig, k.Public) == nil }) {
		return nil, invalid(nextidentity.ErrInvalidSignature, "%s signature does not verify with key %q of %s", alg, kid, jku)
	}
	if err := v.checkClaims(e); err != nil {
		return nil, err
	}
	return e, nil
}

func (v *Verifier) checkClaims(e *Event) error {
	if v.cfg.Issuer != "" && e.Issuer != v.cfg.Issuer {
		return invalid(nextidentity.ErrIssuerMismatch, "iss %q, want %q", e.Issuer, v.cfg.Issuer)
	}
	now := v.now()
	if !e.expiry.IsZero() && !now.Before(e.expiry.Add(v.leeway)) {
		return invalid(nextidentity.ErrTokenExpired, "expired at %s", e.expiry.UTC().Format(time.RFC3339))
	}
	if !e.IssuedAt.IsZero() && e.IssuedAt.After(now.Add(v.leeway)) {
		return invalid(ErrIssuedInFuture, "iat %s", e.IssuedAt.UTC().Format(time.RFC3339))
	}
	if v.cfg.MaxAge > 0 {
		if e.IssuedAt.IsZero() {
			return invalid(nextidentity.ErrTokenExpired, "no iat, and MaxAge is set")
		}
		if now.Sub(e.IssuedAt) > v.cfg.MaxAge+v.leeway {
			return invalid(nextidentity.ErrTokenExpired, "issued at %s, longer ago than MaxAge %s", e.IssuedAt.UTC().Format(time.RFC3339), v.cfg.MaxAge)
		}
	}
	return nil
}

// decodeObject decodes a base64url JSON object. Members are kept by their
// exact names: JOSE and JWT names are case-sensitive, unlike encoding/json's
// struct matching.
func decodeObject(seg []byte) (map[string]json.RawMessage, error) {
	b, err := b64.DecodeString(string(seg))
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// stringMember returns m[name] as a string; "" when absent.
func stringMember(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%q is not a string", name)
	}
	return s, nil
}

// numericDate returns m[name] as a time; zero when absent.
func numericDate(m map[string]json.RawMessage, name string) (time.Time, error) {
	raw, ok := m[name]
	if !ok {
		return time.Time{}, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f > 1<<40 {
		return time.Time{}, fmt.Errorf("%q is not a NumericDate", name)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}

func configError(field, format string, args ...any) error {
	return fmt.Errorf("events: %w: %s %s", nextidentity.ErrInvalidConfig, field, fmt.Sprintf(format, args...))
}

// checkJKU accepts an absolute https URL, or http on a loopback host.
func checkJKU(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" {
		return errors.New("must be an absolute URL without fragment")
	}
	if u.Scheme == "https" {
		return nil
	}
	if u.Scheme == "http" {
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return errors.New("must use https (http is allowed only on loopback hosts)")
}

func positiveOr[T int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
