package keys

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/httpx"
)

// TestStoreFailureBackoff: a failed first load is remembered for
// FailureBackoff; callers in the window get its error without a request.
func TestStoreFailureBackoff(t *testing.T) {
	good := func(t *testing.T) []byte { return jwks(t, rsaKey(t, "a")) }
	for _, tc := range []struct {
		name    string
		backoff time.Duration // Options.FailureBackoff, 0 for the default
		window  time.Duration // effective backoff
		status  int
		body    func(*testing.T) []byte
		maxB    int64
		wantErr error
	}{
		{name: "HTTP 500, default 1s", status: 500, body: good, window: time.Second, wantErr: ErrFetch},
		{name: "HTTP 404, custom 30s", backoff: 30 * time.Second, window: 30 * time.Second, status: 404, body: good, wantErr: ErrFetch},
		{name: "not JSON", status: 200, body: func(*testing.T) []byte { return []byte("<html>") }, window: time.Second, wantErr: ErrFetch},
		{name: "no usable key", status: 200, body: func(t *testing.T) []byte {
			return jwks(t, jwk(t, testKeys().rsaWeak, "weak", "", ""))
		}, window: time.Second, wantErr: ErrFetch},
		{name: "too large", status: 200, body: good, maxB: 10, window: time.Second, wantErr: httpx.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, tc.body(t))
			srv.status.Store(int32(tc.status))
			clock := newClock()
			s := newStore(t, srv, Options{FailureBackoff: tc.backoff, MaxBytes: tc.maxB, UnknownKIDInterval: time.Hour, Now: clock.Now})

			_, err := s.Candidates(context.Background(), "a", "RS256")
			require.ErrorIs(t, err, tc.wantErr)
			require.ErrorIs(t, err, ErrFetch)
			require.EqualValues(t, 1, srv.hits.Load())

			// Within the window: the remembered error, no request, however
			// many callers.
			for _, d := range []time.Duration{0, tc.window / 2, tc.window/2 - time.Nanosecond} {
				clock.Advance(d)
				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() {
						_, err := s.Candidates(context.Background(), "a", "RS256")
						if !errors.Is(err, tc.wantErr) {
							t.Errorf("in backoff: %v, want %v", err, tc.wantErr)
						}
					})
				}
				wg.Wait()
				require.EqualValues(t, 1, srv.hits.Load(), "fetched during backoff")
				require.EqualValues(t, 1, s.Fetches())
			}

			// Window over: the provider is asked again (still failing).
			clock.Advance(time.Nanosecond)
			_, err = s.Candidates(context.Background(), "a", "RS256")
			require.ErrorIs(t, err, tc.wantErr)
			require.EqualValues(t, 2, srv.hits.Load())

			// The provider recovers: after the window the keys load.
			// (MaxBytes cannot change on a live store, so not for "too large".)
			if tc.maxB == 0 {
				srv.status.Store(http.StatusOK)
				srv.Set(good(t))
				_, err = s.Candidates(context.Background(), "a", "RS256")
				require.ErrorIs(t, err, tc.wantErr, "still in the second window")
				require.EqualValues(t, 2, srv.hits.Load())
				clock.Advance(tc.window)
				got, err := s.Candidates(context.Background(), "a", "RS256")
				require.NoError(t, err)
				require.Equal(t, []string{"a"}, kids(got))
				require.EqualValues(t, 3, srv.hits.Load())
			}
		})
	}
}

// TestStoreRefreshFailureKeepsCache: once keys are cached, a failing
// unknown-kid refetch reports the failure but known kids keep working, with
// no new request.
func TestStoreRefreshFailureKeepsCache(t *testing.T) {
	srv := newJWKSServer(t, jwks(t, rsaKey(t, "a")))
	clock := newClock()
	s := newStore(t, srv, Options{UnknownKIDInterval: time.Hour, Now: clock.Now})
	_, err := s.Candidates(context.Background(), "a", "RS256")
	require.NoError(t, err)

	srv.status.Store(http.StatusInternalServerError)
	_, err = s.Candidates(context.Background(), "b", "RS256")
	require.ErrorIs(t, err, ErrFetch)
	require.EqualValues(t, 2, srv.hits.Load())

	for range 5 {
		got, err := s.Candidates(context.Background(), "a", "RS256")
		require.NoError(t, err)
		require.Equal(t, []string{"a"}, kids(got))
	}
	// The failed refetch still counts against the unknown-kid rate limit.
	_, err = s.Candidates(context.Background(), "b", "RS256")
	require.ErrorIs(t, err, ErrNoKey)
	require.EqualValues(t, 2, srv.hits.Load())
}

func TestStoreBodyLimit(t *testing.T) {
	body := jwks(t, rsaKey(t, "a"))
	size := int64(len(body))
	for _, tc := range []struct {
		name     string
		maxBytes int64
		endless  bool
		wantErr  error
	}{
		{name: "under the limit", maxBytes: size + 1},
		{name: "exactly the limit", maxBytes: size},
		{name: "one byte over", maxBytes: size - 1, wantErr: httpx.ErrTooLarge},
		{name: "far over", maxBytes: 64, wantErr: httpx.ErrTooLarge},
		{name: "endless body", maxBytes: 1 << 16, endless: true, wantErr: httpx.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, body)
			var written atomic.Int64
			if tc.endless {
				srv.Handle(func(w http.ResponseWriter, r *http.Request) {
					chunk := []byte(strings.Repeat(" ", 4096))
					_, _ = w.Write([]byte(`{"keys":[`))
					for range 1 << 14 { // up to 64 MiB
						n, err := w.Write(chunk)
						written.Add(int64(n))
						if err != nil {
							return
						}
					}
				})
			}
			s := newStore(t, srv, Options{MaxBytes: tc.maxBytes, Now: newClock().Now})
			var got []*Key
			var err error
			within(t, hangGuard, "lookup", func() {
				got, err = s.Candidates(context.Background(), "a", "RS256")
			})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.ErrorIs(t, err, ErrFetch)
				if tc.endless {
					require.Less(t, written.Load(), int64(32<<20), "body read far past the limit")
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, []string{"a"}, kids(got))
		})
	}
}

// TestStoreBackgroundRefresh: the loop picks up rotated keys, does nothing
// before first use, and keeps cached keys when a refresh fails.
func TestStoreBackgroundRefresh(t *testing.T) {
	const interval = 5 * time.Millisecond

	t.Run("picks up rotated keys", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := newStore(t, srv, Options{RefreshInterval: interval, UnknownKIDInterval: time.Hour, Now: newClock().Now})
		_, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)

		srv.Set(jwks(t, rsaKey(t, "k2")))
		require.Eventually(t, func() bool {
			set := s.cur.Load()
			return set.byKID["k2"] != nil && set.byKID["k1"] == nil
		}, hangGuard, time.Millisecond, "rotation not picked up")
		got, err := s.Candidates(context.Background(), "k2", "RS256")
		require.NoError(t, err)
		require.Equal(t, []string{"k2"}, kids(got))
	})

	t.Run("idle before first use", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := newStore(t, srv, Options{RefreshInterval: interval, Now: newClock().Now})
		require.Never(t, func() bool { return srv.hits.Load() != 0 }, 20*interval, interval)
		require.Zero(t, s.Fetches())
	})

	t.Run("failure keeps cached keys", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := newStore(t, srv, Options{RefreshInterval: interval, UnknownKIDInterval: time.Hour, Now: newClock().Now})
		_, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)
		srv.status.Store(http.StatusBadGateway)
		h := srv.hits.Load()
		require.Eventually(t, func() bool { return srv.hits.Load() >= h+3 }, hangGuard, time.Millisecond)
		got, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)
		require.Equal(t, []string{"k1"}, kids(got))
	})
}

const refreshLoopFn = "github.com/oidc-kit/nextidentity/internal/keys.(*Store).refreshLoop"

const runFn = "github.com/oidc-kit/nextidentity/internal/keys.(*Store).run"

func TestStoreClose(t *testing.T) {
	t.Run("stops the loop, idempotent", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := New(Options{URL: srv.URL, MaxBytes: 1 << 20, RefreshInterval: time.Millisecond})
		_, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return srv.hits.Load() >= 3 }, hangGuard, time.Millisecond, "loop not running")

		within(t, hangGuard, "Close", s.Close)
		// (Server hits are not compared: a request cancelled by Close may
		// still reach the handler a moment later.)
		f := s.Fetches()
		within(t, hangGuard, "second Close", s.Close)
		within(t, hangGuard, "third Close", s.Close)
		require.Eventually(t, func() bool { return goroutinesIn(refreshLoopFn) == 0 }, hangGuard, time.Millisecond, "refresh loop outlived Close")
		require.Never(t, func() bool { return s.Fetches() != f }, 50*time.Millisecond, time.Millisecond, "fetch started after Close")

		// Cached keys remain readable after Close.
		got, err := s.Candidates(context.Background(), "k1", "RS256")
		require.NoError(t, err)
		require.Equal(t, []string{"k1"}, kids(got))
	})

	t.Run("close without ever fetching", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := New(Options{URL: srv.URL, MaxBytes: 1 << 20, RefreshInterval: time.Hour})
		within(t, hangGuard, "Close", s.Close)
		within(t, hangGuard, "Close", s.Close)
		require.Zero(t, srv.hits.Load())
	})

	for _, tc := range []struct {
		name string
		warm bool
	}{
		{"in-flight first load on a hanging server", false},
		{"in-flight unknown-kid refetch on a hanging server", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
			s := New(Options{URL: srv.URL, MaxBytes: 1 << 20, RefreshInterval: time.Hour, FetchTimeout: time.Hour})
			if tc.warm {
				_, err := s.Candidates(context.Background(), "k1", "RS256")
				require.NoError(t, err)
			}
			g := srv.Gate() // never released: the server hangs

			const n = 10
			errc := make(chan error, n)
			for range n {
				go func() {
					_, err := s.Candidates(context.Background(), "k2", "RS256")
					errc <- err
				}()
			}
			<-g.entered
			require.Eventually(t, func() bool { return waitersInRefresh() >= n }, hangGuard, time.Millisecond)

			within(t, hangGuard, "Close during a hanging fetch", s.Close)
			require.Eventually(t, func() bool { return goroutinesIn(runFn) == 0 }, hangGuard, time.Millisecond, "fetch goroutine outlived Close")
			for range n {
				select {
				case err := <-errc:
					require.ErrorIs(t, err, ErrFetch)
				case <-time.After(hangGuard):
					t.Fatal("waiter not released by Close")
				}
			}
			within(t, hangGuard, "second Close", s.Close)
		})
	}

	t.Run("lookup after Close does not hang or reach the server", func(t *testing.T) {
		srv := newJWKSServer(t, jwks(t, rsaKey(t, "k1")))
		s := New(Options{URL: srv.URL, MaxBytes: 1 << 20})
		s.Close()
		var err error
		within(t, hangGuard, "lookup after Close", func() {
			_, err = s.Candidates(context.Background(), "k1", "RS256")
		})
		require.ErrorIs(t, err, ErrFetch)
		require.Zero(t, srv.hits.Load())
	})
}

// TestStoreCloseConcurrentWithLookups: Close while other goroutines are
// still looking keys up (a server shutting down with verifications in
// flight) must neither race nor panic. The scenario runs in a child process
// so that a panic fails this test instead of killing the whole test binary.
func TestStoreCloseConcurrentWithLookups(t *testing.T) {
	if os.Getenv(closeChildEnv) == "1" {
		closeConcurrentWithLookups(t)
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestStoreCloseConcurrentWithLookups$", "-test.count=1")
	cmd.Env = append(os.Environ(), closeChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		var summary []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "WARNING: DATA RACE") ||
				strings.Contains(line, "(*Store).") || strings.Contains(line, "/keys.go:") ||
				strings.Contains(line, "after Close") || strings.Contains(line, "did not return") {
				summary = append(summary, line)
			}
		}
		if len(summary) > 40 {
			summary = summary[:40]
		}
		t.Fatalf("Close concurrent with lookups failed (%v):\n%s", err, strings.Join(summary, "\n"))
	}
}

const closeChildEnv = "NEXTIDENTITY_KEYS_CLOSE_CHILD"

func closeConcurrentWithLookups(t *testing.T) {
	srv := newJWKSServer(t, nil)
	srv.status.Store(http.StatusServiceUnavailable)
	for i := range 20 {
		// Cold store, failures not remembered: every lookup starts a fetch.
		s := New(Options{URL: srv.URL, MaxBytes: 1 << 20, RefreshInterval: time.Hour, FailureBackoff: time.Nanosecond})
		var stop atomic.Bool
		var calls atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					_, _ = s.Candidates(context.Background(), "a", "RS256")
					calls.Add(1)
				}
			})
		}
		for s.Fetches() < 3 {
			runtime.Gosched()
		}
		within(t, hangGuard, "Close", s.Close)
		// Close has returned: the lookups still running must not start
		// fetches (Close "waits for running fetches to end").
		f, c := s.Fetches(), calls.Load()
		deadline := time.Now().Add(hangGuard)
		for calls.Load() < c+16 && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		stop.Store(true)
		within(t, hangGuard, "lookups", wg.Wait)
		if after := s.Fetches() - f; after != 0 {
			t.Fatalf("iteration %d: %d fetches started after Close returned", i, after)
		}
	}
}
