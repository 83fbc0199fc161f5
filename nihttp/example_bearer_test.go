package nihttp_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// An API that serves only callers with an access token carrying
// orders:read.
func ExampleRequireBearer() {
	ctx := context.Background()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{
		{ID: "orders-api", Secret: "api-secret"},
		{ID: "orders-sync", Secret: "sync-secret", Scopes: []string{"orders:read"}},
	}})
	defer provider.Close()
	cfg := provider.ClientConfig("orders-api")
	cfg.Audience = nextidentitytest.DefaultAccessTokenAudience
	client, err := nextidentity.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "orders for", nihttp.AccessTokenFrom(r.Context()).ClientID)
	})
	api := httptest.NewServer(nihttp.RequireBearer(client, "orders:read")(orders))
	defer api.Close()

	service, _ := nextidentity.New(ctx, provider.ClientConfig("orders-sync"))
	defer service.Close()
	tok, err := service.ClientCredentials(ctx, "orders:read")
	if err != nil {
		log.Fatal(err)
	}
	for _, auth := range []string{"Bearer " + tok.AccessToken, ""} {
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Printf("%d %q\n", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// Output:
	// 200 ""
	// 401 "Bearer realm=\"https://api.example.com\""
}
