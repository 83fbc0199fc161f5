package nihttp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// TestSessionRefreshMargin: sessions are refreshed the client's
// RefreshMargin before their access token expires.
func TestSessionRefreshMargin(t *testing.T) {
	addr, clk := freeAddr(t), newClock()
	a := lazyAppWith(t, addr, clk, func(c *nextidentity.Config) { c.RefreshMargin = 10 * time.Minute },
		func(c *nihttp.Config) { c.AuthOptions = []nextidentity.AuthOption{nextidentity.WithOfflineAccess()} })
	require.Equal(t, 10*time.Minute, a.client.RefreshMargin())
	p := providerAt(t, addr, clk, a)
	b := newBrowser(t)
	b.signIn(p, a)

	page := func() string {
		t.Helper()
		resp, _ := b.get(a.url + "/private/page")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return resp.Header.Get("X-Access-Token")
	}
	first := page()
	clk.Advance(nextidentitytest.AccessTokenLifetime - 11*time.Minute)
	require.Equal(t, first, page(), "11 minutes left: kept")
	require.Equal(t, 1, p.Requests(nextidentitytest.EndpointToken))

	clk.Advance(2 * time.Minute)
	second := page()
	require.NotEqual(t, first, second, "9 minutes left: refreshed")
	require.Equal(t, 2, p.Requests(nextidentitytest.EndpointToken))
	require.Equal(t, second, page())
}
