package nextidentitytest_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// A complete sign-in against the fake provider: the application builds the
// authorization URL, the fake browser signs in, and the application
// exchanges the code and reads the user's profile.
func Example() {
	ctx := context.Background()
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()

	client, err := nextidentity.New(ctx, srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	req, err := client.AuthCodeURL()
	if err != nil {
		log.Fatal(err)
	}
	// In a real app the browser goes to req.URL; here the server's fake
	// browser signs in and returns the query of the redirect back.
	callback, err := srv.Login(ctx, req.URL, "jane@example.com", "password")
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
	fmt.Println(tok.IDToken.Subject)
	fmt.Println(info.Name, info.Email)
	fmt.Println(info.UpdatedAt.Format(nextidentitytest.UpdatedAtLayout))
	// Output:
	// b30647ef-7f03-4ce1-ae91-9476e49d0605
	// Jane Doe jane@example.com
	// 2021-01-07 20:44:35.176625 +0000
}

// Injecting a provider outage and counting requests.
func ExampleServer_FailNext() {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()

	srv.FailNext(nextidentitytest.EndpointToken, 1, 503, `{"error":"temporarily_unavailable"}`)
	resp, err := srv.HTTPClient().Post(srv.URL+string(nextidentitytest.EndpointToken), "application/x-www-form-urlencoded", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	fmt.Println(srv.Requests(nextidentitytest.EndpointToken))
	// Output:
	// 503 application/json
	// 1
}

// Two users signed in at once, each in a fake browser of their own.
func ExampleServer_NewBrowser() {
	ctx := context.Background()
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()
	srv.AddUser(nextidentitytest.User{Email: "bob@example.com", Password: "hunter2", Name: "Bob"})

	client, err := nextidentity.New(ctx, srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	for _, u := range []struct{ email, password string }{
		{"jane@example.com", "password"},
		{"bob@example.com", "hunter2"},
	} {
		browser := srv.NewBrowser()
		req, err := client.AuthCodeURL()
		if err != nil {
			log.Fatal(err)
		}
		callback, err := browser.Login(ctx, req.URL, u.email, u.password)
		if err != nil {
			log.Fatal(err)
		}
		tok, err := client.Exchange(ctx, callback, req)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tok.IDToken.Name)
	}
	// Output:
	// Jane Doe
	// Bob
}

// An app's sign-up round trip: the fake browser fills the hosted sign-up
// form, and the app receives the new user.
func ExampleBrowser_SignUp() {
	ctx := context.Background()
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()
	client, err := nextidentity.New(ctx, srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	browser := srv.NewBrowser()
	req, err := client.RegisterURL()
	if err != nil {
		log.Fatal(err)
	}
	callback, err := browser.SignUp(ctx, req.URL, "Ada Lovelace", "ada@example.com", "s3cret")
	if err != nil {
		log.Fatal(err)
	}
	tok, err := client.Exchange(ctx, callback, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.IDToken.Name, tok.IDToken.Email, tok.IDToken.EmailVerified)

	// The email address now has an account.
	req, err = client.RegisterURL()
	if err != nil {
		log.Fatal(err)
	}
	_, err = srv.NewBrowser().SignUp(ctx, req.URL, "Impostor", "ada@example.com", "x")
	fmt.Println(errors.Is(err, nextidentitytest.ErrSignUpRejected))
	// Output:
	// Ada Lovelace ada@example.com false
	// true
}

// An app's edit-profile round trip: the signed-in user changes a name on
// the hosted personal-details page and the app sees it.
func ExampleBrowser_EditProfile() {
	ctx := context.Background()
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()
	client, err := nextidentity.New(ctx, srv.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	browser := srv.NewBrowser()
	req, err := client.AuthCodeURL()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := browser.Login(ctx, req.URL, "jane@example.com", "password"); err != nil {
		log.Fatal(err)
	}

	req, err = client.PersonalDetailsURL()
	if err != nil {
		log.Fatal(err)
	}
	callback, err := browser.EditProfile(ctx, req.URL, map[string]string{"name": "Jane Q. Doe"})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := client.Exchange(ctx, callback, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.IDToken.Name)
	// Output:
	// Jane Q. Doe
}
