package account_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// clock is a settable clock shared by the fake provider and the client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fake is the fake provider, its clock, and an account client of its
// default client.
type fake struct {
	srv   *nextidentitytest.Server
	clock *clock
	nc    *nextidentity.Client
	ac    *account.Client
}

func newFake(t *testing.T, opts nextidentitytest.Options) *fake {
	t.Helper()
	clk := &clock{t: time.Now().Truncate(time.Second)}
	opts.Now = clk.Now
	srv := nextidentitytest.NewServer(opts)
	t.Cleanup(srv.Close)
	nc, err := nextidentity.New(context.Background(), srv.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &fake{srv: srv, clock: clk, nc: nc, ac: account.New(nc)}
}

// pin is the PIN of the last message of kind to the address to.
func (f *fake) pin(t *testing.T, to string, kind nextidentitytest.MessageKind) string {
	t.Helper()
	m, ok := f.srv.LastMessage(to)
	require.True(t, ok, "no message to %s", to)
	require.Equal(t, kind, m.Kind)
	require.Len(t, m.PIN, 6)
	return m.PIN
}

var defaultCreds = account.Credentials{AuthType: account.Email, UserID: nextidentitytest.DefaultUserEmail, Password: nextidentitytest.DefaultUserPassword}

func TestFakeSignInAndExchange(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	res, err := f.ac.Login(ctx, defaultCreds)
	require.NoError(t, err)
	require.False(t, res.LegalAcceptanceRequired, "the default user accepted the terms")
	tok, err := f.ac.Exchange(ctx, res)
	require.NoError(t, err)
	require.NotEmpty(t, tok.AccessToken)
	require.True(t, tok.Valid())
	require.NotNil(t, tok.IDToken, "the fake's ID token, verified without a nonce")
	require.Equal(t, nextidentitytest.DefaultUserSubject, tok.IDToken.Subject)

	// The code is spent: a second exchange is the hosted flow's invalid grant.
	_, err = f.ac.Exchange(ctx, res)
	require.ErrorIs(t, err, nextidentity.ErrInvalidGrant)
	require.NotContains(t, err.Error(), res.Code)
	// So is a code the provider never issued.
	_, err = f.ac.Exchange(ctx, &account.LoginResult{Code: "made-up", AuthType: account.Email, UserID: nextidentitytest.DefaultUserEmail})
	require.ErrorIs(t, err, nextidentity.ErrInvalidGrant)
}

func TestFakeLegalAcceptance(t *testing.T) {
	u := nextidentitytest.DefaultUser()
	u.LegalAccepted = false
	f := newFake(t, nextidentitytest.Options{Users: []nextidentitytest.User{u}})
	ctx := context.Background()
	res, err := f.ac.Login(ctx, defaultCreds)
	require.NoError(t, err)
	require.True(t, res.LegalAcceptanceRequired)
	_, err = f.ac.Exchange(ctx, res, account.WithLegalAcceptance())
	require.NoError(t, err)

	res, err = f.ac.Login(ctx, defaultCreds)
	require.NoError(t, err)
	require.False(t, res.LegalAcceptanceRequired, "the acceptance was recorded")
}

func TestFakeRefusals(t *testing.T) {
	unverified := nextidentitytest.User{Email: "new@example.com", Password: "s3cret-pass", EmailVerified: false, LegalAccepted: true}
	f := newFake(t, nextidentitytest.Options{Users: []nextidentitytest.User{nextidentitytest.DefaultUser(), unverified}})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cr   account.Credentials
		want error
		not  error
	}{
		{"wrong password", account.Credentials{AuthType: account.Email, UserID: nextidentitytest.DefaultUserEmail, Password: "wrong-password"}, account.ErrInvalidCredentials, account.ErrUnverifiedUser},
		{"unknown user", account.Credentials{AuthType: account.Email, UserID: "nobody@example.com", Password: "wrong-password"}, account.ErrInvalidCredentials, account.ErrUnverifiedUser},
		{"unverified user", account.Credentials{AuthType: account.Email, UserID: unverified.Email, Password: unverified.Password}, account.ErrUnverifiedUser, account.ErrInvalidCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.ac.Login(ctx, tc.cr)
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, err, nextidentity.ErrProvider)
			require.NotErrorIs(t, err, tc.not)
			require.NotContains(t, err.Error(), tc.cr.Password)
		})
	}

	// The unverified user asks for a new PIN, verifies, and signs in.
	require.NoError(t, f.ac.ResendVerification(ctx, account.Email, unverified.Email))
	pin := f.pin(t, unverified.Email, nextidentitytest.MessageVerification)
	wrong := "000000"
	if pin == wrong {
		wrong = "111111"
	}
	require.ErrorIs(t, f.ac.Verify(ctx, account.Email, unverified.Email, wrong), nextidentity.ErrInvalidGrant)
	require.NoError(t, f.ac.Verify(ctx, account.Email, unverified.Email, pin))
	res, err := f.ac.Login(ctx, account.Credentials{AuthType: account.Email, UserID: unverified.Email, Password: unverified.Password})
	require.NoError(t, err)
	_, err = f.ac.Exchange(ctx, res)
	require.NoError(t, err)
}

func TestFakeTokenRateRule(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	bogus := &account.LoginResult{Code: "not-a-code", AuthType: account.Email, UserID: nextidentitytest.DefaultUserEmail}
	// Five attempts within a minute are answered; the next is refused and
	// blocks the user for five minutes.
	for i := range 5 {
		_, err := f.ac.Exchange(ctx, bogus)
		require.ErrorIs(t, err, nextidentity.ErrInvalidGrant, "attempt %d", i+1)
		require.NotErrorIs(t, err, account.ErrRateLimited)
	}
	_, err := f.ac.Exchange(ctx, bogus)
	require.ErrorIs(t, err, account.ErrRateLimited)
	var ae *account.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusTooManyRequests, ae.StatusCode)
	require.Greater(t, ae.RetryAfter, 4*time.Minute)
	require.LessOrEqual(t, ae.RetryAfter, 5*time.Minute)

	// Blocked: even the right password is refused for now.
	_, err = f.ac.Login(ctx, defaultCreds)
	require.ErrorIs(t, err, account.ErrRateLimited)

	f.clock.Advance(5*time.Minute + time.Second)
	res, err := f.ac.Login(ctx, defaultCreds)
	require.NoError(t, err)
	_, err = f.ac.Exchange(ctx, res)
	require.NoError(t, err)
}

func TestFakeInviteIdempotent(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	inv := account.Invitation{AuthType: account.Email, UserID: "guest@example.com", Profile: map[string]any{"firstName": "Gus"}}
	first, err := f.ac.Invite(ctx, inv)
	require.NoError(t, err)
	require.NotEmpty(t, first.UUID)
	require.False(t, first.Existing)
	m, ok := f.srv.LastMessage("guest@example.com")
	require.True(t, ok)
	require.Equal(t, nextidentitytest.MessageInvite, m.Kind)
	require.NotEmpty(t, m.Link)

	inv.Resend = true
	again, err := f.ac.Invite(ctx, inv)
	require.NoError(t, err)
	require.Equal(t, first.UUID, again.UUID, "a resend keeps the uuid")
	n := 0
	for _, m := range f.srv.Outbox() {
		if m.Kind == nextidentitytest.MessageInvite && m.To == "guest@example.com" {
			n++
		}
	}
	require.Equal(t, 2, n, "the resend sent the link again")

	inv.Resend = false
	existing, err := f.ac.Invite(ctx, inv)
	require.NoError(t, err)
	require.Equal(t, first.UUID, existing.UUID)
	require.True(t, existing.Existing)

	// A tenant answering 422 to an existing invitee.
	f422 := newFake(t, nextidentitytest.Options{ExistingInviteeStatus: http.StatusUnprocessableEntity})
	_, err = f422.ac.Invite(ctx, account.Invitation{AuthType: account.Email, UserID: nextidentitytest.DefaultUserEmail})
	require.ErrorIs(t, err, account.ErrUserExists)
}

func TestFakeNoEnumeration(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	for _, user := range []string{nextidentitytest.DefaultUserEmail, "nobody@example.com"} {
		require.NoError(t, f.ac.ForgotPassword(ctx, account.Email, user), user)
		require.NoError(t, f.ac.ResendVerification(ctx, account.Email, user), user)
	}
	// Registering an existing address looks like success, without a uuid.
	reg, err := f.ac.Register(ctx, account.Registration{AuthType: account.Email, UserID: nextidentitytest.DefaultUserEmail, Password: "an0ther-passw0rd"})
	require.NoError(t, err)
	require.Empty(t, reg.UUID)
	require.Nil(t, reg.LoginResult())
	m, ok := f.srv.LastMessage(nextidentitytest.DefaultUserEmail)
	require.True(t, ok)
	require.Equal(t, nextidentitytest.MessageAlreadyRegistered, m.Kind)
}

func TestFakeRegisterVerifySignIn(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	const email, pw = "nia@example.com", "n1a-passw0rd"
	reg, err := f.ac.Register(ctx, account.Registration{AuthType: account.Email, UserID: email, Password: pw, Profile: map[string]any{"firstName": "Nia"}})
	require.NoError(t, err)
	require.NotEmpty(t, reg.UUID)
	_, err = f.ac.Login(ctx, account.Credentials{AuthType: account.Email, UserID: email, Password: pw})
	require.ErrorIs(t, err, account.ErrUnverifiedUser)
	require.NoError(t, f.ac.Verify(ctx, account.Email, email, f.pin(t, email, nextidentitytest.MessageVerification)))
	res, err := f.ac.Login(ctx, account.Credentials{AuthType: account.Email, UserID: email, Password: pw})
	require.NoError(t, err)
	tok, err := f.ac.Exchange(ctx, res, account.WithLegalAcceptance())
	require.NoError(t, err)
	require.NotNil(t, tok.IDToken)
	require.Equal(t, reg.UUID, tok.IDToken.Subject)
}

func TestFakeForgotPassword(t *testing.T) {
	f := newFake(t, nextidentitytest.Options{})
	ctx := context.Background()
	email := nextidentitytest.DefaultUserEmail
	require.NoError(t, f.ac.ForgotPassword(ctx, account.Email, email))
	pin := f.pin(t, email, nextidentitytest.MessageForgotPassword)
	tok, err := f.ac.ExchangePIN(ctx, account.Email, email, pin)
	require.NoError(t, err)
	_, err = f.ac.ExchangePIN(ctx, account.Email, email, pin)
	require.ErrorIs(t, err, nextidentity.ErrInvalidGrant, "a PIN is single-use")

	err = f.ac.ChangePassword(ctx, tok, "short")
	require.ErrorIs(t, err, account.ErrInvalidInput)
	require.NotContains(t, err.Error(), "short")
	const newPassword = "brand-new-passw0rd"
	require.NoError(t, f.ac.ChangePassword(ctx, tok, newPassword))

	_, err = f.ac.Login(ctx, defaultCreds)
	require.ErrorIs(t, err, account.ErrInvalidCredentials, "the old password no longer works")
	_, err = f.ac.Login(ctx, account.Credentials{AuthType: account.Email, UserID: email, Password: newPassword})
	require.NoError(t, err)
}
