package redisstore_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// BenchmarkLoad loads one session (about 2 KB of JSON) from a Redis on
// loopback: one GET and the JSON decoding.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	st := redisstore.New(newClient(b, redistest.Start(b)), redisstore.Options{})
	s := storetest.NewSession(b, "0f4c1b0e-3c1a-4e55-9a55-6d1d8bb0e7a2", "sid-1")
	s.Token = storetest.NewTokenWithClaims(b, s.Subject, s.SID, map[string]any{
		"preferences": strings.Repeat("p", 1000), // custom claims: about 2 KB in all
	})
	data, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Save(ctx, s, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Load(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data)), "session-bytes")
}
