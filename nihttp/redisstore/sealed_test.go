package redisstore_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// TestCookieValue: the cookie carries the session ID and a secret of 256
// random bits, fresh for each session and kept by every later Save; the ID
// alone, or with another secret, loads nothing.
func TestCookieValue(t *testing.T) {
	ctx := context.Background()
	st, _, _ := newStore(t)
	s := storetest.NewSession(t, "user-1", "sid-1")
	v, err := st.Save(ctx, s, time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, s.ID, v)
	id, secret, ok := strings.Cut(v, ".")
	require.True(t, ok)
	require.Equal(t, s.ID, id)
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	require.NoError(t, err)
	require.Len(t, raw, 32)
	require.Equal(t, secret, string(s.StoreSecret), "Save sets the secret on the session")

	loaded, err := st.Load(ctx, v)
	require.NoError(t, err)
	require.Equal(t, s.StoreSecret, loaded.StoreSecret, "Load gives the secret back for the next Save")
	again, err := st.Save(ctx, loaded, time.Hour)
	require.NoError(t, err)
	require.Equal(t, v, again, "a session keeps its cookie value")

	other := storetest.NewSession(t, "user-1", "sid-1")
	ov, err := st.Save(ctx, other, time.Hour)
	require.NoError(t, err)
	require.NotEqual(t, secret, ov[strings.IndexByte(ov, '.')+1:], "each session has its own secret")

	for name, bad := range map[string]string{
		"the ID alone":           s.ID,
		"another session's key":  s.ID + ov[strings.IndexByte(ov, '.'):],
		"a secret one bit off":   s.ID + "." + flipLast(secret),
		"a short secret":         v[:len(v)-1],
		"a padded secret":        v + "=",
		"two separators":         v + ".x",
		"the ID hash as a value": redisstore.Member(s.ID),
	} {
		_, err := st.Load(ctx, bad)
		require.ErrorIs(t, err, nihttp.ErrNoSession, name)
		require.NotErrorIs(t, err, nihttp.ErrStoreUnavailable, name)
	}

	// A Session.StoreSecret this store did not write is refused.
	forged := *loaded
	forged.StoreSecret = "short"
	_, err = st.Save(ctx, &forged, time.Hour)
	require.ErrorIs(t, err, nihttp.ErrNoSession)
	require.ErrorContains(t, err, "redisstore: Session.StoreSecret")
}

// flipLast changes the last character of a base64url string to another
// that decodes to the same length.
func flipLast(s string) string {
	if s[len(s)-1] == 'A' {
		return s[:len(s)-1] + "E"
	}
	return s[:len(s)-1] + "A"
}

// TestStoredValueMustOpen: whatever sits under a session's key that is not
// that session sealed under its cookie's secret is no session (never a
// store failure): garbage, the previous version's clear JSON, another
// session's sealed value moved there, an edited value.
func TestStoredValueMustOpen(t *testing.T) {
	ctx := context.Background()
	st, rdb, p := newStore(t)
	a := storetest.NewSession(t, "user-1", "sid-1")
	b := storetest.NewSession(t, "user-1", "sid-1")
	for _, s := range []*nihttp.Session{a, b} {
		_, err := st.Save(ctx, s, time.Hour)
		require.NoError(t, err)
	}
	key := redisstore.SessionKey(p, a.ID)
	good, err := rdb.Get(ctx, key).Bytes()
	require.NoError(t, err)
	other, err := rdb.Get(ctx, redisstore.SessionKey(p, b.ID)).Bytes()
	require.NoError(t, err)
	clear, err := json.Marshal(a)
	require.NoError(t, err)

	edit := func(i int) []byte {
		v := append([]byte(nil), good...)
		v[i] ^= 1
		return v
	}
	for name, v := range map[string][]byte{
		"not a sealed value":            []byte("not json"),
		"clear JSON (previous version)": clear,
		"another session's value":       other,
		"version byte edited":           edit(0),
		"subject hash edited":           edit(1),
		"sid hash edited":               edit(40),
		"nonce edited":                  edit(70),
		"ciphertext edited":             edit(len(good) / 2),
		"tag edited":                    edit(len(good) - 1),
		"truncated":                     good[:len(good)-1],
		"empty":                         {},
	} {
		require.NoError(t, rdb.Set(ctx, key, v, time.Hour).Err())
		_, err := st.Load(ctx, redisstore.CookieOf(a))
		require.ErrorIs(t, err, nihttp.ErrNoSession, name)
		require.NotErrorIs(t, err, nihttp.ErrStoreUnavailable, name)
	}
	require.NoError(t, rdb.Set(ctx, key, good, time.Hour).Err())
	_, err = st.Load(ctx, redisstore.CookieOf(a))
	require.NoError(t, err)

	// The same session under another prefix (another key name) does not
	// open either: the key's name is sealed in.
	require.NoError(t, rdb.Set(ctx, redisstore.SessionKey("elsewhere:", a.ID), good, time.Hour).Err())
	_, err = redisstore.New(rdb, redisstore.Options{KeyPrefix: "elsewhere:"}).Load(ctx, redisstore.CookieOf(a))
	require.ErrorIs(t, err, nihttp.ErrNoSession)
}

// TestPreviousVersionSessionsEnd: the previous version kept each session
// as clear JSON under "<prefix>s:<ID>" and its cookie carried the ID alone.
// Such a cookie has no secret: Load answers ErrNoSession without asking
// Redis (the user signs in again), and the old keys are left alone to
// expire with their TTL.
func TestPreviousVersionSessionsEnd(t *testing.T) {
	ctx := context.Background()
	rdb := newClient(t, redistest.Start(t))
	var c counter
	rdb.AddHook(&c)
	st := redisstore.New(rdb, redisstore.Options{})
	s := storetest.NewSession(t, "user-1", "sid-1")
	old, err := json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, rdb.Set(ctx, "nihttp:s:"+s.ID, old, time.Hour).Err())
	require.NoError(t, rdb.SAdd(ctx, "nihttp:u:user-1", s.ID).Err())
	require.NoError(t, rdb.SAdd(ctx, "nihttp:p:sid-1", s.ID).Err())

	c.reset()
	_, err = st.Load(ctx, s.ID) // the old cookie value
	require.ErrorIs(t, err, nihttp.ErrNoSession)
	trips, _ := c.get()
	require.Zero(t, trips, "an old cookie value is refused without asking Redis")

	// A new sign-in of the same user works, and ending the user's sessions
	// ends it (the old one is already unusable).
	again := storetest.NewSession(t, "user-1", "sid-1")
	v, err := st.Save(ctx, again, time.Hour)
	require.NoError(t, err)
	n, err := st.EndSessions(ctx, "user-1", "")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = st.Load(ctx, v)
	require.ErrorIs(t, err, nihttp.ErrNoSession)

	ttl, err := rdb.PTTL(ctx, "nihttp:s:"+s.ID).Result()
	require.NoError(t, err)
	require.Positive(t, ttl, "the old key expires with its own TTL")
}
