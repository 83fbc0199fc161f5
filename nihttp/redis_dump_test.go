package nihttp_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// monitor records what Redis's MONITOR shows: every command any client
// sends, with its arguments.
type monitor struct {
	conn net.Conn
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func startMonitor(t *testing.T, addr string) *monitor {
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = conn.Write([]byte("MONITOR\r\n"))
	require.NoError(t, err)
	m := &monitor{conn: conn, done: make(chan struct{})}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "+OK\r\n", line)
	go func() {
		defer close(m.done)
		for {
			line, err := r.ReadString('\n')
			m.mu.Lock()
			m.buf.WriteString(line)
			m.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { m.stop() })
	return m
}

// stop ends the recording and returns it.
func (m *monitor) stop() string {
	_ = m.conn.Close()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf.String()
}

// dumpRedis returns every key of the Redis at addr with what it holds (as
// GET, SMEMBERS and DUMP give it).
func dumpRedis(t *testing.T, addr string) string {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\n")
		typ, err := rdb.Type(ctx, k).Result()
		require.NoError(t, err)
		switch typ {
		case "string":
			v, err := rdb.Get(ctx, k).Result()
			require.NoError(t, err)
			b.WriteString(v + "\n")
		case "set":
			members, err := rdb.SMembers(ctx, k).Result()
			require.NoError(t, err)
			b.WriteString(strings.Join(members, "\n") + "\n")
		default:
			t.Fatalf("key %q holds a %s, which this test does not read", k, typ)
		}
		d, err := rdb.Dump(ctx, k).Result()
		require.NoError(t, err)
		b.WriteString(d + "\n")
	}
	return b.String()
}

// TestRedisHoldsNoSecrets: after a sign-in, requests, a token refresh and
// an activity write and a back-channel logout through nihttp, neither what Redis holds (every key and
// value) nor what it was sent (MONITOR) contains a token, the user's email,
// name or custom claim, the subject or provider session ID in clear, the
// session's cookie value or either of its halves. Whoever reads Redis (a
// replica, a backup, MONITOR) cannot sign in as the user or use the tokens.
func TestRedisHoldsNoSecrets(t *testing.T) {
	addr := redistest.Start(t)
	mon := startMonitor(t, addr)
	user := nextidentitytest.User{
		Subject:  "3f0b8e3c-dump-subject-5d1c",
		Email:    "dana.dump@example.com",
		Password: "correct horse",
		Name:     "Dana Dumpling",
		Claims:   map[string]any{"member_tier": "platinum-7f3a9c"},
	}
	p, apps := startAppsWith(t, 1, []nextidentitytest.User{user}, true, func(c *nihttp.Config) {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rdb.Close() })
		c.Store = redisstore.New(rdb, redisstore.Options{})
		c.BackChannelLogout = true // ID tokens carry a sid
		c.IdleTimeout = 8 * time.Hour
	})
	a := apps[0]
	br := newBrowser(t)
	resp := br.finish(p, a, br.startLogin(a, ""), user.Email, user.Password)
	require.Equal(t, http.StatusFound, resp.StatusCode)

	var secrets []string
	collect := func() {
		resp, body := br.get(a.url + "/private/x")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		s, err := br.sessionOf(a)
		require.NoError(t, err)
		require.NotEmpty(t, s.SID)
		secrets = append(secrets, s.ID, string(s.StoreSecret), s.Token.AccessToken, s.Token.RefreshToken,
			s.Token.RawIDToken, s.Subject, s.SID)
		for _, c := range br.cookies(a) {
			if c.Name == sessionCookie {
				secrets = append(secrets, c.Value)
			}
		}
	}
	collect()
	p.clock.Advance(2 * time.Hour) // the access token expires: a refresh
	collect()
	p.clock.Advance(10 * time.Minute) // an activity write
	collect()
	require.Equal(t, 2, p.Requests(nextidentitytest.EndpointToken), "sign-in and one refresh")
	secrets = append(secrets, user.Email, user.Name, "platinum-7f3a9c", user.Subject)

	dump := dumpRedis(t, addr)
	// Back-channel logout ends the session by its sid (the index).
	require.NoError(t, p.EndSession(context.Background(), user.Subject))
	require.False(t, br.signedIn(a))
	dump += dumpRedis(t, addr)
	sent := mon.stop()
	for i, s := range secrets {
		require.NotEmpty(t, s, "secret %d", i)
		if strings.Contains(dump, s) {
			t.Errorf("Redis holds secret %d (%.6q...)", i, s)
		}
		if strings.Contains(sent, s) {
			t.Errorf("Redis was sent secret %d (%.6q...)", i, s)
		}
	}
	require.Contains(t, sent, "sess:", "MONITOR saw the store's commands")
}
