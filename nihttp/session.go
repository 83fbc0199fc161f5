package nihttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

const (
	// touchInterval: a session's LastSeen is written at most this often,
	// so most requests write nothing to the store or the cookie.
	touchInterval = time.Minute
	// refreshLockTTL bounds how long one refresh holds a session's lock;
	// it exceeds nextidentity.DefaultHTTPTimeout.
	refreshLockTTL = 35 * time.Second
	// refreshWait bounds how long a request waits for another request's
	// refresh before it goes on with the old tokens.
	refreshWait = 15 * time.Second
	// recentTTL and recentMax bound the memory of recent refreshes, which
	// lets requests that still carry a refreshed session's old cookie (the
	// cookie store) pick up the new tokens instead of redeeming the
	// rotated refresh token again.
	recentTTL = 30 * time.Second
	recentMax = 1024
)

// Session returns the request's live session, refreshing its tokens first
// when they have expired or will within the client's RefreshMargin
// (nextidentity.Config.RefreshMargin, default 30 s) and it has a refresh
// token. However many requests, on however many instances, find the
// same session due, its refresh token is redeemed once: they take the
// store's lock in turn and the later ones read the first one's result.
//
// The errors: ErrNoSession when signed out (also when the provider refused
// the refresh token with invalid_grant, which ends the session); the
// session AND an error wrapping ErrRefreshFailed when the provider could
// not refresh (the session keeps its old tokens); ErrStoreUnavailable when
// the store cannot answer.
func (h *Handlers) Session(w http.ResponseWriter, r *http.Request) (*Session, error) {
	if s := SessionFrom(r.Context()); s != nil {
		return s, nil
	}
	s, value, err := h.load(r)
	if err != nil {
		if errors.Is(err, ErrNoSession) {
			h.clearSessionCookies(w, r)
		}
		return nil, err
	}
	now := h.cfg.Now()
	refreshMargin := h.cfg.Client.RefreshMargin()
	if t := s.Token; t != nil && t.RefreshToken != "" && !t.Expiry.IsZero() && !now.Add(refreshMargin).Before(t.Expiry) {
		ns, err := h.refresh(w, r, s, value)
		if ns != nil && err != nil {
			// Kept with its old tokens (an outage): the request is still
			// activity, or the idle timeout would sign the user out.
			ns = h.touch(w, r, ns, value, now)
		}
		return ns, err
	}
	if _, cookies := baseStore(h.store).(*cookieStore); cookies && s.Token != nil && s.Token.RefreshToken != "" &&
		!s.Token.Expiry.IsZero() && !now.Add(refreshMargin+h.touchEvery()).Before(s.Token.Expiry) {
		// A refresh is due within touchEvery and will record the activity.
		// A cookie written now with the old tokens could reach the browser
		// after the refresh's cookie and put back a spent refresh token.
		return s, nil
	}
	return h.touch(w, r, s, value, now), nil
}

// touch records the request as the session's activity when the last
// record is older than touchEvery, and returns the session to serve. The
// write happens under the session's lock, after reloading it, so that it
// never puts back tokens a concurrent refresh has replaced (the provider
// rotates refresh tokens, so that would end the session later). When the
// lock is held, a refresh or another touch is under way and this request
// writes nothing.
func (h *Handlers) touch(w http.ResponseWriter, r *http.Request, s *Session, value string, now time.Time) *Session {
	if now.Sub(s.LastSeen) < h.touchEvery() {
		return s
	}

	unlock, err := h.store.Lock(r.Context(), s.ID, refreshLockTTL)
	if err != nil {
		if !errors.Is(err, ErrLocked) {
			h.log.Warn("nihttp: recording session activity", "err", err)
		}
		return s
	}
	defer unlock()
	cur := s
	if fresh, err := h.store.Load(r.Context(), value); err == nil && fresh.Token != nil && s.Token != nil &&
		fresh.Token.AccessToken != s.Token.AccessToken {
		cur = fresh // refreshed meanwhile (a server-side store)
	} else if s.Token != nil {
		if done := h.recent.get(s.ID, s.Token.AccessToken, now); done != nil {
			cur = done // refreshed meanwhile (a cookie carrying the old tokens)
		}
	}
	if err := h.save(w, r, cur, now); err != nil {
		h.log.Warn("nihttp: recording session activity", "err", err)
		return s
	}
	return cur
}

// touchEvery is how often a session's activity is written: at most once a
// minute, and often enough for a short IdleTimeout.
func (h *Handlers) touchEvery() time.Duration {
	if h.cfg.IdleTimeout > 0 {
		return min(touchInterval, h.cfg.IdleTimeout/4)
	}
	return touchInterval
}

// Refresh refreshes the request's session's tokens now, whether or not
// they have expired (a "refresh now" action), with the same guarantees and
// errors as Session.
func (h *Handlers) Refresh(w http.ResponseWriter, r *http.Request) (*Session, error) {
	s, value, err := h.load(r)
	if err != nil {
		return nil, err
	}
	return h.refresh(w, r, s, value)
}

// EndSessions ends every session of subject, on every instance sharing the
// store ("sign this user out everywhere"), and returns how many it ended.
// It needs a ServerStore.
func (h *Handlers) EndSessions(ctx context.Context, subject string) (int, error) {
	ss, ok := h.store.(ServerStore)
	if !ok {
		return 0, errors.New("nihttp: EndSessions needs a ServerStore (the cookie store keeps no sessions on the server)")
	}
	if subject == "" {
		return 0, errors.New("nihttp: EndSessions needs a subject")
	}
	n, err := ss.EndSessions(ctx, subject, "")
	if err != nil {
		return n, storeError(err)
	}
	return n, nil
}

// load returns the request's live session and the cookie value that named
// it. Every session cookie value (and combination of chunks) is tried, so a
// planted cookie cannot shadow the real one.
func (h *Handlers) load(r *http.Request) (*Session, string, error) {
	now := h.cfg.Now()
	for _, v := range chunkedValues(r, h.sessionCookie) {
		s, err := h.store.Load(r.Context(), v)
		switch {
		case errors.Is(err, ErrNoSession):
			continue
		case err != nil:
			return nil, "", storeError(err)
		case !now.Before(s.ExpiresAt) || !s.IdleExpiresAt.IsZero() && !now.Before(s.IdleExpiresAt):
			if err := h.store.Delete(r.Context(), s); err != nil {
				h.log.Warn("nihttp: deleting an expired session", "err", err)
			}
			continue
		}
		return s, v, nil
	}
	return nil, "", ErrNoSession
}

// storeError wraps a store's failure in ErrStoreUnavailable, once; the
// store's answers that are not failures (no such session, too large) pass.
func storeError(err error) error {
	if errors.Is(err, ErrStoreUnavailable) || errors.Is(err, ErrSessionTooLarge) || errors.Is(err, ErrNoSession) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// save records s as seen now, stores it and sets its cookie.
func (h *Handlers) save(w http.ResponseWriter, r *http.Request, s *Session, now time.Time) error {
	s.LastSeen = now
	s.IdleExpiresAt = time.Time{}
	if h.cfg.IdleTimeout > 0 {
		s.IdleExpiresAt = now.Add(h.cfg.IdleTimeout)
		if s.IdleExpiresAt.After(s.ExpiresAt) {
			s.IdleExpiresAt = s.ExpiresAt
		}
	}
	ttl := s.Deadline().Sub(now)
	value, err := h.store.Save(r.Context(), s, ttl)
	if err != nil {
		if errors.Is(err, ErrSessionTooLarge) {
			h.opsLog.LogAttrs(r.Context(), slog.LevelError,
				"nihttp: a session is too large for the default cookie store, so the user cannot stay signed in: "+
					"set Config.Store to a server-side store (nihttp/redisstore, or nihttp.NewMemoryStore for a single instance)",
				slog.String("err", err.Error()), slog.Int("max_sealed_bytes", MaxSessionCookies*cookieChunk))
		}
		return storeError(err)
	}
	h.setChunked(w, r, h.sessionCookie, value, s.ExpiresAt.Sub(now))
	return nil
}

// refresh redeems s's refresh token under the session's lock; see Session.
func (h *Handlers) refresh(w http.ResponseWriter, r *http.Request, s *Session, value string) (_ *Session, err error) {
	tctx, op := h.tel.Start(r.Context(), telemetry.SessionRefresh)
	defer op.End(&err)
	r = r.WithContext(tctx)
	if s.Token == nil || s.Token.RefreshToken == "" {
		return s, fmt.Errorf("%w: %w", ErrRefreshFailed, nextidentity.ErrNoRefreshToken)
	}
	ctx := r.Context()
	unlock, err := h.lock(ctx, s.ID)
	if err != nil {
		return s, err
	}
	defer unlock()
	old := s.Token.AccessToken
	// Another request may have refreshed while this one waited.
	cur, err := h.store.Load(ctx, value)
	switch {
	case errors.Is(err, ErrNoSession):
		h.clearSessionCookies(w, r)
		return nil, err
	case err != nil:
		return s, storeError(err)
	case cur.Token != nil && cur.Token.AccessToken != old:
		return cur, nil
	}
	if done := h.recent.get(s.ID, old, h.cfg.Now()); done != nil {
		if err := h.save(w, r, done, h.cfg.Now()); err != nil {
			return s, err
		}
		return done, nil
	}
	// The provider call ends before the lock does, whatever the Client's
	// own timeout, or a second request could take the lock and redeem the
	// same (rotated) refresh token.
	rctx, cancel := context.WithTimeout(ctx, refreshLockTTL-5*time.Second)
	nt, err := h.cfg.Client.Refresh(rctx, s.Token)
	cancel()
	if errors.Is(err, nextidentity.ErrInvalidGrant) {
		// The provider ended the grant: so does the session.
		if derr := h.store.Delete(ctx, s); derr != nil {
			h.log.Warn("nihttp: deleting a session whose refresh was refused", "err", derr)
		}
		h.clearSessionCookies(w, r)
		return nil, fmt.Errorf("%w: the provider refused the refresh token: %w", ErrNoSession, err)
	}
	if err != nil {
		return s, fmt.Errorf("%w: %w", ErrRefreshFailed, err)
	}
	ns := *s
	ns.Token = nt
	now := h.cfg.Now()
	// Remembered before the save: if the store fails now, the next request
	// still finds the new tokens here instead of redeeming the spent
	// refresh token.
	h.recent.put(s.ID, old, &ns, now)
	if err := h.save(w, r, &ns, now); err != nil {
		if errors.Is(err, ErrSessionTooLarge) || errors.Is(err, ErrNoSession) {
			// The provider has rotated the refresh token, so the old
			// session cannot go on (or it ended meanwhile, a logout on
			// another instance); it ends with an error that says why.
			h.clearSessionCookies(w, r)
			return nil, err
		}
		return s, err
	}
	return &ns, nil
}

// lock takes the session's refresh lock, waiting for another holder for
// at most refreshWait.
func (h *Handlers) lock(ctx context.Context, id string) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, refreshWait)
	defer cancel()
	wait := 5 * time.Millisecond
	for {
		unlock, err := h.store.Lock(ctx, id, refreshLockTTL)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, ErrLocked) {
			return nil, storeError(err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w: waiting for another request's refresh: %w", ErrRefreshFailed, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// refreshed remembers, for recentTTL, the session each refresh produced,
// keyed by session ID and the access token it replaced.
type refreshed struct {
	mu sync.Mutex
	m  map[string]recentRefresh
}

type recentRefresh struct {
	s     *Session
	until time.Time
}

func (rf *refreshed) get(id, oldAccessToken string, now time.Time) *Session {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	e, ok := rf.m[id+"\x00"+oldAccessToken]
	if !ok || !now.Before(e.until) {
		return nil
	}
	cp := *e.s
	return &cp
}

func (rf *refreshed) put(id, oldAccessToken string, s *Session, now time.Time) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.m == nil {
		rf.m = map[string]recentRefresh{}
	}
	if len(rf.m) >= recentMax {
		for k, e := range rf.m {
			if !now.Before(e.until) || len(rf.m) >= recentMax {
				delete(rf.m, k)
			}
		}
	}
	cp := *s
	rf.m[id+"\x00"+oldAccessToken] = recentRefresh{s: &cp, until: now.Add(recentTTL)}
}
