package events

import "errors"

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
	ErrEventTooLarge = errors.New("event too large")
	// ErrMalformedEvent: the body is not a compact JWS whose header and
	// payload are JSON objects, the header has critical parameters, or the
	// payload has no "events" object.
	ErrMalformedEvent = errors.New("malformed event")
	// ErrJKUNotAllowed: the "jku" header is missing or is not exactly one of
	// Config.AllowedJKU. No request is made for such an event.
	ErrJKUNotAllowed = errors.New("jku not allowed")
	// ErrMissingKID: the header has no "kid".
	ErrMissingKID = errors.New("no kid in the header")
	// ErrAlgNotAllowed: the "alg" header is not in Config.Algorithms.
	ErrAlgNotAllowed = errors.New("alg not allowed")
	// ErrIssuedInFuture: "iat" is later than now plus Config.Leeway.
	ErrIssuedInFuture = errors.New("issued in the future")
)

// ErrKeysUnavailable means the JWK Set of an allowed "jku" could not be
// fetched (network error, HTTP error, a redirect, an oversized or unusable
// set). It says nothing about the event, so it is not under
// ErrInvalidEvent: Handler answers 503 and the provider retries.
var ErrKeysUnavailable = errors.New("events: signing keys unavailable")

// ErrNoSuchEvent is returned by Event.Decode for a name the event does not
// carry.
var ErrNoSuchEvent = errors.New("events: event not present")
