package nihttp

import (
	"context"
	"net/http"
	"time"

	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// failureReasons name the session layer's failures in spans and metrics;
// nextidentity's own sentinels follow them. ErrNoSession and ErrLocked are
// answers, not failures: a store call that returns them has that outcome.
var failureReasons = []telemetry.Reason{
	{Err: ErrNoSession, Word: "no_session", Benign: true},
	{Err: ErrLocked, Word: "locked", Benign: true},
	{Err: ErrNoLoginState, Word: "no_login_state"},
	{Err: ErrLoginLoop, Word: "login_loop"},
	{Err: ErrCrossSite, Word: "cross_site"},
	{Err: ErrSessionTooLarge, Word: "session_too_large"},
	{Err: ErrRefreshFailed, Word: "refresh_failed"},
	{Err: ErrStoreUnavailable, Word: "store_unavailable"},
	{Err: ErrTampered, Word: "tampered"},
	{Err: ErrExpired, Word: "expired_cookie"},
}

// newTelemetry creates the handlers' tracer and instruments from
// cfg.TracerProvider and cfg.MeterProvider, else the Client's providers.
func newTelemetry(cfg *Config) *telemetry.Telemetry {
	tp, mp := cfg.TracerProvider, cfg.MeterProvider
	if tp == nil && cfg.Client != nil {
		tp = cfg.Client.TracerProvider()
	}
	if mp == nil && cfg.Client != nil {
		mp = cfg.Client.MeterProvider()
	}
	return telemetry.New(tp, mp, failureReasons)
}

// traced starts the span of a handler operation (login, callback) and
// returns the request carrying it and the function that ends it. OnError
// marks the operation failed (see recordFailure).
func (h *Handlers) traced(r *http.Request, k telemetry.Kind) (*http.Request, func()) {
	ctx, op := h.tel.StartRecorded(r.Context(), k)
	return r.WithContext(ctx), op.EndRecorded
}

// recordFailure wraps OnError so that a failed login or callback records
// its reason on the operation's span.
func recordFailure(onError func(http.ResponseWriter, *http.Request, error)) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		telemetry.Fail(r.Context(), err)
		onError(w, r, err)
	}
}

// instrument wraps a store so that each call is measured (nihttp.store.*
// spans under a recording parent, nextidentity.store.* metrics). With
// no-op providers a call costs a context lookup and two Enabled checks.
func instrument(s SessionStore, tel *telemetry.Telemetry) SessionStore {
	ts := tracedStore{s: s, tel: tel}
	if ss, ok := s.(ServerStore); ok {
		return tracedServerStore{tracedStore: ts, ss: ss}
	}
	return ts
}

// baseStore returns the store an instrumented one wraps.
func baseStore(s SessionStore) SessionStore {
	switch t := s.(type) {
	case tracedStore:
		return t.s
	case tracedServerStore:
		return t.s
	}
	return s
}

type tracedStore struct {
	s   SessionStore
	tel *telemetry.Telemetry
}

func (t tracedStore) Save(ctx context.Context, s *Session, ttl time.Duration) (_ string, err error) {
	if !t.tel.Active(ctx, telemetry.StoreSave) {
		return t.s.Save(ctx, s, ttl)
	}
	ctx, op := t.tel.Start(ctx, telemetry.StoreSave)
	defer op.End(&err)
	return t.s.Save(ctx, s, ttl)
}

func (t tracedStore) Load(ctx context.Context, cookieValue string) (_ *Session, err error) {
	if !t.tel.Active(ctx, telemetry.StoreLoad) {
		return t.s.Load(ctx, cookieValue)
	}
	ctx, op := t.tel.Start(ctx, telemetry.StoreLoad)
	defer op.End(&err)
	return t.s.Load(ctx, cookieValue)
}

func (t tracedStore) Delete(ctx context.Context, s *Session) (err error) {
	if !t.tel.Active(ctx, telemetry.StoreDelete) {
		return t.s.Delete(ctx, s)
	}
	ctx, op := t.tel.Start(ctx, telemetry.StoreDelete)
	defer op.End(&err)
	return t.s.Delete(ctx, s)
}

func (t tracedStore) Lock(ctx context.Context, id string, ttl time.Duration) (_ func(), err error) {
	if !t.tel.Active(ctx, telemetry.StoreLock) {
		return t.s.Lock(ctx, id, ttl)
	}
	ctx, op := t.tel.Start(ctx, telemetry.StoreLock)
	defer op.End(&err)
	return t.s.Lock(ctx, id, ttl)
}

type tracedServerStore struct {
	tracedStore
	ss ServerStore
}

func (t tracedServerStore) EndSessions(ctx context.Context, subject, sid string) (int, error) {
	return t.ss.EndSessions(ctx, subject, sid)
}
