package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// BenchmarkLoad loads one session (about 2 KB as JSON) from a Redis on
// loopback. "sealed" is Store.Load: one GET, then HKDF, AES-GCM and the
// session's decoding (nihttp's binary encoding, Session.UnmarshalBinary);
// "sealed-default-options" is the same through a client with go-redis's
// default options (a goroutine per call). "clear" is what Load did before
// sessions were sealed (the session as clear JSON under its ID: one GET
// and the JSON decoding),
// kept here only so that one run compares the two side by side:
//
//	go test -run '^$' -bench Load -count 6 ./nihttp/redisstore
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	addr := redistest.Start(b)
	// ContextTimeoutEnabled, as the package documentation advises: the
	// store then calls go-redis on the caller's goroutine.
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = rdb.Close() })
	st := redisstore.New(rdb, redisstore.Options{})
	s := storetest.NewSession(b, "0f4c1b0e-3c1a-4e55-9a55-6d1d8bb0e7a2", "sid-1")
	s.Token = storetest.NewTokenWithClaims(b, s.Subject, s.SID, map[string]any{
		"preferences": strings.Repeat("p", 1000), // custom claims: about 2 KB in all
	})
	data, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	cookie, err := st.Save(ctx, s, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	clearKey := "bench:clear:" + s.ID
	if err := rdb.Set(ctx, clearKey, data, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}

	b.Run("sealed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.Load(ctx, cookie); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "session-bytes")
	})
	b.Run("sealed-default-options", func(b *testing.B) {
		// go-redis's default options ignore context deadlines, so each
		// call runs in a goroutine of its own (see Options.Timeout).
		st := redisstore.New(newClient(b, addr), redisstore.Options{})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.Load(ctx, cookie); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clear", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := clearLoad(ctx, rdb, clearKey, s.ID); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "session-bytes")
	})
}

// clearLoad is Load as it was before sessions were sealed (and before the
// store bounded calls itself): a GET under the session ID, bounded by
// the default Timeout through the context, and the JSON decoding.
func clearLoad(ctx context.Context, rdb redis.UniversalClient, key, id string) (*nihttp.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, redisstore.DefaultTimeout)
	defer cancel()
	data, err := rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) || string(data) == "ended" {
		return nil, nihttp.ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	var sess nihttp.Session
	if err := json.Unmarshal(data, &sess); err != nil {
		return nil, err
	}
	if sess.ID != id {
		return nil, nihttp.ErrNoSession
	}
	return &sess, nil
}
