package events

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidEvent is wrapped by every rejection of an event by Verify: the
// body is not an event signed by an allowed key. The finer sentinels below
// (and nextidentity.ErrInvalidSignature, nextidentity.ErrTokenExpired and
// nextidentity.ErrIssuerMismatch, shared with the other token kinds) are
// wrapped under it.
var ErrInvalidEvent = errors.New("events: invalid event")

// Rejections specific to events; each is wrapped together with
// ErrInvalidEvent.
var (
	// ErrEventTooLarge: the body is longer than Config.MaxEventBytes.
	ErrEventTooLarge = errors.New("events: event too large")
	// ErrMalformedEvent: the body is not a compact JWS whose header and
	// payload are JSON objects, the header has critical parameters, or the
	// payload has no "events" object.
	ErrMalformedEvent = errors.New("events: malformed event")
	// ErrJKUNotAllowed: the "jku" header is missing or is not exactly one of
	// Config.AllowedJKU. No request is made for such an event.
	ErrJKUNotAllowed = errors.New("events: jku not allowed")
	// ErrMissingKID: the header has no "kid".
	ErrMissingKID = errors.New("events: no kid in the header")
	// ErrAlgNotAllowed: the "alg" header is not in Config.Algorithms.
	ErrAlgNotAllowed = errors.New("events: alg not allowed")
	// ErrIssuedInFuture: "iat" is later than now plus Config.Leeway.
	ErrIssuedInFuture = errors.New("events: issued in the future")
)

// ErrKeysUnavailable means the JWK Set of an allowed "jku" could not be
// fetched (network error, HTTP error, a redirect, an oversized or unusable
// set). It says nothing about the event, so it is not under
// ErrInvalidEvent: Handler answers 503 and the provider retries.
var ErrKeysUnavailable = errors.New("events: signing keys unavailable")

// ErrNoSuchEvent is returned by Event.Decode for a name the event does not
// carry.
var ErrNoSuchEvent = errors.New("events: event not present")

// rejection is an event rejected under ErrInvalidEvent for reason kind. Its
// message names the package once: "events: invalid event: <kind>: <detail>".
type rejection struct {
	kind   error
	detail string
}

func (r *rejection) Error() string {
	return ErrInvalidEvent.Error() + ": " + strings.TrimPrefix(r.kind.Error(), "events: ") + ": " + r.detail
}

func (r *rejection) Unwrap() []error { return []error{ErrInvalidEvent, r.kind} }

// invalid wraps ErrInvalidEvent and kind.
func invalid(kind error, format string, args ...any) error {
	return &rejection{kind: kind, detail: fmt.Sprintf(format, args...)}
}
