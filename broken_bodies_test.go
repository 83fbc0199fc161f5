package nextidentity_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

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
