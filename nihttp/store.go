package nihttp

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// Errors of the session layer.
var (
	// ErrNoSession means the request has no live session: no session
	// cookie, or one whose session expired, was ended or is unknown.
	ErrNoSession = errors.New("nihttp: no session")
	// ErrStoreUnavailable wraps a session store's failure to answer (for
	// example Redis cannot be reached). It never means "signed out":
	// RequireLogin answers it with 503.
	ErrStoreUnavailable = errors.New("nihttp: session store unavailable")
	// ErrLocked is returned by SessionStore.Lock while another request, on
	// this instance or another, holds the session's refresh lock.
	ErrLocked = errors.New("nihttp: session is locked by another request")
	// ErrSessionTooLarge means a session does not fit the cookie store's
	// cookies (MaxSessionCookies of them). Use a server-side store
	// (nihttp/redisstore, or NewMemoryStore for one instance) for users
	// with large tokens or many custom claims.
	ErrSessionTooLarge = errors.New("nihttp: session too large for the cookie store; use a server-side store such as nihttp/redisstore")
	// ErrRefreshFailed wraps a failed token refresh that kept the session
	// (the provider was unreachable or failed): the session still holds
	// its old tokens.
	ErrRefreshFailed = errors.New("nihttp: token refresh failed; the session keeps its old tokens")
)

// Session is a signed-in user's session.
//
// What a SessionStore returns is trusted: the tokens in it were verified
// when the session was created or refreshed and are not verified again.
type Session struct {
	// ID identifies the session: at least 128 random bits, base64url. It
	// is not a credential: MemoryStore's cookie carries the ID alone, but
	// redisstore's carries it with StoreSecret, and the cookie store's
	// carries the sealed session.
	ID string `json:"id"`
	// Token holds the current tokens; Token.IDToken holds the verified ID
	// token's claims (Token.IDToken.Claims decodes custom ones). The cookie
	// store drops Token.RawIDToken to save space.
	Token *nextidentity.Token `json:"token"`
	// Subject is the ID token's "sub": the user.
	Subject string `json:"sub"`
	// SID is the ID token's "sid" (the provider's session), when it sent
	// one. Back-channel logout ends sessions by it.
	SID string `json:"sid,omitempty"`
	// CreatedAt is when the user signed in.
	CreatedAt time.Time `json:"created"`
	// AuthTime is when the user last authenticated at the provider: the
	// ID token's auth_time at sign-in, kept across refreshes. Zero when the
	// provider did not say. RequireRecentLogin compares it with its maxAge.
	AuthTime time.Time `json:"auth,omitzero"`
	// ExpiresAt is CreatedAt + Config.SessionLifetime: the session ends
	// then, however active.
	ExpiresAt time.Time `json:"expires"`
	// LastSeen is when the session last served a request, kept to within
	// a minute so that most requests write nothing.
	LastSeen time.Time `json:"seen"`
	// IdleExpiresAt is when the session ends unless it serves a request
	// before: LastSeen + Config.IdleTimeout, never after ExpiresAt.
	IdleExpiresAt time.Time `json:"idle"`
	// StoreSecret is the secret half of the cookie value of a store that
	// seals each session under a secret only its cookie carries
	// (redisstore): Load sets it and Save needs it back, so it travels
	// with the session (and its copies) and goes nowhere else. Save sets
	// it on a session that has none. Other stores leave it empty. It is
	// not part of the session's encoding (its JSON leaves it out), and it
	// prints and logs as "[redacted]".
	StoreSecret StoreSecret `json:"-"`
}

// StoreSecret is a session store's secret for one session (see
// Session.StoreSecret). fmt and log/slog show it as "[redacted]".
type StoreSecret string

// String returns "[redacted]", never the secret.
func (StoreSecret) String() string { return "[redacted]" }

// GoString returns "[redacted]", never the secret.
func (StoreSecret) GoString() string { return "[redacted]" }

// LogValue returns "[redacted]", never the secret.
func (StoreSecret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// authTime is AuthTime, or for a session saved before it was recorded the
// ID token's auth_time.
func (s *Session) authTime() time.Time {
	if s.AuthTime.IsZero() && s.Token != nil && s.Token.IDToken != nil {
		return s.Token.IDToken.AuthTime
	}
	return s.AuthTime
}

// Deadline is when the session ends if nothing happens: the earlier of
// ExpiresAt and IdleExpiresAt. Stores keep a session until then.
func (s *Session) Deadline() time.Time {
	if !s.IdleExpiresAt.IsZero() && s.IdleExpiresAt.Before(s.ExpiresAt) {
		return s.IdleExpiresAt
	}
	return s.ExpiresAt
}

// SessionStore keeps sessions between requests. The handlers call it; an
// application calls the handlers (Session, RequireLogin, Logout), not the
// store. Implementations must be safe for concurrent use. Every error but
// one wrapping ErrNoSession (or ErrLocked from Lock) is taken to mean the
// store could not answer.
//
// The default store (Config.Store nil) seals the whole session into
// cookies; NewMemoryStore keeps sessions in this process; package
// nihttp/redisstore keeps them in Redis for many instances.
type SessionStore interface {
	// Save creates or replaces s and returns the value the session cookie
	// carries: s.ID for MemoryStore, s.ID and s.StoreSecret for
	// redisstore, the sealed session for the cookie store. The store keeps s for ttl (s.Deadline() by the
	// handlers' clock, Config.Now), then forgets it.
	Save(ctx context.Context, s *Session, ttl time.Duration) (cookieValue string, err error)
	// Load returns the session a cookie value names, or an error wrapping
	// ErrNoSession when there is none (unknown, deleted or expired).
	Load(ctx context.Context, cookieValue string) (*Session, error)
	// Delete ends the session; deleting a missing session is not an error.
	Delete(ctx context.Context, s *Session) error
	// Lock takes the refresh lock of session id for at most ttl, across
	// every instance that shares the store, so that a session's refresh
	// token (which the provider rotates) is redeemed once. It returns
	// ErrLocked, at once, while another caller holds the lock; unlock
	// releases it if this caller still holds it.
	Lock(ctx context.Context, id string, ttl time.Duration) (unlock func(), err error)
}

// ServerStore is a SessionStore that keeps sessions on the server: logout
// ends a session for every copy of its cookie, and a user's sessions can be
// ended from elsewhere (back-channel logout, "sign out everywhere").
// MemoryStore and redisstore.Store are ServerStores; the cookie store is
// not.
type ServerStore interface {
	SessionStore
	// EndSessions deletes the sessions of subject, or when sid is not
	// empty only those with that SID (subject may then be empty), and
	// returns how many it deleted.
	EndSessions(ctx context.Context, subject, sid string) (int, error)
}

// Pinger is implemented by a SessionStore that can tell whether it can
// answer now (redisstore.Store does). Login asks it before sending a
// browser to the provider, and answers 503 (OnError with an error wrapping
// ErrStoreUnavailable) when it cannot: the callback could not save the
// session it would create, and the sign-in would end in an error page
// after the user typed a password. Ping costs Login one round trip to the
// store; a store without it is not asked.
type Pinger interface {
	// Ping returns nil when the store can save sessions now, and an error
	// (which Login wraps in ErrStoreUnavailable) when it cannot.
	Ping(ctx context.Context) error
}
