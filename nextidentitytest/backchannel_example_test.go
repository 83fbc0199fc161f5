package nextidentitytest_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// A client that registers a BackChannelLogoutURI receives a logout token
// when the user's provider session ends.
func ExampleServer_EndSession() {
	ctx := context.Background()
	var client *nextidentity.Client
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := client.VerifyLogoutToken(r.Context(), r.PostFormValue("logout_token"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Println("logout of", tok.Subject, "session known:", tok.SessionID != "")
	}))
	defer app.Close()

	c := nextidentitytest.DefaultClient()
	c.BackChannelLogoutURI = app.URL + "/backchannel-logout"
	provider := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{c}})
	defer provider.Close()
	client, err := nextidentity.New(ctx, provider.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	req, err := client.AuthCodeURL()
	if err != nil {
		log.Fatal(err)
	}
	callback, err := provider.Login(ctx, req.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.Exchange(ctx, callback, req); err != nil {
		log.Fatal(err)
	}

	if err := provider.EndSession(ctx, nextidentitytest.DefaultUserSubject); err != nil {
		log.Fatal(err)
	}
	fmt.Println("deliveries:", len(provider.LogoutDeliveries()))
	// Output:
	// logout of b30647ef-7f03-4ce1-ae91-9476e49d0605 session known: true
	// deliveries: 1
}
