package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// hour is the TTL of sessions that must not expire during a case.
const hour = time.Hour

func save(t *testing.T, st nihttp.ServerStore, s *nihttp.Session, ttl time.Duration) {
	t.Helper()
	v, err := saveValue(context.Background(), st, s, ttl)
	require.NoError(t, err)
	require.NotEmpty(t, v)
}

// cookies maps each session ID to the cookie value Save last returned for
// it (IDs are random: one map serves every store and case).
var cookies sync.Map

// saveValue is st.Save, remembering the cookie value for Cookie.
func saveValue(ctx context.Context, st nihttp.ServerStore, s *nihttp.Session, ttl time.Duration) (string, error) {
	v, err := st.Save(ctx, s, ttl)
	if err == nil {
		cookies.Store(s.ID, v)
	}
	return v, err
}

// Cookie returns the cookie value Save last returned for session id, or id
// itself when none was saved (an unknown session, or a raw cookie value).
func Cookie(id string) string {
	if v, ok := cookies.Load(id); ok {
		return v.(string)
	}
	return id
}

// requireGone requires that the session id (or the cookie value, when not
// the ID of a saved session) loads as no session.
func requireGone(t *testing.T, st nihttp.ServerStore, id string) {
	t.Helper()
	s, err := st.Load(context.Background(), Cookie(id))
	require.ErrorIs(t, err, nihttp.ErrNoSession)
	require.Nil(t, s)
}

func requireLive(t *testing.T, st nihttp.ServerStore, want *nihttp.Session) {
	t.Helper()
	got, err := st.Load(context.Background(), Cookie(want.ID))
	require.NoError(t, err)
	RequireSameSession(t, want, got)
}

func testRoundTrip(t *testing.T, st nihttp.ServerStore) {
	for _, tc := range []struct {
		name string
		s    *nihttp.Session
	}{
		{"full", NewSession(t, "user-1", "sid-1")},
		{"no sid", NewSession(t, "user-2", "")},
		{"no raw ID token", func() *nihttp.Session {
			s := NewSession(t, "user-3", "sid-3")
			s.Token.RawIDToken = ""
			return s
		}()},
		{"large custom claims", func() *nihttp.Session {
			s := NewSession(t, "user-4", "sid-4")
			s.Token.IDToken = NewToken(t, strings.Repeat("x", 8<<10), "sid-4").IDToken
			return s
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			save(t, st, tc.s, hour)
			requireLive(t, st, tc.s)
		})
	}
}

func testCopies(t *testing.T, st nihttp.ServerStore) {
	ctx := context.Background()
	s := NewSession(t, "user-1", "sid-1")
	want := *s
	save(t, st, s, hour)
	s.Token.AccessToken = "changed after Save"
	s.Subject = "changed after Save"

	got, err := st.Load(ctx, Cookie(s.ID))
	require.NoError(t, err)
	require.Equal(t, "at-user-1", got.Token.AccessToken, "Save keeps a copy, not the caller's session")
	require.Equal(t, want.Subject, got.Subject)
	got.Token.AccessToken = "changed after Load"

	again, err := st.Load(ctx, Cookie(s.ID))
	require.NoError(t, err)
	require.Equal(t, "at-user-1", again.Token.AccessToken, "Load returns a copy")
}

func testReplace(t *testing.T, st nihttp.ServerStore) {
	s := NewSession(t, "user-1", "sid-1")
	save(t, st, s, hour)
	other := NewSession(t, "user-1", "sid-1")
	save(t, st, other, hour)

	next := *s
	tok := *s.Token
	tok.AccessToken, tok.RefreshToken = "at-2", "rt-2"
	tok.Expiry = tok.Expiry.Add(time.Hour)
	next.Token = &tok
	next.LastSeen = s.LastSeen.Add(5 * time.Minute)
	next.IdleExpiresAt = s.IdleExpiresAt.Add(5 * time.Minute)
	save(t, st, &next, hour)

	requireLive(t, st, &next)
	requireLive(t, st, other)
}

func testDelete(t *testing.T, st nihttp.ServerStore) {
	ctx := context.Background()
	s := NewSession(t, "user-1", "sid-1")
	other := NewSession(t, "user-1", "sid-1")
	save(t, st, s, hour)
	save(t, st, other, hour)

	require.NoError(t, st.Delete(ctx, s))
	requireGone(t, st, s.ID)
	requireLive(t, st, other)

	require.NoError(t, st.Delete(ctx, s), "deleting twice is not an error")
	require.NoError(t, st.Delete(ctx, NewSession(t, "user-9", "")), "deleting an unknown session is not an error")
	requireLive(t, st, other)
}

// testEndedNotSavedBack: a request that loaded a session before it ended
// (logout elsewhere, back-channel logout) cannot save it back afterwards.
func testEndedNotSavedBack(t *testing.T, st nihttp.ServerStore) {
	ctx := context.Background()
	for _, end := range []struct {
		name string
		end  func(s *nihttp.Session)
	}{
		{"Delete", func(s *nihttp.Session) { require.NoError(t, st.Delete(ctx, s)) }},
		{"EndSessions", func(s *nihttp.Session) {
			_, err := st.EndSessions(ctx, s.Subject, "")
			require.NoError(t, err)
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			s := NewSession(t, "user-"+end.name, "sid-1")
			save(t, st, s, hour)
			inFlight, err := st.Load(ctx, Cookie(s.ID))
			require.NoError(t, err)
			end.end(s)
			_, err = saveValue(ctx, st, inFlight, hour)
			require.ErrorIs(t, err, nihttp.ErrNoSession)
			requireGone(t, st, s.ID)
			// A new sign-in (a new ID) is not affected.
			save(t, st, NewSession(t, "user-"+end.name, "sid-1"), hour)
		})
	}
}

func testLoadUnknown(t *testing.T, st nihttp.ServerStore) {
	save(t, st, NewSession(t, "user-1", "sid-1"), hour)
	for _, tc := range []struct{ name, value string }{
		{"unknown id", NewID(t)},
		{"empty", ""},
		{"huge", strings.Repeat("A", 64<<10)},
		{"spaces and braces", " {a} \r\n*?"},
		{"not utf-8", "\xff\xfe\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireGone(t, st, tc.value)
		})
	}
}

func testSaveExpired(t *testing.T, st nihttp.ServerStore) {
	ctx := context.Background()
	for _, ttl := range []time.Duration{0, -time.Second} {
		s := NewSession(t, "user-1", "sid-1")
		_, err := saveValue(ctx, st, s, ttl)
		require.NoError(t, err, "ttl %v", ttl)
		requireGone(t, st, s.ID)

		// Saving an existing session with no time left ends it.
		s = NewSession(t, "user-1", "sid-1")
		save(t, st, s, hour)
		_, err = saveValue(ctx, st, s, ttl)
		require.NoError(t, err, "ttl %v", ttl)
		requireGone(t, st, s.ID)
		n, err := st.EndSessions(ctx, "user-1", "")
		require.NoError(t, err)
		require.Zero(t, n, "an ended session is not counted")
	}
}

func testTTLExpiry(t *testing.T, st nihttp.ServerStore) {
	short := NewSession(t, "user-1", "sid-1")
	long := NewSession(t, "user-1", "sid-1")
	save(t, st, short, ShortTTL)
	save(t, st, long, hour)
	requireLive(t, st, short)

	require.Eventually(t, func() bool {
		_, err := st.Load(context.Background(), Cookie(short.ID))
		return err != nil
	}, expiryWait, 50*time.Millisecond, "a session is forgotten after its ttl")
	requireGone(t, st, short.ID)
	requireLive(t, st, long)

}
