package nihttp_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// The cookie store's cache of decoded sessions changes nothing a caller can
// see: every load returns its own copy, a cached value still expires with
// its seal, and a value that differs by one byte is opened (and refused).
func TestCookieStoreCache(t *testing.T) {
	ctx := context.Background()
	clock := &clock{t: goldenNow()}
	st, err := nihttp.NewCookieStoreForTest(clock.Now, goldenKey)
	require.NoError(t, err)
	s := signedSession(t, map[string]any{"entitlements": []string{"a", "b"}})
	v, err := st.Save(ctx, s, time.Hour)
	require.NoError(t, err)

	first, err := st.Load(ctx, v)
	require.NoError(t, err)
	first.Subject = "changed"
	first.Token.AccessToken = "changed"
	first.Token.IDToken.Name = "changed"
	first.Token.IDToken.Audience[0] = "changed"
	second, err := st.Load(ctx, v)
	require.NoError(t, err)
	require.Equal(t, s.Subject, second.Subject)
	require.Equal(t, s.Token.AccessToken, second.Token.AccessToken)
	require.Equal(t, s.Token.IDToken.Name, second.Token.IDToken.Name)
	require.Equal(t, s.Token.IDToken.Audience, second.Token.IDToken.Audience)
	require.Empty(t, second.Token.RawIDToken, "the cookie store drops the raw ID token")

	flipped := v[:len(v)/2] + string(v[len(v)/2]^1) + v[len(v)/2+1:]
	_, err = st.Load(ctx, flipped)
	require.ErrorIs(t, err, nihttp.ErrNoSession, "a value one byte away from a cached one")
	_, err = st.Load(ctx, v+"A")
	require.ErrorIs(t, err, nihttp.ErrNoSession)

	// Another store with only a new key (the old one retired) opens
	// nothing the first one cached.
	rotated, err := nihttp.NewCookieStoreForTest(clock.Now, make([]byte, nihttp.KeySize))
	require.NoError(t, err)
	_, err = rotated.Load(ctx, v)
	require.ErrorIs(t, err, nihttp.ErrNoSession)

	clock.Advance(time.Hour)
	_, err = st.Load(ctx, v)
	require.ErrorIs(t, err, nihttp.ErrNoSession, "a cached session expires with its seal")
	require.ErrorIs(t, err, nihttp.ErrExpired)
}
