package nextidentity_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// The whole login flow. A web app sends the browser to req.URL, keeps req
// (sealed) until the callback, then calls Exchange with the callback's query.
// Here the fake provider's browser-less Login stands in for the browser.
func Example() {
	ctx := context.Background()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer provider.Close()

	client, err := nextidentity.New(ctx, nextidentity.Config{
		Issuer:       provider.Issuer(),
		ClientID:     nextidentitytest.DefaultClientID,
		ClientSecret: nextidentitytest.DefaultClientSecret,
		RedirectURL:  nextidentitytest.DefaultRedirectURI,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	req, err := client.AuthCodeURL(nextidentity.WithUILocales("en-US"), nextidentity.WithOfflineAccess())
	if err != nil {
		log.Fatal(err)
	}
	callback, err := provider.Login(ctx, req.URL, "jane@example.com", "password")
	if err != nil {
		log.Fatal(err)
	}
	tok, err := client.Exchange(ctx, callback, req)
	if err != nil {
		log.Fatal(err)
	}
	info, err := client.UserInfo(ctx, tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in:", tok.IDToken.Name, tok.IDToken.Email)
	fmt.Println("userinfo:", info.Locale, info.EmailVerified)
	fmt.Println("refreshable:", tok.RefreshToken != "")
	// Output:
	// signed in: Jane Doe jane@example.com
	// userinfo: en-US true
	// refreshable: true
}

// Custom claims configured on the tenant arrive in the ID token and in
// userinfo; decode them into your own struct.
func ExampleIDToken_Claims() {
	ctx := context.Background()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer provider.Close()
	client, err := nextidentity.New(ctx, provider.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	req, _ := client.AuthCodeURL()
	callback, _ := provider.Login(ctx, req.URL, "jane@example.com", "password")
	tok, err := client.Exchange(ctx, callback, req)
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		Membership string `json:"membership"`
	}
	if err := tok.IDToken.Claims(&claims); err != nil {
		log.Fatal(err)
	}
	// Standard profile claims are parsed already, updated_at in the
	// provider's string format included.
	fmt.Println(claims.Membership, tok.IDToken.UpdatedAt.Year())
	// Output: gold 2021
}

// Provider errors are *Error values that match the package's sentinels.
func ExampleError() {
	ctx := context.Background()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer provider.Close()
	client, err := nextidentity.New(ctx, provider.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// An expired or revoked access token: the documented 401 body.
	_, err = client.UserInfo(ctx, &nextidentity.Token{AccessToken: "rb5bzkygqs5ahevp"})
	var pe *nextidentity.Error
	switch {
	case errors.Is(err, nextidentity.ErrUnauthorized) && errors.As(err, &pe):
		fmt.Println("sign in again:", pe.StatusCode, pe.Code, pe.Description)
	case err != nil:
		fmt.Println("other error:", err)
	}

	// The user has no session and prompt=none was asked for.
	req, _ := client.AuthCodeURL(nextidentity.WithPrompt("none"))
	callback, _ := provider.Authorize(ctx, req.URL)
	_, err = client.Exchange(ctx, callback, req)
	fmt.Println("login required:", errors.Is(err, nextidentity.ErrLoginRequired))

	// A forged callback.
	callback.Set("state", "forged")
	callback.Del("error")
	_, err = client.Exchange(ctx, callback, req)
	fmt.Println("state mismatch:", errors.Is(err, nextidentity.ErrStateMismatch))
	// Output:
	// sign in again: 401 http_exception Unauthorized
	// login required: true
	// state mismatch: true
}
