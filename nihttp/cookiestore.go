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
// the verified claims are kept, in the binary encoding
// (Session.MarshalBinary), compressed.
//
// A cookie store cannot end a session on the server: a copy of the cookie
// taken before logout keeps working until the session expires (idle or
// absolute). Use a ServerStore where that matters.
type cookieStore struct {
	sealer *sealer
	name   string // the AAD: the session cookie's name
	locks  localLocks
	now    func() time.Time
	cache  sessionCache
}

// The sealed payload's first byte says how it is encoded:
const (
	// payloadBinary: the session's MarshalBinary encoding as it stands
	// (its own first byte, the version, doubles as the tag).
	payloadBinary = sessionBinaryVersion
	// payloadDeflate: the MarshalBinary encoding compressed
	// (appendDeflate), used whenever that is smaller.
	payloadDeflate = 0x80 | sessionBinaryVersion
	// payloadJSON: the encoding of earlier versions, still read so that
	// cookies already in browsers keep working: the session as JSON
	// without its ID token, a zero byte, then IDToken.MarshalBinary.
	payloadJSON = '{'
)

// Save seals s, compressed when that makes it smaller (see compress.go);
// the value is at most MaxSessionCookies cookies long.
func (c *cookieStore) Save(_ context.Context, s *Session, ttl time.Duration) (string, error) {
	slim := *s
	if s.Token != nil && s.Token.RawIDToken != "" {
		// The raw ID token is dropped, the verified claims are kept:
		// Logout sends no id_token_hint from a cookie session (Next
		// Identity's end-session endpoint takes client_id).
		tok := *s.Token
		tok.RawIDToken = ""
		slim.Token = &tok
	}
	bin, err := slim.MarshalBinary()
	if err != nil {
		return "", err
	}
	payload := bin
	if z := appendDeflate(make([]byte, 1, len(bin)), bin); len(z) < len(bin) {
		z[0] = payloadDeflate
		payload = z
	}
	v := c.sealer.sealBytes(c.name, payload, ttl)
	if len(v) > MaxSessionCookies*cookieChunk {
		return "", fmt.Errorf("%w: %d bytes sealed, %d cookies of %d bytes allowed",
			ErrSessionTooLarge, len(v), MaxSessionCookies, cookieChunk)
	}
	return v, nil
}

// Load opens a sealed session, or finds it in the cache of sessions
// already opened (see sessionCache); one that does not open, or opens but
// does not decode, is no session.
func (c *cookieStore) Load(_ context.Context, value string) (*Session, error) {
	if s := c.cache.get(value, c.sealer.now()); s != nil {
		return s, nil
	}
	payload, expires, err := c.sealer.openExpiry(c.name, value, MaxSessionCookies*cookieChunk)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSession, err)
	}
	s, err := decodePayload(payload)
	if err != nil || s.Token == nil {
		// Authenticated, so sealed by this app, but not a session.
		return nil, fmt.Errorf("%w: %w: %s is not a session: %v", ErrNoSession, ErrTampered, c.name, err)
	}
	c.cache.put(value, s, expires)
	return s, nil
}

// decodePayload decodes a sealed session's payload, in any of the
// encodings above.
func decodePayload(payload []byte) (*Session, error) {
	var s Session
	if len(payload) == 0 {
		return nil, errBadSession
	}
	switch payload[0] {
	case payloadBinary:
		return &s, s.UnmarshalBinary(payload)
	case payloadDeflate:
		bin, err := inflate(payload[1:], maxSessionBinary)
		if err != nil {
			return nil, err
		}
		return &s, s.UnmarshalBinary(bin)
	case payloadJSON:
		js, idt, found := bytes.Cut(payload, []byte{0})
		if !found {
			return nil, errBadSession
		}
		if err := json.Unmarshal(js, &s); err != nil {
			return nil, err
		}
		if len(idt) > 0 && s.Token != nil {
			s.Token.IDToken = new(nextidentity.IDToken)
			if err := s.Token.IDToken.UnmarshalBinary(idt); err != nil {
				return nil, err
			}
		}
		return &s, nil
	}
	return nil, errBadSession
}

// Delete does nothing: the handlers delete the cookie itself.
func (c *cookieStore) Delete(context.Context, *Session) error { return nil }

// Lock is local to this process: a cookie store shares nothing between
// instances, so two instances may refresh one session at once.
func (c *cookieStore) Lock(_ context.Context, id string, ttl time.Duration) (func(), error) {
	return c.locks.lock(id, ttl, c.now)
}
