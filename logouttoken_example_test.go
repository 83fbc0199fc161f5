package nextidentity_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// A back-channel logout endpoint: the provider POSTs a logout_token when a
// user's provider session ends; the application verifies it and ends its
// sessions for that provider session (sid), or all of the user's (sub).
func ExampleClient_VerifyLogoutToken() {
	ctx := context.Background()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer provider.Close()
	client, err := nextidentity.New(ctx, provider.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		tok, err := client.VerifyLogoutToken(r.Context(), r.PostFormValue("logout_token"))
		switch {
		case errors.Is(err, nextidentity.ErrInvalidLogoutToken):
			fmt.Println("refused:", errors.Is(err, nextidentity.ErrLogoutTokenReplayed))
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		case err != nil: // the replay cache failed: let the provider retry
			http.Error(w, "", http.StatusInternalServerError)
			return
		}
		// End the application's sessions here: those with tok.SessionID
		// when it is set, else every session of tok.Subject.
		fmt.Println("end sessions of", tok.Subject, "in", tok.SessionID)
	})

	// What the provider sends (here signed by the fake provider, as its
	// EndSession would send it).
	raw, err := provider.SignLogoutToken(provider.LogoutTokenClaims(
		nextidentitytest.DefaultClientID, nextidentitytest.DefaultUserSubject, "08a5019c"))
	if err != nil {
		log.Fatal(err)
	}
	for range 2 { // the second delivery is a replay
		req := httptest.NewRequest(http.MethodPost, "/backchannel-logout",
			strings.NewReader(url.Values{"logout_token": {raw}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		endpoint.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// end sessions of b30647ef-7f03-4ce1-ae91-9476e49d0605 in 08a5019c
	// 200
	// refused: true
	// 400
}
