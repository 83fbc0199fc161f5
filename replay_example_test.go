package nextidentity_test

import (
	"context"
	"fmt"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// A replay cache drops the second delivery of a message with the same id.
func ExampleNewMemoryReplayCache() {
	cache := nextidentity.NewMemoryReplayCache(1000)
	ctx := context.Background()
	for _, jti := range []string{"evt-1", "evt-2", "evt-1"} {
		first, err := cache.FirstSeen(ctx, jti, 10*time.Minute)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(jti, first)
	}
	// Output:
	// evt-1 true
	// evt-2 true
	// evt-1 false
}
