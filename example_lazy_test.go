package nextidentity_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// An app that starts while the provider is down: New makes no request, calls
// fail fast with ErrProviderUnavailable, and the client works once the
// provider answers, without a restart.
func ExampleConfig_lazyDiscovery() {
	ctx := context.Background()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer provider.Close()
	provider.FailNext(nextidentitytest.EndpointDiscovery, 1, http.StatusServiceUnavailable, "down for maintenance")

	now := time.Now() // a clock the example moves past the retry backoff
	cfg := provider.Config()
	cfg.LazyDiscovery = true
	cfg.Now = func() time.Time { return now }
	client, err := nextidentity.New(ctx, cfg) // no request: the provider being down is no error here
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = client.AuthCodeURL()
	var unavailable *nextidentity.ProviderUnavailableError
	fmt.Println("unavailable:", errors.Is(err, nextidentity.ErrProviderUnavailable), errors.As(err, &unavailable))
	fmt.Println("retry within 1s:", unavailable.RetryAt.Sub(now) <= time.Second)

	now = unavailable.RetryAt // the backoff is over, and the provider is back
	fmt.Println("ready:", client.Ready(ctx))
	_, err = client.AuthCodeURL()
	fmt.Println("sign-in URL:", err)
	// Output:
	// unavailable: true true
	// retry within 1s: true
	// ready: <nil>
	// sign-in URL: <nil>
}
