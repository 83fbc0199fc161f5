package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/oidc-kit/nextidentity/events"
)

// newEventsHandler returns the endpoint to register with the tenant as a
// workflow events target (for example POST /events). It accepts only events
// signed with a key from one of allowedJKU, compared exactly, answers the
// provider at once and logs each event once, however often it is delivered.
// The events' contents (names, emails) are personal data: only the event
// names and ids are logged.
//
// The Verifier lives as long as the app, so it is not closed.
func newEventsHandler(allowedJKU []string, logger *slog.Logger) (http.Handler, error) {
	v, err := events.NewVerifier(events.Config{AllowedJKU: allowedJKU, Logger: logger})
	if err != nil {
		return nil, err
	}
	return events.NewHandler(v, func(ctx context.Context, e *events.Event) error {
		logger.LogAttrs(ctx, slog.LevelInfo, "workflow event",
			slog.String("jti", e.ID), slog.Any("events", e.Names()))
		return nil
	}, events.HandlerOptions{Logger: logger}), nil
}
