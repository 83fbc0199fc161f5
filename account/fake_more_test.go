package account_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// signIn signs the default user in through the API.
func (f *fake) signIn(t *testing.T) *nextidentity.Token {
	t.Helper()
	res, err := f.ac.Login(context.Background(), defaultCreds)
	require.NoError(t, err)
	tok, err := f.ac.Exchange(context.Background(), res)
	require.NoError(t, err)
	return tok
}

func TestFakeProfile(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	tok := f.signIn(t)
	p, err := f.ac.Profile(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, nextidentitytest.DefaultUserEmail, p.Fields["emailAddress"])
	require.NoError(t, f.ac.UpdateProfile(ctx, tok, map[string]any{"firstName": "Janet"}, "en-US"))
	p, err = f.ac.Profile(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, "Janet", p.Fields["firstName"])

	_, err = f.ac.Profile(ctx, &nextidentity.Token{AccessToken: "not-a-token"})
	require.ErrorIs(t, err, nextidentity.ErrUnauthorized)
}

func TestFakeLogout(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	tok := f.signIn(t)
	err := f.ac.Logout(ctx, &nextidentity.Token{AccessToken: tok.AccessToken, RefreshToken: "unknown"}, account.Email, nextidentitytest.DefaultUserEmail)
	require.ErrorIs(t, err, account.ErrInvalidInput, "an unknown refresh token")
	require.NoError(t, f.ac.Logout(ctx, tok, account.Email, nextidentitytest.DefaultUserEmail))
	_, err = f.ac.Profile(ctx, tok)
	require.ErrorIs(t, err, nextidentity.ErrUnauthorized, "the access token was revoked")

	one, two := f.signIn(t), f.signIn(t)
	require.NoError(t, f.ac.Logout(ctx, one, account.Email, nextidentitytest.DefaultUserEmail, account.AllSessions()))
	_, err = f.ac.Profile(ctx, two)
	require.ErrorIs(t, err, nextidentity.ErrUnauthorized, "all sessions ended")
}

func TestFakeOTP(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	require.NoError(t, f.ac.SendOTP(ctx, account.OTP{AuthType: account.Email, UserID: nextidentitytest.DefaultUserEmail, Message: "Code: %code%"}))
	m, ok := f.srv.LastMessage(nextidentitytest.DefaultUserEmail)
	require.True(t, ok)
	require.Equal(t, nextidentitytest.MessageOTP, m.Kind)
	wrong := "000000"
	if m.PIN == wrong {
		wrong = "111111"
	}
	_, err := f.ac.VerifyOTP(ctx, account.Email, nextidentitytest.DefaultUserEmail, wrong)
	require.Error(t, err)
	require.NotContains(t, err.Error(), wrong)
	res, err := f.ac.VerifyOTP(ctx, account.Email, nextidentitytest.DefaultUserEmail, m.PIN)
	require.NoError(t, err)
	tok, err := f.ac.Exchange(ctx, res)
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
}

func TestFakeRegisterClient(t *testing.T) {
	c := nextidentitytest.DefaultClient()
	c.Privileged = true
	f := newFake(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{c}})
	rc, err := f.ac.RegisterClient(context.Background(), account.ClientRegistration{
		ConfigScheme: account.SchemeEmailPassword,
		RedirectURIs: []string{"https://shop.example/callback"},
		SiteName:     "Shop",
		Extra:        map[string]any{"app_type": "web"},
	})
	require.NoError(t, err)
	require.NotEmpty(t, rc.ClientID)
	require.NotEmpty(t, rc.ClientSecret)
	require.Equal(t, []string{"https://shop.example/callback"}, rc.RedirectURIs)

	plain := newFake(t, nextidentitytest.Options{})
	_, err = plain.ac.RegisterClient(context.Background(), account.ClientRegistration{ConfigScheme: account.SchemeEmailPassword,
		RedirectURIs: []string{"https://shop.example/callback"}})
	require.ErrorIs(t, err, account.ErrForbidden)
}
