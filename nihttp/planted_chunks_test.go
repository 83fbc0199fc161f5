package nihttp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nihttp"
)

// Planted chunk cookies (with InsecureCookie a sibling subdomain can set
// them, on narrower Paths so the jar keeps them beside the real ones) must
// not hide a one-cookie session: chunkedValues fills its eight candidates
// with the longest combinations first, so with enough planted ".1" and
// ".2" values the real cookie alone is never tried, the request reads as
// signed out, and Session's clean-up deletes the real session cookie.
func TestManyPlantedChunksDoNotHideSession(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string // planted chunk suffixes, each on every path
		paths  []string
	}{
		{"three .1 and three .2", []string{".1", ".2"}, []string{"/private", "/private/", "/private/x"}},
	}
	stores := []struct {
		name string
		opt  appOption
	}{
		{"cookie store", func(c *nihttp.Config) { c.InsecureCookie = true }},
		{"memory store", func(c *nihttp.Config) { c.InsecureCookie = true; c.Store = nihttp.NewMemoryStore() }},
	}
	for _, st := range stores {
		for _, tc := range tests {
			t.Run(st.name+"/"+tc.name, func(t *testing.T) {
				p, apps := startApps(t, 1, nil, st.opt)
				a, b := apps[0], newBrowser(t)
				b.signIn(p, a)
				name := nihttp.DefaultSessionCookieName
				for _, suffix := range tc.chunks {
					for i, path := range tc.paths {
						b.plant(a, &http.Cookie{Name: name + suffix, Value: strings.Repeat("A", 40+i), Path: path})
					}
				}
				for range 2 {
					resp, _ := b.get(a.url + "/private/x")
					require.Equal(t, http.StatusOK, resp.StatusCode, "planted chunks hid the real session")
				}
			})
		}
	}
}
