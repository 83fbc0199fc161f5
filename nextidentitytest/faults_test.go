package nextidentitytest_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestFailNext(t *testing.T) {
	for _, tc := range []struct {
		name, body, contentType string
		status                  int
	}{
		{"json object", `{"error":"temporarily_unavailable"}`, "application/json", 503},
		{"json with space", ` [1,2] `, "application/json", 500},
		{"html", "<h1>Bad gateway</h1>", "text/html; charset=utf-8", 502},
		{"broken json", `{"error":`, "text/html; charset=utf-8", 500},
		{"empty", "", "text/html; charset=utf-8", 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, nextidentitytest.Options{})
			srv.FailNext(nextidentitytest.EndpointDiscovery, 2, tc.status, tc.body)
			for range 2 {
				r := get(t, srv, srv.URL+"/.well-known/openid-configuration")
				require.Equal(t, tc.status, r.status)
				require.Equal(t, tc.body, r.body)
				require.Equal(t, tc.contentType, r.header.Get("Content-Type"))
			}
			r := get(t, srv, srv.URL+"/.well-known/openid-configuration")
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, 3, srv.Requests(nextidentitytest.EndpointDiscovery))
		})
	}
}

func TestFailNextOnTokenAndCancel(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	code := login(t, srv, p, nil).Get("code")
	srv.FailNext(nextidentitytest.EndpointToken, 1, 500, `{"error":"server_error"}`)
	r := postForm(t, srv, "/token", codeForm(code, p), basic("test-client", "test-secret"))
	require.Equal(t, 500, r.status)
	require.Equal(t, `{"error":"server_error"}`, r.body)
	// The failed request did not touch the code.
	exchange(t, srv, code, p)

	srv.FailNext(nextidentitytest.EndpointJWKS, 5, 500, "x")
	srv.FailNext(nextidentitytest.EndpointJWKS, 0, 0, "")
	require.Equal(t, http.StatusOK, get(t, srv, srv.URL+"/jwks").status)
}

func TestFailNextIsExactUnderConcurrency(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	srv.FailNext(nextidentitytest.EndpointJWKS, 7, 503, "down")
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
	)
	for range 20 {
		wg.Go(func() {
			resp, err := srv.HTTPClient().Get(srv.URL + "/jwks")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == 503 {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 7, failed)
	require.Equal(t, 20, srv.Requests(nextidentitytest.EndpointJWKS))
}

func TestLatencyHonoursContext(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	srv.SetLatency(nextidentitytest.EndpointToken, time.Hour)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/token", nil)
	require.NoError(t, err)
	start := time.Now()
	_, err = srv.HTTPClient().Do(req)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, 1, srv.Requests(nextidentitytest.EndpointToken))

	// The Login helper honours its context too.
	srv.SetLatency(nextidentitytest.EndpointAuthorize, time.Hour)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = srv.Login(ctx2, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(newPKCE(t), nil)), "jane@example.com", "password")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestLatencyDelays(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	srv.SetLatency(nextidentitytest.EndpointDiscovery, time.Second)
	srv.FailNext(nextidentitytest.EndpointDiscovery, 1, 500, "boom")
	start := time.Now()
	r := get(t, srv, srv.URL+"/.well-known/openid-configuration")
	require.GreaterOrEqual(t, time.Since(start), time.Second)
	require.Equal(t, 500, r.status, "latency applies to injected failures too")

	srv.SetLatency(nextidentitytest.EndpointDiscovery, 0)
	start = time.Now()
	require.Equal(t, http.StatusOK, get(t, srv, srv.URL+"/.well-known/openid-configuration").status)
	require.Less(t, time.Since(start), time.Second, "the latency is gone")
}

func TestRequestCounts(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	tk := exchange(t, srv, login(t, srv, p, nil).Get("code"), p) // authorize, login, token
	userInfo(t, srv, http.MethodGet, "Bearer "+tk.AccessToken)
	userInfo(t, srv, http.MethodGet, "")
	get(t, srv, srv.URL+"/nowhere")
	for e, want := range map[nextidentitytest.Endpoint]int{
		nextidentitytest.EndpointAuthorize:       1,
		nextidentitytest.EndpointLogin:           1,
		nextidentitytest.EndpointToken:           1,
		nextidentitytest.EndpointUserInfo:        2,
		nextidentitytest.EndpointDiscovery:       0,
		nextidentitytest.EndpointJWKS:            0,
		nextidentitytest.EndpointEndSession:      0,
		nextidentitytest.EndpointRegister:        0,
		nextidentitytest.EndpointPersonalDetails: 0,
	} {
		require.Equal(t, want, srv.Requests(e), e)
	}
}

// TestConcurrentUse is mostly for the race detector.
func TestConcurrentUse(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			p := newPKCE(t)
			v := authParams(p, map[string]string{"prompt": "login"})
			q, err := srv.Login(context.Background(), authURL(srv, nextidentitytest.EndpointAuthorize, v), "jane@example.com", "password")
			if err != nil {
				t.Error(err)
				return
			}
			exchange(t, srv, q.Get("code"), p)
			switch i % 4 {
			case 0:
				srv.SetSigningAlg("ES256")
			case 1:
				srv.FailNext(nextidentitytest.EndpointJWKS, 1, 500, "x")
			case 2:
				srv.SetLatency(nextidentitytest.EndpointDiscovery, time.Millisecond)
			case 3:
				srv.AddUser(nextidentitytest.User{Email: "x@example.com", Password: "x"})
			}
			_ = srv.Requests(nextidentitytest.EndpointToken)
		})
	}
	wg.Go(srv.RotateKeys)
	wg.Go(srv.ForgetSession)
	wg.Wait()
}
