package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/events"
)

// newEventsHandler returns the endpoint to register with the tenant as a
// workflow events target (for example POST /events). It accepts only events
// signed with a key from one of allowedJKU, compared exactly, answers the
// provider at once and logs each event once, however often it is delivered.
// The events' contents (names, emails) are personal data: only the event
// names and ids are logged.
//
// replay drops duplicates; nil means an in-process cache, which only sees
// this instance's deliveries (pass the Redis store when several instances
// share the target). Close stops the Verifier's key refresh after waiting,
// within ctx, for events still being handled.
func newEventsHandler(allowedJKU []string, replay nextidentity.ReplayCache, logger *slog.Logger) (*eventsEndpoint, error) {
	v, err := events.NewVerifier(events.Config{AllowedJKU: allowedJKU, Logger: logger})
	if err != nil {
		return nil, err
	}
	h := events.NewHandler(v, func(ctx context.Context, e *events.Event) error {
		logger.LogAttrs(ctx, slog.LevelInfo, "workflow event",
			slog.String("jti", e.ID), slog.Any("events", e.Names()))
		return nil
	}, events.HandlerOptions{Logger: logger, Replay: replay})
	return &eventsEndpoint{EventHandler: h, v: v}, nil
}

// eventsEndpoint is the events handler and the Verifier it owns.
type eventsEndpoint struct {
	*events.EventHandler
	v *events.Verifier
}

// Close waits, within ctx, for events still being handled, then stops the
// Verifier.
func (e *eventsEndpoint) Close(ctx context.Context) error {
	return errors.Join(e.Wait(ctx), e.v.Close())
}
