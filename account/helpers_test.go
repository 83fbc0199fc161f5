package account_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// stubNow is the stub's clock.
var stubNow = time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)

// stub is a scriptable provider (discovery, JWKS and whatever account API
// answers a test sets) with a parent client and an account client of it.
type stub struct {
	p  *testprovider.Provider
	nc *nextidentity.Client
	ac *account.Client
}

const stubRedirect = "https://app.example.com/account/return"

func newStub(t *testing.T, opts ...account.Option) *stub {
	t.Helper()
	p := testprovider.New(t)
	nc, err := nextidentity.New(context.Background(), nextidentity.Config{
		Issuer:       p.Issuer,
		ClientID:     p.ClientID,
		ClientSecret: p.Secret,
		RedirectURL:  stubRedirect,
		Now:          func() time.Time { return stubNow },
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &stub{p: p, nc: nc, ac: account.New(nc, opts...)}
}

// request is what the stub received.
type request struct {
	Method, Path, Query, Auth, ContentType string
	Body                                   map[string]any
}

// recorder keeps the requests an answer received.
type recorder struct {
	mu   sync.Mutex
	reqs []request
}

func (r *recorder) last(t *testing.T) request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.reqs, "no request reached the stub")
	return r.reqs[len(r.reqs)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// answer makes path answer status and body (with the header pairs kv) and
// records what it receives.
func (s *stub) answer(path string, status int, body string, kv ...string) *recorder {
	rec := &recorder{}
	s.p.Handle(path, func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		req := request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		if len(raw) > 0 {
			_ = json.Unmarshal(raw, &req.Body)
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, req)
		rec.mu.Unlock()
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Set(kv[i], kv[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	return rec
}

// row is one documented answer of an endpoint and what the client makes of
// it.
type row struct {
	name   string
	status int
	body   string
	header []string
	want   []error // sentinels the error must match; nil means success
	not    []error // sentinels it must not match
}

// requireRow checks err against the row.
func requireRow(t *testing.T, r row, err error, secrets ...string) {
	t.Helper()
	if r.want == nil {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	for _, w := range r.want {
		require.ErrorIs(t, err, w)
	}
	for _, n := range r.not {
		require.NotErrorIs(t, err, n)
	}
	var ae *account.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, r.status, ae.StatusCode)
	for _, s := range secrets {
		require.NotContains(t, err.Error(), s)
	}
}

// Bodies the provider documents, shared by several endpoints.
const (
	bodyForbidden     = `{"error":"http_exception","error_description":"Forbidden"}`
	bodyForbiddenCode = `{"error":"forbidden","error_description":"Forbidden"}`
	bodyBadJSON       = `{"error":"invalid_parameters","error_description":"Invalid json format"}`
	bodyTooMany       = `{"error":"too_many_requests","error_description":"Too many requests"}`
	bodyBadDomain     = `{"error":"invalid_domain","error_description":"Invalid API usage"}`
	bodyNoRedirect    = `{"error":"http_exception","error_description":"missing_argument Missing Parameter: redirect_uri","error_details":null}`
	bodyBackend       = `{"error":"http_exception","error_description":"Backend action does not exist"}`
)
