package nextidentity_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

func TestBrokenConnectionRefused(t *testing.T) {
	// Reserve a loopback port, then free it: connecting to it is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	e := brokenNew(t, func(cfg *nextidentity.Config) {
		cfg.TokenEndpoint = dead + testprovider.PathToken
		cfg.UserInfoEndpoint = dead + testprovider.PathUserInfo
		cfg.JWKSURL = dead + testprovider.PathJWKS
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	start := time.Now()
	_, err = e.refresh(ctx)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr)
	require.Equal(t, "dial", opErr.Op)

	_, err = e.userInfo(ctx)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)

	_, err = e.verify(ctx)
	require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.Less(t, time.Since(start), 5*time.Second)

	// The provider comes back on the same address: the same client works.
	l, err = net.Listen("tcp", strings.TrimPrefix(dead, "http://"))
	require.NoError(t, err)
	back := httptest.NewUnstartedServer(e.p.Config.Handler)
	require.NoError(t, back.Listener.Close())
	back.Listener = l
	back.Start()
	t.Cleanup(back.Close)
	e.clk.Advance(2 * time.Second) // past the JWKS store's 1s failure backoff
	e.requireWorks(t)
}

func TestBrokenConnectionDrops(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{"closed before any response", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}, io.EOF},
		{"closed mid-body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			// Less than announced: the server cuts the connection.
			_, _ = io.WriteString(w, `{"access_token":"rb5b`)
		}, io.ErrUnexpectedEOF},
	} {
		for _, ep := range []string{"token", "userinfo"} {
			t.Run(tc.name+"/"+ep, func(t *testing.T) {
				e := brokenNew(t, nil)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var err error
				if ep == "token" {
					e.p.Handle(testprovider.PathToken, tc.handler)
					_, err = e.refresh(ctx)
				} else {
					e.p.Handle(testprovider.PathUserInfo, tc.handler)
					_, err = e.userInfo(ctx)
				}
				require.ErrorIs(t, err, tc.want)
				require.Contains(t, err.Error(), ep)
				e.requireWorks(t)
			})
		}
	}
}

// brokenHang blocks until the client gives up (or the test ends).
func brokenHang(release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Read the body so the server watches the connection and cancels
		// r.Context() when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
}

func TestBrokenHang(t *testing.T) {
	const deadline = 200 * time.Millisecond
	check := func(t *testing.T, call func(context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		err := call(ctx)
		elapsed := time.Since(start)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// A hang guard, not a timing test: the call must end because of the
		// caller's deadline, well before any client-side timeout.
		require.Less(t, elapsed, 3*time.Second)
	}

	t.Run("token", func(t *testing.T) {
		e := brokenNew(t, nil)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		e.p.Handle(testprovider.PathToken, brokenHang(release))
		check(t, func(ctx context.Context) error { _, err := e.refresh(ctx); return err })
		e.requireWorks(t)
	})

	t.Run("userinfo", func(t *testing.T) {
		e := brokenNew(t, nil)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		e.p.Handle(testprovider.PathUserInfo, brokenHang(release))
		check(t, func(ctx context.Context) error { _, err := e.userInfo(ctx); return err })
		e.requireWorks(t)
	})

	t.Run("token dribbles", func(t *testing.T) {
		// Headers at once, then a byte now and then, forever.
		e := brokenNew(t, nil)
		e.p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				if _, err := io.WriteString(w, " "); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-tick.C:
				}
			}
		})
		check(t, func(ctx context.Context) error { _, err := e.refresh(ctx); return err })
		e.requireWorks(t)
	})

	t.Run("discovery", func(t *testing.T) {
		p := testprovider.New(t)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		p.Handle(testprovider.PathDiscovery, brokenHang(release))
		check(t, func(ctx context.Context) error {
			c, err := nextidentity.New(ctx, mkConfig(p))
			if c != nil {
				_ = c.Close()
			}
			return err
		})
		p.Handle(testprovider.PathDiscovery, nil)
		mkClient(t, mkConfig(p))
	})

	t.Run("jwks first load, then answers", func(t *testing.T) {
		// The provider is slow, then answers the pending request.
		e := brokenNew(t, nil)
		release := make(chan struct{})
		var releaseOnce sync.Once
		t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
		e.p.Handle(testprovider.PathJWKS, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
				return
			case <-release:
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(e.p.JWKS())
		})
		check(t, func(ctx context.Context) error {
			_, err := e.verify(ctx)
			require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
			return err
		})
		// A second caller is bounded by its own deadline too.
		check(t, func(ctx context.Context) error { _, err := e.verify(ctx); return err })
		releaseOnce.Do(func() { close(release) })
		e.requireWorks(t)
	})

	t.Run("jwks first load never answers", func(t *testing.T) {
		// The JWKS request hangs for good; the HTTP client's timeout ends it
		// and the same client recovers once the provider is back.
		e := brokenNew(t, func(cfg *nextidentity.Config) {
			cfg.HTTPClient = &http.Client{Timeout: 500 * time.Millisecond}
		})
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		e.p.Handle(testprovider.PathJWKS, brokenHang(release))
		check(t, func(ctx context.Context) error { _, err := e.verify(ctx); return err })
		e.serveOK()
		require.Eventually(t, func() bool {
			e.clk.Advance(2 * time.Second) // step over the failure backoff
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := e.verify(ctx)
			return err == nil
		}, 5*time.Second, 20*time.Millisecond)
		e.requireWorks(t)
	})
}
