package nihttp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
)

// tenantStore keeps one tenant's sessions in a store several tenants may
// share: it prefixes the session's ID, subject and SID with the tenant's
// name and "_" before the store sees them, and takes them off again on the
// way back. A session another tenant saved loads as no session, and
// EndSessions (back-channel logout, "sign out everywhere") reaches only the
// tenant's own sessions, even for a subject that exists at both providers.
type tenantStore struct {
	inner  SessionStore
	prefix string // tenant name + "_"
}

// tenantServerStore is a tenantStore over a ServerStore.
type tenantServerStore struct {
	tenantStore
	server ServerStore
}

// namespaced wraps store for the tenant, keeping it a ServerStore when it
// is one.
func namespaced(store SessionStore, tenant string) SessionStore {
	ts := tenantStore{inner: store, prefix: tenant + "_"}
	if ss, ok := store.(ServerStore); ok {
		return &tenantServerStore{tenantStore: ts, server: ss}
	}
	return &ts
}

// in prefixes a non-empty v.
func (t *tenantStore) in(v string) string {
	if v == "" {
		return ""
	}
	return t.prefix + v
}

// out strips the prefix from v; ok is false when v (not empty) lacks it.
func (t *tenantStore) out(v string) (string, bool) {
	if v == "" {
		return "", true
	}
	return strings.CutPrefix(v, t.prefix)
}

func (t *tenantStore) wrap(s *Session) *Session {
	cp := *s
	cp.ID, cp.Subject, cp.SID = t.in(s.ID), t.in(s.Subject), t.in(s.SID)
	return &cp
}

// Save implements SessionStore.
func (t *tenantStore) Save(ctx context.Context, s *Session, ttl time.Duration) (string, error) {
	return t.inner.Save(ctx, t.wrap(s), ttl)
}

// Load implements SessionStore: a session of another tenant is no session.
func (t *tenantStore) Load(ctx context.Context, value string) (*Session, error) {
	s, err := t.inner.Load(ctx, value)
	if err != nil {
		return nil, err
	}
	id, ok1 := t.out(s.ID)
	sub, ok2 := t.out(s.Subject)
	sid, ok3 := t.out(s.SID)
	if s.ID == "" || !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("%w: the session belongs to another tenant", ErrNoSession)
	}
	s.ID, s.Subject, s.SID = id, sub, sid
	return s, nil
}

// Delete implements SessionStore.
func (t *tenantStore) Delete(ctx context.Context, s *Session) error {
	return t.inner.Delete(ctx, t.wrap(s))
}

// Lock implements SessionStore.
func (t *tenantStore) Lock(ctx context.Context, id string, ttl time.Duration) (func(), error) {
	return t.inner.Lock(ctx, t.in(id), ttl)
}

// Ping implements Pinger with the inner store's Ping; a store without one
// is asked for a session that does not exist, as Ready asks a ServerStore.
func (t *tenantStore) Ping(ctx context.Context) error {
	if p, ok := t.inner.(Pinger); ok {
		return p.Ping(ctx)
	}
	if _, err := t.inner.Load(ctx, rand.Text()); err != nil && !errors.Is(err, ErrNoSession) {
		return err
	}
	return nil
}

// EndSessions implements ServerStore, for the tenant's sessions only.
func (t *tenantServerStore) EndSessions(ctx context.Context, subject, sid string) (int, error) {
	if subject == "" && sid == "" {
		return 0, fmt.Errorf("nihttp: EndSessions needs a subject or a sid")
	}
	return t.server.EndSessions(ctx, t.in(subject), t.in(sid))
}
