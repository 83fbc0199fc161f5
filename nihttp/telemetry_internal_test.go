package nihttp

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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

	bare := testing.AllocsPerRun(200, func() { _, _ = mem.Load(ctx, id) })
	traced := testing.AllocsPerRun(200, func() { _, _ = st.Load(ctx, id) })
	require.Equal(t, bare, traced, "allocations per Load: bare store %v, instrumented %v", bare, traced)
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
