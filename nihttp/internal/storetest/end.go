package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// testEndSessions gives each row a store of its own.
func testEndSessions(t *testing.T, newStore func(t *testing.T) nihttp.ServerStore) {
	// Sessions by name: user-1 has three (two provider sessions, and one
	// without a sid), user-2 one.
	type fixture map[string]*nihttp.Session
	mk := func(t *testing.T) fixture {
		return fixture{
			"a": NewSession(t, "user-1", "sid-1"),
			"b": NewSession(t, "user-1", "sid-2"),
			"c": NewSession(t, "user-1", ""),
			"d": NewSession(t, "user-2", "sid-3"),
			"e": NewSession(t, "user-1", "sid-1"), // a second app session in provider session sid-1
		}
	}
	for _, tc := range []struct {
		name         string
		subject, sid string
		want         int
		gone         []string
	}{
		{"by subject", "user-1", "", 4, []string{"a", "b", "c", "e"}},
		{"by other subject", "user-2", "", 1, []string{"d"}},
		{"by sid", "", "sid-1", 2, []string{"a", "e"}},
		{"by sid of one session", "", "sid-3", 1, []string{"d"}},
		{"by subject and sid", "user-1", "sid-2", 1, []string{"b"}},
		{"by subject and sid of another subject", "user-2", "sid-1", 0, nil},
		{"unknown subject", "user-9", "", 0, nil},
		{"unknown sid", "", "sid-9", 0, nil},
		{"subject is matched exactly", "user", "", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			f := mk(t)
			for _, s := range f {
				save(t, st, s, hour)
			}
			n, err := st.EndSessions(context.Background(), tc.subject, tc.sid)
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
			gone := map[string]bool{}
			for _, name := range tc.gone {
				gone[name] = true
			}
			for name, s := range f {
				if gone[name] {
					requireGone(t, st, s.ID)
				} else {
					requireLive(t, st, s)
				}
			}
			n, err = st.EndSessions(context.Background(), tc.subject, tc.sid)
			require.NoError(t, err)
			require.Zero(t, n, "ending again finds nothing")
		})
	}
}

func testEndSessionsEmpty(t *testing.T, st nihttp.ServerStore) {
	s := NewSession(t, "", "")
	save(t, st, s, hour)
	other := NewSession(t, "user-1", "sid-1")
	save(t, st, other, hour)
	n, err := st.EndSessions(context.Background(), "", "")
	require.Error(t, err)
	require.NotErrorIs(t, err, nihttp.ErrNoSession)
	require.Zero(t, n)
	requireLive(t, st, s)
	requireLive(t, st, other)
}

func testEndSessionsAfterDelete(t *testing.T, st nihttp.ServerStore) {
	ctx := context.Background()
	a := NewSession(t, "user-1", "sid-1")
	b := NewSession(t, "user-1", "sid-1")
	save(t, st, a, hour)
	save(t, st, b, hour)
	require.NoError(t, st.Delete(ctx, a))
	n, err := st.EndSessions(ctx, "user-1", "")
	require.NoError(t, err)
	require.Equal(t, 1, n, "a deleted session is not counted")
	requireGone(t, st, b.ID)

	// The user signs in again after their sessions ended: a new session,
	// live until it is ended in turn.
	c := NewSession(t, "user-1", "sid-1")
	save(t, st, c, hour)
	requireLive(t, st, c)
	n, err = st.EndSessions(ctx, "", "sid-1")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	requireGone(t, st, c.ID)
}
