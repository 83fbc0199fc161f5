package nihttp_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// A session past the default cookie store's limit fails the callback with
// a styled page for the browser and an error record for the operator, both
// naming the fix (a server-side store), and neither carrying a token or a
// cookie value.
func TestCookieStoreTooLargePageAndLog(t *testing.T) {
	u := bigUser("huge@example.com", 12<<10)
	logs := &lockedBuffer{}
	p, apps := startApps(t, 1, []nextidentitytest.User{u}, func(c *nihttp.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	a, b := apps[0], newBrowser(t)
	p.ForgetSession()
	q, err := p.Login(context.Background(), b.startLogin(a, "/private/x"), u.Email, u.Password)
	require.NoError(t, err)
	resp, body := b.do(http.MethodGet, a.url+"/callback?"+q.Encode(),
		http.Header{"Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}})

	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Contains(t, body, "<h1>This site cannot sign you in</h1>")
	require.Contains(t, body, "<style>")
	require.Contains(t, body, "nihttp/redisstore")
	require.False(t, b.signedIn(a))

	records := logs.String()
	require.Contains(t, records, "level=ERROR")
	require.Contains(t, records, "too large for the default cookie store")
	require.Contains(t, records, "nihttp/redisstore")
	require.Contains(t, records, "max_sealed_bytes=11400")
	for _, v := range []string{q.Get("code"), q.Get("state"), u.Password, strings.Repeat("x", 64)} {
		require.NotContains(t, records, v)
		require.NotContains(t, body, v)
	}
}

// lockedBuffer is a log destination safe for concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
