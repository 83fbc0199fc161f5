package nihttp_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// A readiness probe: 200 once the provider is known and its keys loaded and
// the session store answers, else 503 with one line per failed check.
func ExampleHandlers_ReadyHandler() {
	provider := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer provider.Close()
	cfg := provider.Config()
	cfg.LazyDiscovery = true
	client, err := nextidentity.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	key := make([]byte, nihttp.KeySize) // random, kept secret, shared by every instance
	rand.Read(key)
	h, err := nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{key}, Store: nihttp.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /readyz", h.ReadyHandler())

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 200 ready
}
