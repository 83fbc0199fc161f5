package account

import (
	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// failureReasons name this package's refusals in spans and metrics
// (nextidentity.failure_reason, error.type); the root package's sentinels
// (an invalid grant, an unreachable provider) are named by its own table.
var failureReasons = []telemetry.Reason{
	{Err: ErrInvalidCredentials, Word: "invalid_credentials"},
	{Err: ErrUnverifiedUser, Word: "unverified_user"},
	{Err: ErrRateLimited, Word: "rate_limited"},
	{Err: ErrUserExists, Word: "user_exists"},
	{Err: ErrForbidden, Word: "forbidden"},
	{Err: ErrInvalidInput, Word: "invalid_input"},
}

// newTelemetry takes the parent client's providers (Config.TracerProvider
// and MeterProvider, else the global ones), so the API integration's token
// requests are spans and metrics beside the hosted flow's: span
// "nextidentity.token" with nextidentity.grant_type, and the
// nextidentity.token.requests counter and duration histogram. Nothing that
// identifies the user or carries a secret is recorded.
func newTelemetry(c *nextidentity.Client) *telemetry.Telemetry {
	return telemetry.New(c.TracerProvider(), c.MeterProvider(), failureReasons)
}
