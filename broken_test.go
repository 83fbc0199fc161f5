package nextidentity_test

// Broken providers: every failure must come back as a typed error, in bounded
// time and memory, and must leave the client usable.

import (
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// brokenClock is a clock the test can move forward, to step over the JWKS
// store's failure backoff without waiting for it.
type brokenClock struct{ off atomic.Int64 }

func (c *brokenClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

func (c *brokenClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// brokenEnv is a provider, a client for it and the client's clock.
type brokenEnv struct {
	p   *testprovider.Provider
	c   *nextidentity.Client
	clk *brokenClock
}

func brokenNew(t *testing.T, edit func(*nextidentity.Config)) *brokenEnv {
	t.Helper()
	e := &brokenEnv{p: testprovider.New(t), clk: &brokenClock{}}
	cfg := mkConfig(e.p)
	cfg.Now = e.clk.Now
	if edit != nil {
		edit(&cfg)
	}
	e.c = mkClient(t, cfg)
	return e
}

func (e *brokenEnv) idToken() string {
	return testprovider.Sign("RS256", e.p.RSA, e.p.Claims(e.clk.Now(), ""), nil)
}

// serveOK restores well-behaved token, userinfo, discovery and JWKS endpoints.
func (e *brokenEnv) serveOK() {
	e.p.Handle(testprovider.PathToken, testprovider.TokenResponse(e.idToken()))
	e.p.Handle(testprovider.PathUserInfo, func(w http.ResponseWriter, r *http.Request) {
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{"sub": testprovider.Subject, "name": "John Smith"})
	})
	e.p.Handle(testprovider.PathDiscovery, nil)
	e.p.Handle(testprovider.PathJWKS, nil)
}

func (e *brokenEnv) refresh(ctx context.Context) (*nextidentity.Token, error) {
	return e.c.Refresh(ctx, &nextidentity.Token{AccessToken: "old-at", RefreshToken: "old-rt"})
}

func (e *brokenEnv) userInfo(ctx context.Context) (*nextidentity.UserInfo, error) {
	return e.c.UserInfo(ctx, &nextidentity.Token{AccessToken: "rb5bzkygqs5ahevp"})
}

func (e *brokenEnv) verify(ctx context.Context) (*nextidentity.IDToken, error) {
	return e.c.VerifyIDToken(ctx, e.idToken(), "")
}

// requireWorks restores the provider and checks that the same client can
// refresh, call userinfo and verify an ID token again.
func (e *brokenEnv) requireWorks(t *testing.T) {
	t.Helper()
	e.serveOK()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tok, err := e.refresh(ctx)
	require.NoError(t, err, "token endpoint after the failure")
	require.Equal(t, "rb5bzkygqs5ahevp", tok.AccessToken)
	require.Equal(t, testprovider.Subject, tok.IDToken.Subject)
	ui, err := e.userInfo(ctx)
	require.NoError(t, err, "userinfo after the failure")
	require.Equal(t, testprovider.Subject, ui.Subject)
	idt, err := e.verify(ctx)
	require.NoError(t, err, "ID token verification after the failure")
	require.Equal(t, testprovider.Subject, idt.Subject)
}

// brokenRequireProviderError asserts err is an *Error from endpoint with
// status, and returns it.
func brokenRequireProviderError(t *testing.T, err error, endpoint string, status int) *nextidentity.Error {
	t.Helper()
	var pe *nextidentity.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, endpoint, pe.Endpoint)
	require.Equal(t, status, pe.StatusCode)
	require.LessOrEqual(t, len(pe.Body), 256, "Body is an excerpt")
	require.Less(t, len(err.Error()), 1024, "the message stays short")
	return pe
}

// brokenRespond is a handler writing body with status and content type.
func brokenRespond(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

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

// brokenEndless yields prefix and then fill bytes, n bytes in all, generated
// lazily so nothing of that size is ever held.
type brokenEndless struct {
	prefix string
	fill   byte
	n      int64
}

func (r *brokenEndless) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	k := copy(p, r.prefix)
	r.prefix = r.prefix[k:]
	for i := k; i < len(p); i++ {
		p[i] = r.fill
	}
	r.n -= int64(len(p))
	return len(p), nil
}

const brokenTenGiB = 10 << 30

// brokenStreamer serves a 10 GiB body without Content-Length and records how
// much of it the server managed to write before the client hung up.
type brokenStreamer struct {
	written atomic.Int64
	done    chan struct{}
}

func brokenNewStreamer() *brokenStreamer { return &brokenStreamer{done: make(chan struct{}, 16)} }

func (s *brokenStreamer) handler(status int, contentType, prefix string, fill byte, gz bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() { s.done <- struct{}{} }()
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		var dst io.Writer = w
		if gz {
			w.Header().Set("Content-Encoding", "gzip")
			zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer zw.Close()
			dst = zw
		}
		w.WriteHeader(status)
		n, _ := io.Copy(dst, &brokenEndless{prefix: prefix, fill: fill, n: brokenTenGiB})
		s.written.Store(n)
	}
}

func brokenTotalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// brokenBounded runs call against an endless body and checks that it stops
// at the limit, quickly, without allocating anywhere near the body's size.
func brokenBounded(t *testing.T, s *brokenStreamer, call func(context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := brokenTotalAlloc()
	start := time.Now()
	err := call(ctx)
	elapsed := time.Since(start)
	allocated := brokenTotalAlloc() - before
	require.Error(t, err)
	require.Less(t, elapsed, 10*time.Second, "read stops at the limit")
	require.Less(t, allocated, uint64(64<<20), "allocated %d bytes for a 10 GiB body", allocated)
	// The server notices the client hung up and stops long before 10 GiB.
	select {
	case <-s.done:
	case <-ctx.Done():
		t.Fatal("the server is still streaming: the client did not hang up")
	}
	require.Less(t, s.written.Load(), int64(1<<30), "the client stopped reading early")
	t.Logf("%v after %v; %d KiB allocated; server wrote %d KiB", err, elapsed, allocated>>10, s.written.Load()>>10)
	return err
}

func TestBrokenHugeBody(t *testing.T) {
	t.Run("token", func(t *testing.T) {
		e := brokenNew(t, nil)
		s := brokenNewStreamer()
		e.p.Handle(testprovider.PathToken, s.handler(200, "application/json", `{"access_token":"`, 'A', false))
		err := brokenBounded(t, s, func(ctx context.Context) error { _, err := e.refresh(ctx); return err })
		require.ErrorIs(t, err, nextidentity.ErrResponseTooLarge)
		e.requireWorks(t)
	})

	t.Run("token gzip bomb", func(t *testing.T) {
		e := brokenNew(t, nil)
		s := brokenNewStreamer()
		e.p.Handle(testprovider.PathToken, s.handler(200, "application/json", `{"access_token":"`, 'A', true))
		err := brokenBounded(t, s, func(ctx context.Context) error { _, err := e.refresh(ctx); return err })
		require.ErrorIs(t, err, nextidentity.ErrResponseTooLarge)
		e.requireWorks(t)
	})

	t.Run("token error page", func(t *testing.T) {
		e := brokenNew(t, nil)
		s := brokenNewStreamer()
		e.p.Handle(testprovider.PathToken, s.handler(502, "text/html", "<html><body>", ' ', false))
		err := brokenBounded(t, s, func(ctx context.Context) error { _, err := e.refresh(ctx); return err })
		require.ErrorIs(t, err, nextidentity.ErrResponseTooLarge)
		e.requireWorks(t)
	})

	t.Run("userinfo", func(t *testing.T) {
		e := brokenNew(t, nil)
		s := brokenNewStreamer()
		e.p.Handle(testprovider.PathUserInfo, s.handler(200, "application/json", "", '{', false))
		err := brokenBounded(t, s, func(ctx context.Context) error { _, err := e.userInfo(ctx); return err })
		require.ErrorIs(t, err, nextidentity.ErrResponseTooLarge)
		e.requireWorks(t)
	})

	t.Run("discovery", func(t *testing.T) {
		p := testprovider.New(t)
		s := brokenNewStreamer()
		p.Handle(testprovider.PathDiscovery, s.handler(200, "application/json", "", 0, false))
		err := brokenBounded(t, s, func(ctx context.Context) error {
			c, err := nextidentity.New(ctx, mkConfig(p))
			if c != nil {
				_ = c.Close()
			}
			return err
		})
		require.ErrorIs(t, err, nextidentity.ErrResponseTooLarge)
		p.Handle(testprovider.PathDiscovery, nil)
		mkClient(t, mkConfig(p))
	})

	t.Run("jwks", func(t *testing.T) {
		e := brokenNew(t, nil)
		s := brokenNewStreamer()
		e.p.Handle(testprovider.PathJWKS, s.handler(200, "application/json", `{"keys":[{"kty":"RSA","n":"`, 'A', false))
		err := brokenBounded(t, s, func(ctx context.Context) error { _, err := e.verify(ctx); return err })
		require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
		// Recovery first, so a wrong error type below does not hide it.
		e.clk.Advance(2 * time.Second) // past the JWKS store's 1s failure backoff
		e.requireWorks(t)
		// Config.MaxResponseBytes documents that it bounds the JWKS, and
		// ErrResponseTooLarge that it reports a response over that limit.
		require.ErrorIs(t, err, nextidentity.ErrResponseTooLarge, "JWKS over MaxResponseBytes: %v", err)
	})
}

func TestBrokenBodies(t *testing.T) {
	const page502 = `<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>` +
		`<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>`
	html502 := page502 + strings.Repeat("<!-- padding to make the page long -->\n", 2000) + "</body></html>"

	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        []error
		code        string
		excerpt     string // Body must contain it
	}{
		{"truncated JSON", 200, "application/json", `{"access_token":"rb5bzkygqs5ahevp","token_type":"Bea`,
			[]error{nextidentity.ErrMalformedResponse}, "", `{"access_token"`},
		{"truncated JSON error", 400, "application/json", `{"error":"invalid_gr`,
			[]error{nextidentity.ErrMalformedResponse}, "", `{"error":"invalid_gr`},
		{"plain text", 200, "text/plain", "OK", []error{nextidentity.ErrMalformedResponse}, "", "OK"},
		{"empty body", 200, "application/json", "", []error{nextidentity.ErrMalformedResponse}, "", ""},
		{"JSON array", 200, "application/json", `[{"access_token":"x"}]`, []error{nextidentity.ErrMalformedResponse}, "", "[{"},
		{"JSON string", 200, "application/json", `"access_token"`, []error{nextidentity.ErrMalformedResponse}, "", `"access_token"`},
		{"JSON null", 200, "application/json", `null`, []error{nextidentity.ErrMalformedResponse}, "", "null"},
		{"binary garbage", 200, "application/octet-stream", "\x00\xff\xfe\x1f\x8b\x08garbage",
			[]error{nextidentity.ErrMalformedResponse}, "", "garbage"},
		{"HTML 502", 502, "text/html", html502, []error{nextidentity.ErrMalformedResponse}, "", "502 Bad Gateway"},
		{"HTML labelled JSON", 200, "application/json", "<html><body>Sign in</body></html>",
			[]error{nextidentity.ErrMalformedResponse}, "", "<html><body>Sign in"},
		{"HTML labelled JSON 401", 401, "application/json", "<html><body>Unauthorized</body></html>",
			[]error{nextidentity.ErrMalformedResponse, nextidentity.ErrUnauthorized}, "", "Unauthorized"},
		{"JSON error labelled HTML", 400, "text/html", `{"error":"invalid_grant","error_description":"code expired"}`,
			[]error{nextidentity.ErrInvalidGrant}, "invalid_grant", ""},
		{"stat error on 200", 200, "application/json", `{"stat":"error","error":"invalid_request"}`,
			[]error{nextidentity.ErrInvalidRequest}, "invalid_request", ""},
		{"stat error on 200 labelled HTML", 200, "text/html", `{"stat":"error","error":"invalid_request"}`,
			[]error{nextidentity.ErrInvalidRequest}, "invalid_request", ""},
		{"http_exception 401", 401, "application/json", `{"error":"http_exception","error_details":{"message":"Unauthorized"}}`,
			[]error{nextidentity.ErrUnauthorized}, "http_exception", ""},
	} {
		for _, ep := range []string{"token", "userinfo"} {
			t.Run(tc.name+"/"+ep, func(t *testing.T) {
				e := brokenNew(t, nil)
				path := map[string]string{"token": testprovider.PathToken, "userinfo": testprovider.PathUserInfo}[ep]
				e.p.Handle(path, brokenRespond(tc.status, tc.contentType, tc.body))
				var err error
				if ep == "token" {
					var tok *nextidentity.Token
					tok, err = e.refresh(context.Background())
					require.Nil(t, tok)
				} else {
					var ui *nextidentity.UserInfo
					ui, err = e.userInfo(context.Background())
					require.Nil(t, ui)
				}
				for _, want := range tc.want {
					require.ErrorIs(t, err, want)
				}
				pe := brokenRequireProviderError(t, err, ep, tc.status)
				require.Equal(t, tc.code, pe.Code)
				require.Contains(t, pe.Body, tc.excerpt)
				switch tc.code {
				case "invalid_request":
					require.Equal(t, "error", pe.Stat)
				case "http_exception":
					require.Equal(t, "Unauthorized", pe.Description)
				case "invalid_grant":
					require.Equal(t, "code expired", pe.Description)
				}
				e.requireWorks(t)
			})
		}
	}

	t.Run("valid JSON labelled HTML is accepted", func(t *testing.T) {
		e := brokenNew(t, nil)
		e.serveOK()
		idt := e.idToken()
		e.p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-html", "token_type": "Bearer", "expires_in": 60, "id_token": idt})
		})
		e.p.Handle(testprovider.PathUserInfo, brokenRespond(200, "text/html", `{"sub":"`+testprovider.Subject+`"}`))
		tok, err := e.refresh(context.Background())
		require.NoError(t, err)
		require.Equal(t, "at-html", tok.AccessToken)
		ui, err := e.userInfo(context.Background())
		require.NoError(t, err)
		require.Equal(t, testprovider.Subject, ui.Subject)
	})

	t.Run("HTML 502 on discovery", func(t *testing.T) {
		p := testprovider.New(t)
		p.Handle(testprovider.PathDiscovery, brokenRespond(502, "text/html", html502))
		_, err := nextidentity.New(context.Background(), mkConfig(p))
		require.ErrorIs(t, err, nextidentity.ErrMalformedResponse)
		pe := brokenRequireProviderError(t, err, "discovery", 502)
		require.Contains(t, pe.Body, "502 Bad Gateway")
		p.Handle(testprovider.PathDiscovery, nil)
		mkClient(t, mkConfig(p))
	})
}

func TestBrokenJWKSDownWithCachedKeys(t *testing.T) {
	e := brokenNew(t, func(cfg *nextidentity.Config) {
		cfg.JWKSRefreshInterval = 20 * time.Millisecond
		cfg.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	})
	ctx := context.Background()
	_, err := e.verify(ctx)
	require.NoError(t, err, "keys cached")

	t.Run("500", func(t *testing.T) {
		e.p.Handle(testprovider.PathJWKS, brokenRespond(500, "text/html", "<html>Internal Server Error</html>"))
		n := e.p.Count(testprovider.PathJWKS)
		require.Eventually(t, func() bool { return e.p.Count(testprovider.PathJWKS) >= n+3 }, 5*time.Second, 5*time.Millisecond,
			"background refreshes keep failing")
		for range 5 {
			idt, err := e.verify(ctx)
			require.NoError(t, err, "the cached key still verifies")
			require.Equal(t, testprovider.Subject, idt.Subject)
		}
	})

	t.Run("hangs", func(t *testing.T) {
		release := make(chan struct{})
		var releaseOnce sync.Once
		t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
		var hanging atomic.Int32
		e.p.Handle(testprovider.PathJWKS, func(w http.ResponseWriter, r *http.Request) {
			hanging.Add(1)
			defer hanging.Add(-1)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		require.Eventually(t, func() bool { return hanging.Load() > 0 }, 5*time.Second, 5*time.Millisecond,
			"a background refresh is stuck on the JWKS endpoint")
		for range 5 {
			vctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			_, err := e.verify(vctx)
			cancel()
			// Waiting for the stuck refresh would end in DeadlineExceeded.
			require.NoError(t, err, "the cached key verifies without waiting for the stuck refresh")
		}
		// An unknown kid has to wait for the stuck fetch: only as long as
		// the caller allows.
		vctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		unknown := testprovider.Sign("RS256", e.p.RSA2, e.p.Claims(e.clk.Now(), ""), nil)
		_, err := e.c.VerifyIDToken(vctx, unknown, "")
		require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 3*time.Second)
		_, err = e.verify(ctx)
		require.NoError(t, err)

		// The provider answers again, now with the rotated key too.
		e.p.SetKeys(e.p.RSA, e.p.RSA2)
		e.p.Handle(testprovider.PathJWKS, nil)
		releaseOnce.Do(func() { close(release) })
		require.Eventually(t, func() bool {
			_, err := e.c.VerifyIDToken(ctx, unknown, "")
			return err == nil
		}, 5*time.Second, 20*time.Millisecond)
		e.requireWorks(t)
	})
}

func TestBrokenJWKSMalformedAndDuplicateKeys(t *testing.T) {
	e := brokenNew(t, nil)
	p := e.p
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)

	with := func(k *testprovider.Key, edit map[string]any) map[string]any {
		m := testprovider.JWK(k)
		for name, v := range edit {
			if v == nil {
				delete(m, name)
			} else {
				m[name] = v
			}
		}
		return m
	}
	dupRSA2 := &testprovider.Key{KID: "dup", Alg: "RS256", Private: p.RSA2.Private}
	dupPS := &testprovider.Key{KID: "dup", Alg: "RS256", Private: p.PS.Private}
	dupEC := &testprovider.Key{KID: "dup", Alg: "ES256", Private: p.EC.Private}
	weakKey := &testprovider.Key{KID: "weak", Alg: "RS256", Private: weak}
	encKey := &testprovider.Key{KID: "enc", Alg: "RS256", Use: "enc", Private: p.RSA2.Private}
	keys := []any{
		map[string]any{"kty": "RSA", "kid": "bad-n", "n": "!!!not base64!!!", "e": "AQAB"},
		map[string]any{"kty": "EC", "kid": "bad-crv", "crv": "P-999", "x": "AAAA", "y": "AAAA"},
		map[string]any{"kty": "oct", "kid": "sym", "k": base64.RawURLEncoding.EncodeToString([]byte("oct-key-material"))},
		map[string]any{"kid": "no-kty"},
		"not an object",
		42,
		nil,
		testprovider.JWK(weakKey),
		testprovider.JWK(encKey),
		with(p.RSA, map[string]any{"n": "AQAB"}), // kid rsa1, a broken twin of the good key
		testprovider.JWK(p.RSA),                  // the one plain good key
		testprovider.JWK(dupRSA2),
		testprovider.JWK(dupPS),
		testprovider.JWK(dupEC),
		with(dupRSA2, map[string]any{"e": "AA"}), // a broken "dup"
	}
	raw, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	p.SetJWKS(raw)

	ctx := context.Background()
	claims := p.Claims(e.clk.Now(), "")
	verify := func(raw string) error {
		_, err := e.c.VerifyIDToken(ctx, raw, "")
		return err
	}

	// The good key verifies despite its broken neighbours and broken twin.
	require.NoError(t, verify(testprovider.Sign("RS256", p.RSA, claims, nil)))
	require.EqualValues(t, 1, p.Count(testprovider.PathJWKS), "the JWKS loaded in one fetch despite its broken keys")

	// Duplicate kids: every well-formed key under the kid is a candidate
	// (each one that fits the alg is tried), and no other key is.
	require.NoError(t, verify(testprovider.Sign("RS256", dupRSA2, claims, nil)), "first RSA dup")
	require.NoError(t, verify(testprovider.Sign("RS256", dupPS, claims, nil)), "second RSA dup")
	require.NoError(t, verify(testprovider.Sign("ES256", dupEC, claims, nil)), "EC dup")
	err = verify(testprovider.Sign("RS256", p.RSA, claims, map[string]any{"kid": "dup"}))
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature, "a key published under another kid does not answer for dup")
	stranger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	err = verify(testprovider.Sign("ES256", &testprovider.Key{KID: "dup", Private: stranger}, claims, nil))
	require.ErrorIs(t, err, nextidentity.ErrInvalidSignature, "an unpublished EC key")

	// Skipped keys never verify anything.
	for _, tc := range []struct {
		name, alg string
		key       *testprovider.Key
	}{
		{"weak RSA", "RS256", weakKey},
		{"encryption key", "RS256", encKey},
		{"malformed n", "RS256", &testprovider.Key{KID: "bad-n", Private: p.RSA2.Private}},
		{"bad curve", "ES256", &testprovider.Key{KID: "bad-crv", Private: p.EC.Private}},
	} {
		err := verify(testprovider.Sign(tc.alg, tc.key, claims, nil))
		require.ErrorIs(t, err, nextidentity.ErrInvalidSignature, tc.name)
	}
	// The symmetric JWK never becomes an HMAC key.
	err = verify(testprovider.SignHS("HS256", "secret-1", claims)) // sanity: the client secret does
	require.NoError(t, err)
	hsWithJWK := brokenSignHSKid(t, "oct-key-material", "sym", claims)
	require.ErrorIs(t, verify(hsWithJWK), nextidentity.ErrInvalidSignature)

	// A JWKS with no usable key at all: a typed error, and recovery.
	t.Run("no usable key", func(t *testing.T) {
		e := brokenNew(t, nil)
		e.p.SetJWKS([]byte(`{"keys":[{"kty":"RSA","kid":"rsa1","n":"AQAB","e":"AQAB"},{"kty":"oct","k":"AAAA"}]}`))
		_, err := e.verify(ctx)
		require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
		e.p.SetKeys(e.p.RSA)
		e.clk.Advance(2 * time.Second) // past the JWKS store's 1s failure backoff
		e.requireWorks(t)
	})
	e.requireWorks(t)
}

// brokenSignHSKid signs claims with HS256 keyed by secret, with kid in the
// header.
func brokenSignHSKid(t *testing.T, secret, kid string, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims))
	tok.Header["kid"] = kid
	raw, err := tok.SignedString([]byte(secret))
	require.NoError(t, err)
	return raw
}

func TestBrokenRedirects(t *testing.T) {
	type hit struct{ auth, body string }
	var (
		mu   sync.Mutex
		hits []hit
	)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, hit{r.Header.Get("Authorization"), string(b)})
		mu.Unlock()
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{
			"access_token": "stolen", "sub": testprovider.Subject, "id_token": "x.y.z",
		})
	}))
	t.Cleanup(other.Close)
	// "localhost" rather than 127.0.0.1: another host as well as another port.
	target := strings.Replace(other.URL, "127.0.0.1", "localhost", 1) + "/steal"

	for _, style := range []struct {
		name  string
		style nextidentity.AuthStyle
		hc    *http.Client
	}{
		{"basic auth", nextidentity.AuthStyleBasic, nil},
		{"secret in body", nextidentity.AuthStyleInParams, nil},
		{"permissive HTTPClient", nextidentity.AuthStyleInParams, &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return nil },
		}},
	} {
		for _, status := range []int{301, 302, 303, 307, 308} {
			for _, ep := range []string{"token", "userinfo"} {
				t.Run(style.name+"/"+http.StatusText(status)+"/"+ep, func(t *testing.T) {
					e := brokenNew(t, func(cfg *nextidentity.Config) {
						cfg.AuthStyle = style.style
						cfg.HTTPClient = style.hc
					})
					path := map[string]string{"token": testprovider.PathToken, "userinfo": testprovider.PathUserInfo}[ep]
					e.p.Handle(path, func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Location", target)
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(status)
						// A body that would pass for a success.
						_, _ = io.WriteString(w, `{"access_token":"from-redirect","sub":"`+testprovider.Subject+`"}`)
					})
					var err error
					if ep == "token" {
						_, err = e.refresh(context.Background())
					} else {
						_, err = e.userInfo(context.Background())
					}
					require.ErrorIs(t, err, nextidentity.ErrMalformedResponse)
					pe := brokenRequireProviderError(t, err, ep, status)
					require.Empty(t, pe.Code)
					require.EqualValues(t, 1, e.p.Count(path))
					e.requireWorks(t)
				})
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, hits, "the other host never receives a request, a token or a secret")
}
