package nihttp_test

import (
	"testing"

	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) nihttp.ServerStore { return nihttp.NewMemoryStore() })
}
