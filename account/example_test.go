package account_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// The app's own sign-in form posts an email and a password; the server
// signs the user in with Login and redeems the code with Exchange.
func ExampleClient_Login() {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{}) // the fake provider
	defer srv.Close()
	ctx := context.Background()
	client, err := nextidentity.New(ctx, srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ac := account.New(client)

	_, err = ac.Login(ctx, account.Credentials{AuthType: account.Email, UserID: "jane@example.com", Password: "wrong"})
	fmt.Println("wrong password:", errors.Is(err, account.ErrInvalidCredentials))

	res, err := ac.Login(ctx, account.Credentials{AuthType: account.Email, UserID: "jane@example.com", Password: "password"})
	if err != nil {
		log.Fatal(err)
	}
	var opts []account.ExchangeOption
	if res.LegalAcceptanceRequired {
		// Show the legal terms first; once accepted:
		opts = append(opts, account.WithLegalAcceptance())
	}
	tok, err := ac.Exchange(ctx, res, opts...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in:", tok.IDToken.Subject == nextidentitytest.DefaultUserSubject)

	_, err = ac.Exchange(ctx, res)
	fmt.Println("code reused:", errors.Is(err, nextidentity.ErrInvalidGrant))
	// Output:
	// wrong password: true
	// signed in: true
	// code reused: true
}

// Inviting is idempotent: a resend keeps the account's UUID.
func ExampleClient_Invite() {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()
	ctx := context.Background()
	client, err := nextidentity.New(ctx, srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ac := account.New(client)

	inv := account.Invitation{AuthType: account.Email, UserID: "guest@example.com", Profile: map[string]any{"firstName": "Gus"}}
	first, err := ac.Invite(ctx, inv)
	if err != nil {
		log.Fatal(err)
	}
	inv.Resend = true
	again, err := ac.Invite(ctx, inv)
	if err != nil {
		log.Fatal(err)
	}
	msg, _ := srv.LastMessage("guest@example.com")
	fmt.Println("same account:", first.UUID == again.UUID)
	fmt.Println("activation link sent:", msg.Kind == nextidentitytest.MessageInvite && msg.Link != "")
	// Output:
	// same account: true
	// activation link sent: true
}

// The app's own reset screens: ForgotPassword sends a PIN, ExchangePIN
// redeems it, and ChangePassword sets the new password.
func ExampleClient_ForgotPassword() {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()
	ctx := context.Background()
	client, err := nextidentity.New(ctx, srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ac := account.New(client)

	// The answer is the same for an unknown user: nothing to enumerate.
	fmt.Println("unknown user:", ac.ForgotPassword(ctx, account.Email, "nobody@example.com"))
	if err := ac.ForgotPassword(ctx, account.Email, "jane@example.com"); err != nil {
		log.Fatal(err)
	}
	msg, _ := srv.LastMessage("jane@example.com") // the PIN the user received
	tok, err := ac.ExchangePIN(ctx, account.Email, "jane@example.com", msg.PIN)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("changed:", ac.ChangePassword(ctx, tok, "a-new-passw0rd"))
	// Output:
	// unknown user: <nil>
	// changed: <nil>
}

// An *account.Error carries the provider's field messages.
func ExampleError() {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()
	ctx := context.Background()
	client, err := nextidentity.New(ctx, srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = account.New(client).Register(ctx, account.Registration{AuthType: account.Email, UserID: "not-an-email", Password: "a-long-passw0rd"})
	var ae *account.Error
	if errors.As(err, &ae) {
		fmt.Println(ae.StatusCode, ae.Code, errors.Is(err, account.ErrInvalidInput))
		for field := range ae.Fields {
			fmt.Println(field)
		}
	}
	// Output:
	// 422 invalid_form_fields true
	// emailAddress
}
