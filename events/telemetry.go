package events

import (
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// failureReasons name the refusals of Verify in spans and metrics, finer
// sentinels first; the error's text never reaches telemetry.
var failureReasons = []telemetry.Reason{
	{Err: ErrEventTooLarge, Word: "too_large"},
	{Err: ErrMalformedEvent, Word: "malformed"},
	{Err: ErrJKUNotAllowed, Word: "jku_not_allowed"},
	{Err: ErrMissingKID, Word: "missing_kid"},
	{Err: ErrAlgNotAllowed, Word: "alg_not_allowed"},
	{Err: ErrIssuedInFuture, Word: "issued_in_future"},
	{Err: ErrKeysUnavailable, Word: "keys_unavailable"},
	{Err: ErrInvalidEvent, Word: "invalid_event"},
}

// newTelemetry creates the verifier's tracer and instruments from
// cfg.TracerProvider and cfg.MeterProvider (nil: the global providers).
func newTelemetry(cfg *Config) *telemetry.Telemetry {
	return telemetry.New(cfg.TracerProvider, cfg.MeterProvider, failureReasons)
}
