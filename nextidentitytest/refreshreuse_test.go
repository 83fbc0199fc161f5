package nextidentitytest_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// A rotated refresh token presented again is refused. With
// RevokeRefreshFamilyOnReuse (RFC 9700 section 4.14.2) that also revokes
// every token of its grant, the newest refresh token and access token
// included; other grants of the same user are not touched. Off by default.
func TestRefreshTokenReuseRevokesFamily(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprintf("RevokeRefreshFamilyOnReuse=%v", on), func(t *testing.T) {
			ctx := t.Context()
			srv := newServer(t, nextidentitytest.Options{RevokeRefreshFamilyOnReuse: on})
			c := tsClient(t, srv, nextidentitytest.DefaultClientID)
			first := signIn(t, srv, c)
			other := signIn(t, srv, c)
			second, err := c.Refresh(ctx, first)
			require.NoError(t, err)
			require.NotEqual(t, first.RefreshToken, second.RefreshToken, "rotated")

			_, err = c.Refresh(ctx, first)
			require.ErrorIs(t, err, nextidentity.ErrInvalidGrant, "a spent refresh token is refused")

			_, uerr := c.UserInfo(ctx, second)
			third, rerr := c.Refresh(ctx, second)
			if on {
				require.ErrorIs(t, uerr, nextidentity.ErrUnauthorized, "the newest access token is revoked")
				require.ErrorIs(t, rerr, nextidentity.ErrInvalidGrant, "the newest refresh token is revoked")
				_, err = c.Refresh(ctx, first)
				require.ErrorIs(t, err, nextidentity.ErrInvalidGrant, "and the spent one is still reuse")
			} else {
				require.NoError(t, uerr)
				require.NoError(t, rerr)
				require.NotEmpty(t, third.RefreshToken)
			}
			_, err = c.UserInfo(ctx, other)
			require.NoError(t, err, "another grant is not touched")
			_, err = c.Refresh(ctx, other)
			require.NoError(t, err)
		})
	}
}
