package redisstore

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// maxStuck bounds the calls to Redis that answered their caller with a
// timeout but are still waiting for Redis (see do). Past it, calls
// fail at once instead of starting more goroutines: a Redis that has
// stopped answering costs at most maxStuck goroutines and connections.
const maxStuck = 64

// errStuck is returned, without asking Redis, while maxStuck calls are
// still waiting for it.
var errStuck = errors.New("too many calls to Redis still waiting for an answer")

// do runs op (one or more Redis commands) bounded by Options.Timeout and
// ctx, whatever the client's options: go-redis only applies a context's
// deadline to its socket reads and writes with ContextTimeoutEnabled, and
// otherwise waits for its own ReadTimeout (or forever, at -1) on a Redis
// that accepts connections and never answers. So op runs in a goroutine
// and do returns when op does or the deadline passes, whichever is first.
// An op left running keeps the (cancelled) context and ends with
// go-redis's own timeouts; while maxStuck of them are left running, do
// fails at once. A failure wraps nihttp.ErrStoreUnavailable with what.
//
// A client that applies the context's deadline to everything it waits for
// (honoursDeadlines) is called directly, on the caller's goroutine: a
// goroutine per call costs a scheduler hand-off, which on a busy machine
// is more than the round trip to Redis.
func do[T any](ctx context.Context, s *Store, what string, op func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if s.direct {
		return op(ctx)
	}
	if s.stuck.Load() >= maxStuck {
		return zero, unavailable(what, errStuck)
	}
	var state atomic.Int32 // 0 running, 1 returned to the caller, 2 abandoned
	done := make(chan result[T], 1)
	go func() {
		v, err := op(ctx)
		if !state.CompareAndSwap(0, 1) {
			s.stuck.Add(-1) // abandoned by the caller: no longer stuck
		}
		done <- result[T]{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		s.stuck.Add(1)
		if !state.CompareAndSwap(0, 2) {
			s.stuck.Add(-1) // op returned meanwhile
			r := <-done
			return r.v, r.err
		}
		return zero, unavailable(what, context.Cause(ctx))
	}
}

// result is what an op passes back to do.
type result[T any] struct {
	v   T
	err error
}

// honoursDeadlines reports whether rdb applies a context's deadline to its
// dials, pool waits, socket reads and writes and retry back-offs: a
// *redis.Client (one server, or Sentinel's failover client) or a
// *redis.ClusterClient with ContextTimeoutEnabled and socket deadlines not
// disabled (a ReadTimeout or WriteTimeout of -2, which go-redis keeps as -1
// once normalised, sets no deadline at all).
func honoursDeadlines(rdb redis.UniversalClient) bool {
	switch c := rdb.(type) {
	case *redis.Client:
		o := c.Options()
		return o.ContextTimeoutEnabled && o.ReadTimeout >= 0 && o.WriteTimeout >= 0
	case *redis.ClusterClient:
		o := c.Options()
		return o.ContextTimeoutEnabled && o.ReadTimeout >= 0 && o.WriteTimeout >= 0
	}
	return false
}
