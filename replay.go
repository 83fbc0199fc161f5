package nextidentity

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// ReplayCache remembers identifiers (a JWT's "jti") for a while, so that a
// message delivered twice is acted on once: a replayed back-channel logout
// token, a workflow event the provider retried. NewMemoryReplayCache returns
// one for a single instance; several instances behind a load balancer need a
// shared implementation, for example one backed by Redis.
//
// Implementations must be safe for concurrent use, and FirstSeen must be
// atomic: of two concurrent calls with the same id, exactly one reports true.
type ReplayCache interface {
	// FirstSeen records id for ttl and reports whether it had not been recorded yet.
	FirstSeen(ctx context.Context, id string, ttl time.Duration) (bool, error)
}

// DefaultReplayCacheSize is the capacity of NewMemoryReplayCache when max is
// not positive.
const DefaultReplayCacheSize = 10000

// errReplayArgs is returned for an empty id or a ttl that is not positive.
var errReplayArgs = errors.New("nextidentity: replay cache needs a non-empty id and a positive ttl")

// NewMemoryReplayCache returns an in-process ReplayCache holding at most max
// ids (DefaultReplayCacheSize when max is not positive). An id is forgotten
// when its ttl has passed. When the cache is full of unexpired ids, recording
// a new one evicts the id closest to its expiry, so memory stays bounded even
// under a flood; size max above the number of messages expected within one
// ttl so that this does not happen in normal operation. It is safe for
// concurrent use.
func NewMemoryReplayCache(max int) ReplayCache {
	return newMemoryReplayCache(max, time.Now)
}

func newMemoryReplayCache(max int, now func() time.Time) *memoryReplayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	return &memoryReplayCache{max: max, now: now, byID: map[string]*replayEntry{}}
}

// memoryReplayCache is a map of ids plus a min-heap ordered by expiry, so
// expired ids are dropped from the top and a full cache evicts the id that
// would expire next.
type memoryReplayCache struct {
	max int
	now func() time.Time

	mu   sync.Mutex
	byID map[string]*replayEntry
	heap replayHeap
}

type replayEntry struct {
	id     string
	expiry time.Time
	index  int // position in the heap
}

// FirstSeen implements ReplayCache. It fails only for an empty id or a ttl
// that is not positive.
func (c *memoryReplayCache) FirstSeen(_ context.Context, id string, ttl time.Duration) (bool, error) {
	if id == "" || ttl <= 0 {
		return false, errReplayArgs
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		if now.Before(e.expiry) {
			return false, nil
		}
		e.expiry = now.Add(ttl) // expired but not yet purged: seen afresh
		heap.Fix(&c.heap, e.index)
		return true, nil
	}
	for len(c.heap) > 0 && !now.Before(c.heap[0].expiry) {
		delete(c.byID, heap.Pop(&c.heap).(*replayEntry).id)
	}
	if len(c.heap) >= c.max {
		delete(c.byID, heap.Pop(&c.heap).(*replayEntry).id)
	}
	e := &replayEntry{id: id, expiry: now.Add(ttl)}
	heap.Push(&c.heap, e)
	c.byID[id] = e
	return true, nil
}

// len reports how many ids are held, expired ones not yet purged included.
func (c *memoryReplayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

// replayHeap implements heap.Interface, earliest expiry first.
type replayHeap []*replayEntry

func (h replayHeap) Len() int           { return len(h) }
func (h replayHeap) Less(i, j int) bool { return h[i].expiry.Before(h[j].expiry) }
func (h replayHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *replayHeap) Push(x any) {
	e := x.(*replayEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *replayHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
