package nihttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// deadlineRecorder records, for each token request, how long its context
// had left.
type deadlineRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	left []time.Duration // -1: no deadline
}

func (d *deadlineRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/token") {
		left := time.Duration(-1)
		if dl, ok := req.Context().Deadline(); ok {
			left = time.Until(dl)
		}
		d.mu.Lock()
		d.left = append(d.left, left)
		d.mu.Unlock()
	}
	return d.next.RoundTrip(req)
}

// A refresh runs under the session's refresh lock, which expires after 35
// seconds (refreshLockTTL) so that a crashed holder cannot block the
// session. The provider call made under it must end before the lock does:
// otherwise a slow provider lets a second request take the expired lock
// and redeem the same refresh token, and the loser's invalid_grant ends the
// session. With an application's own HTTPClient (one without a Timeout, as
// with an instrumented Transport) nothing bounds that call today.
func TestRefreshUnderLockHasDeadline(t *testing.T) {
	tests := []struct {
		name string
		hc   func(rt http.RoundTripper) *http.Client
	}{
		{"HTTPClient without Timeout", func(rt http.RoundTripper) *http.Client { return &http.Client{Transport: rt} }},
		{"HTTPClient with a 2-minute Timeout", func(rt http.RoundTripper) *http.Client {
			return &http.Client{Transport: rt, Timeout: 2 * time.Minute}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := nihttp.NewMemoryStore()
			p, apps := startApps(t, 1, nil, func(c *nihttp.Config) { c.Store = store })
			a, b := apps[0], newBrowser(t)
			b.signIn(p, a)

			// A second instance sharing the store, whose Client uses the
			// application's own HTTPClient.
			rec := &deadlineRecorder{next: p.Config().HTTPClient.Transport}
			cfg := p.Config()
			cfg.RedirectURL = a.url + "/callback"
			cfg.Now = p.clock.Now
			cfg.HTTPClient = tc.hc(rec)
			client, err := nextidentity.New(context.Background(), cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = client.Close() })
			h, err := nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{newKey(t)}, Store: store, Now: p.clock.Now})
			require.NoError(t, err)

			p.clock.Advance(2 * time.Hour)
			s, err := h.Session(httptest.NewRecorder(), requestWith(b, a))
			require.NoError(t, err)
			require.NotNil(t, s)
			require.Len(t, rec.left, 1, "one refresh")
			require.NotEqual(t, time.Duration(-1), rec.left[0], "the refresh under the lock has no deadline")
			require.LessOrEqual(t, rec.left[0], 35*time.Second, "the refresh can outlive its 35 s lock")
		})
	}
}
