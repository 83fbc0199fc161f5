package nextidentity

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMemoryReplayCacheFirstSeen(t *testing.T) {
	ctx := context.Background()
	clk := NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := newMemoryReplayCache(10, clk.Now)

	steps := []struct {
		name    string
		advance time.Duration
		id      string
		ttl     time.Duration
		want    bool
	}{
		{"first", 0, "a", time.Minute, true},
		{"repeat", 0, "a", time.Minute, false},
		{"other id", 0, "b", time.Minute, true},
		{"just before expiry", time.Minute - time.Nanosecond, "a", time.Minute, false},
		{"at expiry", time.Nanosecond, "a", time.Minute, true},
		{"after renewal", 30 * time.Second, "a", time.Minute, false},
		{"b expired and purged", 0, "c", time.Hour, true},
		{"b afresh", 0, "b", time.Minute, true},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		got, err := c.FirstSeen(ctx, s.id, s.ttl)
		require.NoError(t, err, s.name)
		require.Equal(t, s.want, got, s.name)
	}
}

func TestMemoryReplayCacheRefusesBadArguments(t *testing.T) {
	c := NewMemoryReplayCache(0)
	for _, tc := range []struct {
		id  string
		ttl time.Duration
	}{{"", time.Minute}, {"a", 0}, {"a", -time.Second}} {
		_, err := c.FirstSeen(context.Background(), tc.id, tc.ttl)
		require.ErrorIs(t, err, errReplayArgs, "id %q ttl %v", tc.id, tc.ttl)
	}
}

func TestMemoryReplayCacheBounded(t *testing.T) {
	ctx := context.Background()
	clk := NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := newMemoryReplayCache(3, clk.Now)
	// "soon" expires first, so it is the one evicted when the cache is full.
	for _, e := range []struct {
		id  string
		ttl time.Duration
	}{{"late", time.Hour}, {"soon", time.Minute}, {"mid", 10 * time.Minute}, {"new", time.Hour}} {
		first, err := c.FirstSeen(ctx, e.id, e.ttl)
		require.NoError(t, err)
		require.True(t, first, e.id)
	}
	require.Equal(t, 3, c.len())
	for id, want := range map[string]bool{"late": false, "mid": false, "new": false} {
		first, err := c.FirstSeen(ctx, id, time.Hour)
		require.NoError(t, err)
		require.Equal(t, want, first, id)
	}
	first, err := c.FirstSeen(ctx, "soon", time.Minute)
	require.NoError(t, err)
	require.True(t, first, "the evicted id is new again")

	// Expired ids are purged before anything unexpired is evicted.
	clk.Advance(2 * time.Hour)
	for i := range 3 {
		first, err := c.FirstSeen(ctx, fmt.Sprint("x", i), time.Hour)
		require.NoError(t, err)
		require.True(t, first)
	}
	require.Equal(t, 3, c.len())
	defaults := newMemoryReplayCache(-1, clk.Now)
	require.Equal(t, DefaultReplayCacheSize, defaults.max)
}

func TestMemoryReplayCacheConcurrentOneWinner(t *testing.T) {
	c := NewMemoryReplayCache(100)
	for round := range 20 {
		id := fmt.Sprint("jti-", round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				first, err := c.FirstSeen(context.Background(), id, time.Minute)
				if err == nil && first {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, wins.Load(), id)
	}
}
