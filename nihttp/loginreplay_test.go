package nihttp_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/redistest"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// A login cookie finishes one sign-in. Sent again with the callback URL it
// came back with (by the browser, or by whoever copied both), or with a
// second code the provider issues for the same authorization request, it
// gives no session, on this instance or another sharing the store, and the
// code never reaches the token endpoint.
func TestLoginStateWorksOnce(t *testing.T) {
	type setup struct {
		name  string
		start func(t *testing.T) (*provider, []*app)
	}
	setups := []setup{{"redis, two instances", func(t *testing.T) (*provider, []*app) {
		p, apps, _ := startRedisApps(t, redistest.Start(t), 2)
		return p, apps
	}}}
	for _, st := range stores {
		setups = append(setups, setup{st.name, func(t *testing.T) (*provider, []*app) { return startApps(t, 1, nil, st.opt) }})
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			ctx := context.Background()
			p, apps := s.start(t)
			a, b := apps[0], newBrowser(t)
			authURL := b.startLogin(a, "/private/x")
			login := b.loginCookies(a)
			require.Len(t, login, 1)
			q, err := p.Login(ctx, authURL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
			require.NoError(t, err)
			// The provider's session answers the same authorization
			// request again with a new code, no form.
			q2, err := p.Authorize(ctx, authURL)
			require.NoError(t, err)
			require.NotEqual(t, q.Get("code"), q2.Get("code"))
			require.Equal(t, q.Get("state"), q2.Get("state"))

			resp, _ := b.get(a.url + "/callback?" + q.Encode())
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.True(t, b.signedIn(a))
			tokens := p.Requests(nextidentitytest.EndpointToken)

			for _, target := range apps {
				for _, cb := range []string{q.Encode(), q2.Encode()} {
					thief := newBrowser(t)
					thief.plant(target, login[0])
					resp, _ := thief.get(target.url + "/callback?" + cb)
					require.Equal(t, http.StatusBadRequest, resp.StatusCode)
					require.Empty(t, thief.sessionCookies(target))
					require.False(t, thief.signedIn(target))
				}
			}
			require.Equal(t, tokens, p.Requests(nextidentitytest.EndpointToken), "a used login state reached the token endpoint")
			require.True(t, b.signedIn(a), "the replays did not end the user's session")
		})
	}
}
