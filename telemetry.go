package nextidentity

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/oidc-kit/nextidentity/internal/keys"
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// failureReasons name the client's failures in spans and metrics, finer
// sentinels first (the first match wins). The words are fixed: an error's
// text never reaches telemetry.
var failureReasons = []telemetry.Reason{
	{Err: ErrTokenExpired, Word: "expired"},
	{Err: ErrInvalidSignature, Word: "signature"},
	{Err: ErrIssuerMismatch, Word: "issuer_mismatch"},
	{Err: ErrAudienceMismatch, Word: "audience_mismatch"},
	{Err: ErrNonceMismatch, Word: "nonce_mismatch"},
	{Err: ErrSubjectMismatch, Word: "subject_mismatch"},
	{Err: ErrStateMismatch, Word: "state_mismatch"},
	{Err: ErrMissingCode, Word: "missing_code"},
	{Err: ErrLogoutTokenType, Word: "logout_token_type"},
	{Err: ErrNoLogoutEvent, Word: "no_logout_event"},
	{Err: ErrLogoutTokenIssuedAt, Word: "issued_at"},
	{Err: ErrNoLogoutSubject, Word: "no_subject"},
	{Err: ErrLogoutTokenNonce, Word: "logout_token_nonce"},
	{Err: ErrNoLogoutTokenID, Word: "no_jti"},
	{Err: ErrLogoutTokenReplayed, Word: "replayed"},
	{Err: ErrInactiveToken, Word: "inactive"},
	{Err: ErrInsufficientScope, Word: "insufficient_scope"},
	{Err: ErrInvalidGrant, Word: "invalid_grant"},
	{Err: ErrInvalidClient, Word: "invalid_client"},
	{Err: ErrInvalidRequest, Word: "invalid_request"},
	{Err: ErrAccessDenied, Word: "access_denied"},
	{Err: ErrLoginRequired, Word: "login_required"},
	{Err: ErrUnauthorized, Word: "unauthorized"},
	{Err: ErrResponseTooLarge, Word: "response_too_large"},
	{Err: ErrMalformedResponse, Word: "malformed_response"},
	{Err: ErrProviderUnavailable, Word: "provider_unavailable"},
	{Err: ErrProviderUnreachable, Word: "provider_unreachable"},
	{Err: ErrProvider, Word: "provider_error"},
	{Err: ErrNoRefreshToken, Word: "no_refresh_token"},
	{Err: ErrNoAccessToken, Word: "no_access_token"},
	{Err: ErrIncompleteAuthRequest, Word: "incomplete_auth_request"},
	{Err: keys.ErrNoKey, Word: "no_key"},
	{Err: keys.ErrFetch, Word: "jwks_unavailable"},
	{Err: ErrInvalidIDToken, Word: "invalid_id_token"},
	{Err: ErrInvalidAccessToken, Word: "invalid_access_token"},
	{Err: ErrInvalidLogoutToken, Word: "invalid_logout_token"},
	{Err: ErrInvalidCallback, Word: "invalid_callback"},
	{Err: ErrInvalidConfig, Word: "invalid_config"},
}

func init() {
	// nihttp, events and account meet these errors too (a callback's
	// Exchange, an event's keys): they classify them the same way.
	telemetry.SetLibraryReasons(failureReasons)
}

// newTelemetry resolves the configured providers (nil: the global ones,
// as otelhttp takes them) and creates the client's tracer and instruments.
func (c *Client) newTelemetry() {
	c.tracerProvider, c.meterProvider = c.cfg.TracerProvider, c.cfg.MeterProvider
	if c.tracerProvider == nil {
		c.tracerProvider = otel.GetTracerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	c.tel = telemetry.New(c.tracerProvider, c.meterProvider, nil)
}

// TracerProvider returns the provider of the client's spans:
// Config.TracerProvider, else the global provider when New ran. nihttp
// (and other packages built on the Client) use it unless told otherwise.
func (c *Client) TracerProvider() trace.TracerProvider { return c.tracerProvider }

// MeterProvider returns the provider of the client's metrics:
// Config.MeterProvider, else the global provider when New ran.
func (c *Client) MeterProvider() metric.MeterProvider { return c.meterProvider }
