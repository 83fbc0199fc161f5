package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/internal/storetest"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// counter is a go-redis hook counting round trips (one per command sent
// alone, one per pipeline) and the commands in them. It leaves out what
// go-redis sends to set up a new connection (HELLO, CLIENT SETINFO ...),
// once per pooled connection.

type counter struct {
	mu       sync.Mutex
	trips    int
	commands []string
	args     [][]any
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if connSetup(cmd) {
			return next(ctx, cmd)
		}
		c.mu.Lock()
		c.trips++
		c.commands = append(c.commands, cmd.Name())
		c.args = append(c.args, cmd.Args())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		counted := false
		for _, cmd := range cmds {
			if !connSetup(cmd) {
				c.commands = append(c.commands, cmd.Name())
				c.args = append(c.args, cmd.Args())
				counted = true
			}
		}
		if counted {
			c.trips++
		}
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func connSetup(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips, c.commands, c.args = 0, nil, nil
}

func (c *counter) get() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trips, append([]string(nil), c.commands...)
}

func TestLoadIsOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	rdb := newClient(t, redistest.Start(t))
	var c counter
	rdb.AddHook(&c)
	require.NoError(t, rdb.Ping(ctx).Err()) // the connection is set up
	st := redisstore.New(rdb, redisstore.Options{})
	s := storetest.NewSession(t, "user-1", "sid-1")
	_, err := st.Save(ctx, s, time.Hour)
	require.NoError(t, err)

	trips, cmds := c.get()
	require.Equal(t, 2, trips, "ping, then Save in one pipeline: %v", cmds)

	for _, tc := range []struct {
		name  string
		id    string
		trips int
		err   error
	}{
		{"live session", redisstore.CookieOf(s), 1, nil},
		{"unknown session", unknownCookie(t), 1, nihttp.ErrNoSession},
		{"the session ID alone", s.ID, 0, nihttp.ErrNoSession},
		{"not a session ID", "no such {id}", 0, nihttp.ErrNoSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.reset()
			_, err := st.Load(ctx, tc.id)
			if tc.err == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.err)
			}
			trips, cmds := c.get()
			require.Equal(t, tc.trips, trips)
			if tc.trips == 1 {
				require.Equal(t, []string{"get"}, cmds)
			}
		})
	}
}

// TestCommandsTouchOneKey checks what the package documentation promises
// Cluster users: every command the store sends names at most one key.
func TestCommandsTouchOneKey(t *testing.T) {
	ctx := context.Background()
	rdb := newClient(t, redistest.Start(t))
	var c counter
	rdb.AddHook(&c)
	st := redisstore.New(rdb, redisstore.Options{})
	var sessions []*nihttp.Session
	for range 20 {
		s := storetest.NewSession(t, "user-1", "sid-1")
		_, err := st.Save(ctx, s, time.Hour)
		require.NoError(t, err)
		sessions = append(sessions, s)
	}
	_, err := st.Load(ctx, redisstore.CookieOf(sessions[0]))
	require.NoError(t, err)
	require.NoError(t, st.Delete(ctx, sessions[0]))
	unlock, err := st.Lock(ctx, sessions[1].ID, time.Minute)
	require.NoError(t, err)
	unlock()
	_, err = st.EndSessions(ctx, "user-1", "sid-1")
	require.NoError(t, err)
	_, err = st.FirstSeen(ctx, "jti", time.Minute)
	require.NoError(t, err)

	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, args := range c.args {
		name := args[0].(string)
		seen[name] = true
		switch name {
		case "get", "smembers":
			require.Len(t, args, 2, "%v", args)
		case "del", "exists":
			require.Len(t, args, 2, "one key: %v", args)
		case "set", "srem": // key, then values and options
		case "eval", "evalsha": // script, numkeys, keys...
			require.EqualValues(t, 1, args[2], "one key: %v", args[:3])
		default:
			t.Errorf("command %v: not one whose keys the test checks", args)
		}
	}
	for _, name := range []string{"get", "set", "srem", "smembers", "exists", "eval"} {
		require.True(t, seen[name], "the test exercised %s", name)
	}
}

func TestFirstSeen(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	rdb := newClient(t, addr)
	st := redisstore.New(rdb, redisstore.Options{})

	long := string(make([]byte, 300)) + "x"
	for _, id := range []string{"jti-1", "jti-2", long, long + "y"} {
		first, err := st.FirstSeen(ctx, id, time.Minute)
		require.NoError(t, err)
		require.True(t, first, "%.10q", id)
		first, err = st.FirstSeen(ctx, id, time.Minute)
		require.NoError(t, err)
		require.False(t, first, "%.10q", id)
	}
	ttl, err := rdb.PTTL(ctx, "nihttp:replay:jti-1").Result()
	require.NoError(t, err)
	require.InDelta(t, float64(time.Minute), float64(ttl), float64(10*time.Second))

	for _, tc := range []struct {
		id  string
		ttl time.Duration
	}{{"", time.Minute}, {"jti", 0}, {"jti", -time.Second}} {
		_, err := st.FirstSeen(ctx, tc.id, tc.ttl)
		require.ErrorContains(t, err, "redisstore: FirstSeen needs", "%+v", tc)
	}

	// Concurrent calls from two instances (two clients): exactly one is first.
	other := redisstore.New(newClient(t, addr), redisstore.Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for i := range 20 {
		wg.Go(func() {
			c := st
			if i%2 == 1 {
				c = other
			}
			first, err := c.FirstSeen(ctx, "jti-concurrent", time.Minute)
			if assert.NoError(t, err) && first {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, firsts)
}
