package nextidentity_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// A back-end service gets tokens for itself with the client credentials
// grant; a resource server verifies them.
func ExampleClient_ClientCredentialsTokenSource() {
	ctx := context.Background()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{
		{ID: "orders-sync", Secret: "sync-secret", Scopes: []string{"orders:read", "orders:write"}, AccessTokenFormat: nextidentitytest.AccessTokenJWT},
	}})
	defer provider.Close()

	service, err := nextidentity.New(ctx, provider.ClientConfig("orders-sync"))
	if err != nil {
		log.Fatal(err)
	}
	defer service.Close()
	// Use it with oauth2.NewClient(ctx, ts) to send the token on every request.
	ts := service.ClientCredentialsTokenSource(ctx, "orders:read")
	tok, err := ts.Token()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.TokenType, tok.Valid())
	// Output: Bearer true
}

// A resource server checks the access tokens callers present. Set Audience:
// without it a token minted for another API would be accepted.
func ExampleClient_VerifyAccessToken() {
	ctx := context.Background()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{
		{ID: "orders-api", Secret: "api-secret"},
		{ID: "orders-sync", Secret: "sync-secret", Scopes: []string{"orders:read"}, AccessTokenFormat: nextidentitytest.AccessTokenJWT},
	}})
	defer provider.Close()

	cfg := provider.ClientConfig("orders-api")
	cfg.Audience = nextidentitytest.DefaultAccessTokenAudience
	api, err := nextidentity.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer api.Close()

	service, _ := nextidentity.New(ctx, provider.ClientConfig("orders-sync"))
	defer service.Close()
	tok, err := service.ClientCredentials(ctx, "orders:read")
	if err != nil {
		log.Fatal(err)
	}

	at, err := api.VerifyAccessToken(ctx, tok.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(at.ClientID, at.Scopes, at.HasScopes("orders:write"))

	_, err = api.VerifyAccessToken(ctx, tok.AccessToken+"x")
	fmt.Println(errors.Is(err, nextidentity.ErrInvalidAccessToken))
	// Output:
	// orders-sync [orders:read] false
	// true
}
