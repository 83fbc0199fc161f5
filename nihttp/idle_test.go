package nihttp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// An active user is never signed out by the idle timeout: a session ends
// only after Config.IdleTimeout WITHOUT a request. These rows request far
// more often than the idle timeout.
func TestActiveUserOutlivesShortIdleTimeout(t *testing.T) {
	tests := []struct {
		name  string
		idle  time.Duration
		every time.Duration
		steps int
	}{
		{"idle 1m, a request every 20s", time.Minute, 20 * time.Second, 9},
		{"idle 30s, a request every 10s", 30 * time.Second, 10 * time.Second, 9},
		{"idle 45s, a request every 15s", 45 * time.Second, 15 * time.Second, 9},
	}
	for _, st := range stores {
		for _, tc := range tests {
			t.Run(st.name+"/"+tc.name, func(t *testing.T) {
				p, apps := startApps(t, 1, nil, st.opt, func(c *nihttp.Config) { c.IdleTimeout = tc.idle })
				a, b := apps[0], newBrowser(t)
				b.signIn(p, a)
				for i := range tc.steps {
					p.clock.Advance(tc.every)
					resp, _ := b.get(a.url + "/private/x")
					require.Equal(t, http.StatusOK, resp.StatusCode,
						"signed out after %v of requests every %v (IdleTimeout %v)", time.Duration(i+1)*tc.every, tc.every, tc.idle)
				}
			})
		}
	}
}

// A provider outage keeps the session with its old tokens (issue 9,
// "Refresh"). While the provider is down every request tries the refresh,
// fails, and is served; those requests are activity, so the idle timeout
// must not end the session of a user who keeps using the app.
func TestProviderOutageDoesNotIdleOutActiveUser(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			p, apps := startApps(t, 1, nil, st.opt, func(c *nihttp.Config) { c.IdleTimeout = time.Hour })
			a, b := apps[0], newBrowser(t)
			b.signIn(p, a)
			// Active before the outage: the last recorded activity is at
			// 50 minutes.
			p.clock.Advance(50 * time.Minute)
			resp, _ := b.get(a.url + "/private/x")
			require.Equal(t, http.StatusOK, resp.StatusCode)

			// The provider's token endpoint goes down just before the
			// access token (one hour) is due; the user goes on with a
			// request every ten minutes.
			p.FailNext(nextidentitytest.EndpointToken, 1000, http.StatusServiceUnavailable, "down")
			for i := range 12 {
				p.clock.Advance(10 * time.Minute)
				resp, _ := b.get(a.url + "/private/x")
				require.Equal(t, http.StatusOK, resp.StatusCode,
					"an active user was signed out %v into a provider outage", time.Duration(i+1)*10*time.Minute)
			}
		})
	}
}

// Session.IdleExpiresAt is documented as "LastSeen + Config.IdleTimeout,
// never after ExpiresAt"; save sets it without the cap.
func TestIdleExpiresAtNeverAfterExpiresAt(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			p, apps := startApps(t, 1, nil, st.opt, func(c *nihttp.Config) {
				c.SessionLifetime = 2 * time.Hour
				c.IdleTimeout = 24 * time.Hour
			})
			a, b := apps[0], newBrowser(t)
			b.signIn(p, a)
			s, err := b.sessionOf(a)
			require.NoError(t, err)
			require.False(t, s.IdleExpiresAt.After(s.ExpiresAt),
				"IdleExpiresAt %v is after ExpiresAt %v", s.IdleExpiresAt, s.ExpiresAt)
		})
	}
}
