package events

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Event is a verified workflow event.
type Event struct {
	// ID is the "jti" claim; "" when the provider sent none.
	ID string
	// Issuer is the "iss" claim; "" when absent.
	Issuer string
	// IssuedAt is the "iat" claim; zero when absent.
	IssuedAt time.Time
	// Events holds the payload's "events" object: each member's value by
	// event name, for example "account/v1/register". Decode reads one.
	Events map[string]json.RawMessage

	expiry  time.Time
	payload []byte
}

// Names returns the event names the event carries, sorted.
func (e *Event) Names() []string {
	return slices.Sorted(maps.Keys(e.Events))
}

// Decode unmarshals the event named name (for example
// "account/v1/userAuthenticationAction") into v. It fails with
// ErrNoSuchEvent when the event does not carry that name.
func (e *Event) Decode(name string, v any) error {
	raw, ok := e.Events[name]
	if !ok {
		return fmt.Errorf("%w: %q (the event carries %q)", ErrNoSuchEvent, name, e.Names())
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("events: decoding %q: %w", name, err)
	}
	return nil
}

// Claims unmarshals the whole JWT payload into v, for envelope claims the
// Event does not expose.
func (e *Event) Claims(v any) error {
	if e.payload == nil {
		return fmt.Errorf("events: Event has no payload (not produced by Verify)")
	}
	if err := json.Unmarshal(e.payload, v); err != nil {
		return fmt.Errorf("events: decoding the payload: %w", err)
	}
	return nil
}

// parseEvent reads the payload of an event JWT, before its signature is
// checked: it must be a JSON object whose "events" member is a non-empty
// object, and the envelope claims present must have their RFC 7519 types.
func parseEvent(payload []byte) (*Event, error) {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, invalid(ErrMalformedEvent, "payload is not a JSON object")
	}
	rawEvents, ok := claims["events"]
	if !ok {
		return nil, invalid(ErrMalformedEvent, `no "events" claim`)
	}
	var evs map[string]json.RawMessage
	if err := json.Unmarshal(rawEvents, &evs); err != nil || evs == nil {
		return nil, invalid(ErrMalformedEvent, `"events" is not a JSON object`)
	}
	if len(evs) == 0 {
		return nil, invalid(ErrMalformedEvent, `"events" is empty`)
	}
	e := &Event{Events: evs, payload: payload}
	var err error
	if e.ID, err = stringMember(claims, "jti"); err != nil {
		return nil, invalid(ErrMalformedEvent, "%v", err)
	}
	if e.Issuer, err = stringMember(claims, "iss"); err != nil {
		return nil, invalid(ErrMalformedEvent, "%v", err)
	}
	if e.IssuedAt, err = numericDate(claims, "iat"); err != nil {
		return nil, invalid(ErrMalformedEvent, "%v", err)
	}
	if e.expiry, err = numericDate(claims, "exp"); err != nil {
		return nil, invalid(ErrMalformedEvent, "%v", err)
	}
	return e, nil
}
