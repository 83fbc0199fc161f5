package nihttp

import (
	"context"
	"errors"
	"fmt"
	"time"
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
func (c *cookieStore) Save(_ context.Context, s *Session, ttl time.Duration) (string, error) {
	slim := *s
	if s.Token != nil {
		tok := *s.Token
		tok.RawIDToken = ""
		slim.Token = &tok
	}
	v, err := c.sealer.seal(c.name, &slim, ttl)
	if err != nil {
		return "", err
	}
	if len(v) > MaxSessionCookies*cookieChunk {
		return "", fmt.Errorf("%w: %d bytes sealed, %d cookies of %d bytes allowed",
			ErrSessionTooLarge, len(v), MaxSessionCookies, cookieChunk)
	}
	return v, nil
}

// Load opens a sealed session; one that does not open is no session.
func (c *cookieStore) Load(_ context.Context, value string) (*Session, error) {
	var s Session
	if err := c.sealer.open(c.name, value, MaxSessionCookies*cookieChunk, &s); err != nil {
		if errors.Is(err, ErrTampered) || errors.Is(err, ErrExpired) {
			return nil, fmt.Errorf("%w: %w", ErrNoSession, err)
		}
		return nil, err
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
