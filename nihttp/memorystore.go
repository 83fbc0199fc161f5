package nihttp

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryStore keeps sessions in this process: for one instance, and for
// tests. Sessions are lost when the process ends. It is a ServerStore, so
// logout ends a session for every copy of its cookie.
type MemoryStore struct {
	locks localLocks
	now   func() time.Time

	mu       sync.Mutex
	sessions map[string]memoryEntry // by session ID
	ended    map[string]time.Time   // ended session IDs, until when Save refuses them
	saves    int
}

// endedTTL is how long an ended session's ID is refused by Save, so that a
// request that loaded the session just before it ended (a logout, a
// back-channel logout) cannot bring it back when it records activity or
// finishes a refresh.
const endedTTL = 10 * time.Minute

type memoryEntry struct {
	s            *Session // a copy (cloneSession), so no caller shares it
	subject, sid string
	deadline     time.Time
}

// sweepEvery is how many saves pass between two sweeps of expired sessions.
const sweepEvery = 256

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{sessions: map[string]memoryEntry{}, ended: map[string]time.Time{}, now: time.Now}
}

// Save implements SessionStore. A session that was ended (Delete,
// EndSessions, or a Save with no time left) is not saved again for ten
// minutes: Save returns an error wrapping ErrNoSession.
func (m *MemoryStore) Save(_ context.Context, s *Session, ttl time.Duration) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.saves++; m.saves%sweepEvery == 0 {
		m.sweepLocked(now)
	}
	if until, ok := m.ended[s.ID]; ok && now.Before(until) {
		return "", fmt.Errorf("nihttp: the session was ended and is not saved again: %w", ErrNoSession)
	}
	if ttl <= 0 {
		m.endLocked(s.ID, now)
		return s.ID, nil
	}
	m.sessions[s.ID] = memoryEntry{s: cloneSession(s), subject: s.Subject, sid: s.SID, deadline: now.Add(ttl)}
	return s.ID, nil
}

// sweepLocked drops expired sessions and tombstones.
func (m *MemoryStore) sweepLocked(now time.Time) {
	for id, e := range m.sessions {
		if !now.Before(e.deadline) {
			delete(m.sessions, id)
		}
	}
	for id, until := range m.ended {
		if !now.Before(until) {
			delete(m.ended, id)
		}
	}
}

// endLocked deletes a session and refuses its ID for endedTTL.
func (m *MemoryStore) endLocked(id string, now time.Time) {
	delete(m.sessions, id)
	m.ended[id] = now.Add(endedTTL)
}

// Load implements SessionStore.
func (m *MemoryStore) Load(_ context.Context, id string) (*Session, error) {
	m.mu.Lock()
	e, ok := m.sessions[id]
	if ok && !m.now().Before(e.deadline) {
		delete(m.sessions, id)
		ok = false
	}
	m.mu.Unlock()
	if !ok {
		return nil, ErrNoSession
	}
	return cloneSession(e.s), nil
}

// Delete implements SessionStore.
func (m *MemoryStore) Delete(_ context.Context, s *Session) error {
	m.mu.Lock()
	m.endLocked(s.ID, m.now())
	m.mu.Unlock()
	return nil
}

// Lock implements SessionStore with a lock local to this process.
func (m *MemoryStore) Lock(_ context.Context, id string, ttl time.Duration) (func(), error) {
	return m.locks.lock(id, ttl, m.now)
}

// EndSessions implements ServerStore.
func (m *MemoryStore) EndSessions(_ context.Context, subject, sid string) (int, error) {
	if subject == "" && sid == "" {
		return 0, fmt.Errorf("nihttp: EndSessions needs a subject or a sid")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	now := m.now()
	for id, e := range m.sessions {
		if (subject == "" || e.subject == subject) && (sid == "" || e.sid == sid) {
			if now.Before(e.deadline) {
				n++
			}
			m.endLocked(id, now)
		}
	}
	return n, nil
}

// localLocks are refresh locks held in this process, with an expiry so a
// holder that never unlocks cannot block a session for ever.
type localLocks struct {
	mu   sync.Mutex
	held map[string]localLock
	seq  uint64
}

type localLock struct {
	seq     uint64
	expires time.Time
}

func (l *localLocks) lock(id string, ttl time.Duration, now func() time.Time) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := now()
	if h, ok := l.held[id]; ok && t.Before(h.expires) {
		return nil, ErrLocked
	}
	if l.held == nil {
		l.held = map[string]localLock{}
	}
	l.seq++
	mine := l.seq
	l.held[id] = localLock{seq: mine, expires: t.Add(ttl)}
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if h, ok := l.held[id]; ok && h.seq == mine {
			delete(l.held, id)
		}
	}, nil
}
