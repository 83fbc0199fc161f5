package redisstore

import (
	"context"
	"errors"
	"sync/atomic"
)

// maxStuck bounds the calls to Redis that answered their caller with a
// timeout but are still waiting for Redis (see Store.do). Past it, calls
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
func do[T any](ctx context.Context, s *Store, what string, op func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if s.stuck.Load() >= maxStuck {
		return zero, unavailable(what, errStuck)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
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
