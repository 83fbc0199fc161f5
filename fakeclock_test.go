package nextidentity

import (
	"sync"
	"time"
)

// FakeClock is a settable clock, safe for concurrent use, shared by a
// provider and a client in tests that move time on. It is the one fake clock
// of the package's tests, internal and external (helpers_test.go aliases
// it); being in a _test.go file, it is not part of the API.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock returns a FakeClock reading t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{t: t} }

// Now is the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
