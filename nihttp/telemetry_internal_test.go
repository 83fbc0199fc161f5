package nihttp

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// With the default providers (the global ones, no-ops until an application
// sets them) an instrumented store call allocates nothing more than the
// store's own call: the session load on every request pays no telemetry.
func TestInstrumentedStoreAllocatesNothingWithNoopProviders(t *testing.T) {
	mem := NewMemoryStore()
	ctx := context.Background()
	id, err := mem.Save(ctx, &Session{ExpiresAt: time.Now().Add(time.Hour)}, time.Hour)
	require.NoError(t, err)
	st := instrument(mem, telemetry.New(nil, nil, failureReasons))

	bare := allocsPerOp(1000, func() { _, _ = mem.Load(ctx, id) })
	traced := allocsPerOp(1000, func() { _, _ = st.Load(ctx, id) })
	require.InDelta(t, bare, traced, 0.5, "allocations per Load: bare store %v, instrumented %v", bare, traced)
}

// allocsPerOp is testing.AllocsPerRun without its rounding down to a whole
// number. Under the race detector sync.Pool drops a quarter of what it is
// given (the session and ID-token caches pool what they can), so a whole count
// flips between two runs of the same code; a real allocation per call still
// shows as a difference of one.
func allocsPerOp(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(runs)
}

func TestInstrumentKeepsTheStoreKind(t *testing.T) {
	tel := telemetry.New(nil, nil, failureReasons)
	mem := NewMemoryStore()
	st := instrument(mem, tel)
	_, ok := st.(ServerStore)
	require.True(t, ok, "an instrumented ServerStore is still a ServerStore")
	require.Same(t, mem, baseStore(st))

	cs := &cookieStore{}
	st = instrument(cs, tel)
	_, ok = st.(ServerStore)
	require.False(t, ok, "the cookie store does not become a ServerStore")
	require.Same(t, cs, baseStore(st))
}

// BenchmarkTelemetrySessionLoad is a cookie store Load, the store call of
// every signed-in request, side by side: "off" is the bare store (no
// telemetry at all, as before it existed), "default" the store as New
// wraps it with the default (no-op) providers. The cost with an SDK
// provider is in internal/bench (BenchmarkTelemetry).
func BenchmarkTelemetrySessionLoad(b *testing.B) {
	now := time.Now()
	cs := &cookieStore{sealer: mustSealer(b, newKey(b)), name: "__Host-nihttp_session", now: func() time.Time { return now }}
	ctx := context.Background()
	v, err := cs.Save(ctx, &Session{ID: "id", Subject: "sub", ExpiresAt: now.Add(time.Hour),
		Token: &nextidentity.Token{AccessToken: strings.Repeat("a", 800), RefreshToken: strings.Repeat("r", 40)}}, time.Hour)
	require.NoError(b, err)
	for _, c := range []struct {
		name  string
		store SessionStore
	}{{"off", cs}, {"default", instrument(cs, telemetry.New(nil, nil, failureReasons))}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.store.Load(ctx, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
