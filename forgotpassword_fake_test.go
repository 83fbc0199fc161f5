package nextidentity_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// TestForgotPasswordHostedAtTheFake runs the hosted reset end to end: the
// URL, the identifier form, the emailed link, the new password, and the
// return checked and redeemed by ForgotPasswordCallback.
func TestForgotPasswordHostedAtTheFake(t *testing.T) {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()
	ctx := context.Background()
	c := mkClient(t, srv.Config())
	req, err := c.ForgotPasswordURL()
	require.NoError(t, err)
	_, err = srv.RequestPasswordReset(ctx, req.URL, nextidentitytest.DefaultUserEmail)
	require.NoError(t, err)
	msg, ok := srv.LastMessage(nextidentitytest.DefaultUserEmail)
	require.True(t, ok)
	require.Equal(t, nextidentitytest.MessageForgotPassword, msg.Kind)
	back, err := srv.ResetPassword(ctx, msg.Link, "a-brand-new-passw0rd")
	require.NoError(t, err)

	forged := url.Values{"state": {"forged"}, "code": back["code"], "iss": back["iss"]}
	_, err = c.ForgotPasswordCallback(ctx, forged, req)
	require.ErrorIs(t, err, nextidentity.ErrStateMismatch)

	tok, err := c.ForgotPasswordCallback(ctx, back, req)
	require.NoError(t, err)
	require.NotNil(t, tok, "the journey carried PKCE, so the user comes back signed in")
	require.Equal(t, nextidentitytest.DefaultUserSubject, tok.IDToken.Subject)
	require.Equal(t, req.Nonce, tok.IDToken.Nonce)
}
