package nihttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// cookieStore is the default SessionStore: stateless, it seals the whole
// session into the session cookie (split across up to MaxSessionCookies
// cookies). It keeps only what the handlers need: the raw ID token is
// dropped, since Next Identity's end-session endpoint takes client_id, and
// the verified claims are kept.
//
// A cookie store cannot end a session on the server: a copy of the cookie
// taken before logout keeps working until the session expires (idle or
// absolute). Use a ServerStore where that matters.
type cookieStore struct {
	sealer *sealer
	name   string // the AAD: the session cookie's name
	locks  localLocks
	now    func() time.Time
}

// Save seals s; the value is at most MaxSessionCookies cookies long.
//
// The sealed payload is the session as JSON without its ID token, a zero
// byte, then the ID token in its binary form (IDToken.MarshalBinary): the
// claims are then read once on every request instead of being scanned as
// JSON nested in JSON.
func (c *cookieStore) Save(_ context.Context, s *Session, ttl time.Duration) (string, error) {
	slim := *s
	var idt []byte
	if s.Token != nil {
		tok := *s.Token
		tok.RawIDToken = ""
		if tok.IDToken != nil {
			var err error
			if idt, err = tok.IDToken.MarshalBinary(); err != nil {
				return "", fmt.Errorf("nihttp: encoding session: %w", err)
			}
			tok.IDToken = nil
		}
		slim.Token = &tok
	}
	js, err := json.Marshal(&slim)
	if err != nil {
		return "", fmt.Errorf("nihttp: encoding session: %w", err)
	}
	v := c.sealer.sealBytes(c.name, append(append(js, 0), idt...), ttl)
	if len(v) > MaxSessionCookies*cookieChunk {
		return "", fmt.Errorf("%w: %d bytes sealed, %d cookies of %d bytes allowed",
			ErrSessionTooLarge, len(v), MaxSessionCookies, cookieChunk)
	}
	return v, nil
}

// Load opens a sealed session; one that does not open is no session.
func (c *cookieStore) Load(_ context.Context, value string) (*Session, error) {
	payload, err := c.sealer.openBytes(c.name, value, MaxSessionCookies*cookieChunk)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	js, idt, found := bytes.Cut(payload, []byte{0})
	var s Session
	if !found || json.Unmarshal(js, &s) != nil || s.Token == nil {
		// Authenticated, so sealed by this app, but not a session.
		return nil, fmt.Errorf("%w: %w: %s is not a session", ErrNoSession, ErrTampered, c.name)
	}
	if len(idt) > 0 {
		s.Token.IDToken = new(nextidentity.IDToken)
		if err := s.Token.IDToken.UnmarshalBinary(idt); err != nil {
			return nil, fmt.Errorf("%w: %w: %v", ErrNoSession, ErrTampered, err)
		}
	}
	return &s, nil
}

// Delete does nothing: the handlers delete the cookie itself.
func (c *cookieStore) Delete(context.Context, *Session) error { return nil }

// Lock is local to this process: a cookie store shares nothing between
// instances, so two instances may refresh one session at once.
func (c *cookieStore) Lock(_ context.Context, id string, ttl time.Duration) (func(), error) {
	return c.locks.lock(id, ttl, c.now)
}
