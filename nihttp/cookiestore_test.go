package nihttp_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// bigUser is a user whose custom claim "bio" is n bytes long
// (noise(n)), so that the session stays large after compression.
func bigUser(email string, n int) nextidentitytest.User {
	return nextidentitytest.User{
		Email: email, Password: "pw-" + email,
		Claims: map[string]any{"bio": noise(n)},
	}
}

// noise is n letters and digits that do not compress much (about 6 bits
// each), the same for the same n.
func noise(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	r := rand.New(rand.NewPCG(uint64(n), 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// signInAs runs a whole sign-in of u and returns the callback's response.
func signInAs(t *testing.T, b *browser, p *provider, a *app, u nextidentitytest.User) *http.Response {
	t.Helper()
	resp, _ := signInAsBody(t, b, p, a, u)
	return resp
}

// signInAsBody is signInAs that also returns the callback's body.
func signInAsBody(t *testing.T, b *browser, p *provider, a *app, u nextidentitytest.User) (*http.Response, string) {
	t.Helper()
	p.ForgetSession() // the provider asks for credentials, not the last user's session
	q, err := p.Login(context.Background(), b.startLogin(a, "/private/x"), u.Email, u.Password)
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"))
	return b.get(a.url + "/callback?" + q.Encode())
}

// bio returns the "bio" claim of the browser's session on a.
func bio(t *testing.T, b *browser, a *app) string {
	t.Helper()
	s, err := b.sessionOf(a)
	require.NoError(t, err)
	var claims struct {
		Bio string `json:"bio"`
	}
	require.NoError(t, s.Token.IDToken.Claims(&claims))
	return claims.Bio
}

func TestCookieStoreSplitsLargeSessions(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		cookies int // at least this many session cookies
	}{
		{"small", 100, 1},
		{"5 KB claim", 5 << 10, 2},
		{"7 KB claim", 7 << 10, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := bigUser("big@example.com", tc.size)
			p, apps := startApps(t, 1, []nextidentitytest.User{u})
			a, b := apps[0], newBrowser(t)
			resp := signInAs(t, b, p, a, u)
			require.Equal(t, http.StatusFound, resp.StatusCode, "the callback failed")
			require.Equal(t, "/private/x", resp.Header.Get("Location"))

			got := b.sessionCookies(a)
			require.GreaterOrEqual(t, len(got), tc.cookies)
			require.LessOrEqual(t, len(got), nihttp.MaxSessionCookies)
			for i := range len(got) {
				name := sessionCookie
				if i > 0 {
					name += "." + string(rune('0'+i))
				}
				require.Contains(t, got, name, "chunks are numbered in order")
				require.LessOrEqual(t, len(name)+len(got[name]), 4000, "cookie %s is too large for browsers", name)
			}
			for _, c := range resp.Cookies() {
				if strings.HasPrefix(c.Name, sessionCookie) {
					require.True(t, c.Secure && c.HttpOnly, "cookie %s", c.Name)
					require.Equal(t, "/", c.Path)
					require.Equal(t, http.SameSiteLaxMode, c.SameSite)
				}
			}

			resp, body := b.get(a.url + "/private/x")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "hello "+u.Email, body)
			require.Equal(t, noise(tc.size), bio(t, b, a), "the claim did not survive the cookies")
		})
	}
}

func TestCookieStoreTooLarge(t *testing.T) {
	u, small := bigUser("huge@example.com", 20<<10), nextidentitytest.DefaultUser()
	rec := &errRecorder{}
	p, apps := startApps(t, 1, []nextidentitytest.User{u, small}, rec.option)
	a, b := apps[0], newBrowser(t)
	resp, body := signInAsBody(t, b, p, a, u)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Contains(t, body, "nihttp/redisstore", "the error page does not name the fix")
	errs := rec.take()
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], nihttp.ErrSessionTooLarge)
	require.Empty(t, resp.Header.Get("Location"))

	// Not half done: no session cookie, no session, the login cookie spent.
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, sessionCookie) {
			require.Less(t, c.MaxAge, 0, "a failed sign-in set %s", c.Name)
		}
	}
	require.Empty(t, b.sessionCookies(a))
	require.Empty(t, b.loginCookies(a))
	require.False(t, b.signedIn(a))

	// Every retry fails the same way, with the same clear message.
	resp = signInAs(t, b, p, a, u)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Len(t, rec.take(), 1)

	// A smaller user still signs in on the same app.
	resp = signInAs(t, b, p, a, small)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.True(t, b.signedIn(a))
}

func TestMemoryStoreTakesLargeSessions(t *testing.T) {
	u := bigUser("huge@example.com", 20<<10)
	p, apps := startApps(t, 1, []nextidentitytest.User{u}, func(c *nihttp.Config) { c.Store = nihttp.NewMemoryStore() })
	a, b := apps[0], newBrowser(t)
	resp := signInAs(t, b, p, a, u)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	got := b.sessionCookies(a)
	require.Len(t, got, 1, "a server-side store needs one cookie")
	require.Less(t, len(got[sessionCookie]), 100, "the cookie carries only the session id")
	require.True(t, b.signedIn(a))
	require.Equal(t, noise(20<<10), bio(t, b, a))
}

func TestCookieStoreShrinkDeletesChunks(t *testing.T) {
	big := bigUser("big@example.com", 7<<10)
	small := nextidentitytest.DefaultUser()
	p, apps := startApps(t, 1, []nextidentitytest.User{big, small})
	a, b := apps[0], newBrowser(t)
	require.Equal(t, http.StatusFound, signInAs(t, b, p, a, big).StatusCode)
	require.Len(t, b.sessionCookies(a), 3)

	// The same browser signs in as a user with a small session: the
	// leftover chunks of the big one go, and the session is the new one.
	resp := signInAs(t, b, p, a, small)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	for _, name := range []string{sessionCookie + ".1", sessionCookie + ".2"} {
		c := setCookieNamed(resp, name)
		require.NotNil(t, c, "%s was not deleted", name)
		require.Less(t, c.MaxAge, 0)
	}
	require.Len(t, b.sessionCookies(a), 1)
	resp, body := b.get(a.url + "/private/x")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "hello "+small.Email, body)
}

func TestCookieStoreTamperedChunks(t *testing.T) {
	u := bigUser("big@example.com", 7<<10)
	tests := []struct {
		name   string
		tamper func(got map[string]string) map[string]string // cookies to set; "" deletes
	}{
		{"first chunk flipped", func(g map[string]string) map[string]string {
			return map[string]string{sessionCookie: flip(g[sessionCookie], 100)}
		}},
		{"second chunk flipped", func(g map[string]string) map[string]string {
			return map[string]string{sessionCookie + ".1": flip(g[sessionCookie+".1"], 100)}
		}},
		{"last chunk flipped", func(g map[string]string) map[string]string {
			c := g[sessionCookie+".2"]
			// Not the very last character: its low bits are base64 padding.
			return map[string]string{sessionCookie + ".2": flip(c, len(c)-3)}
		}},
		{"last chunk truncated", func(g map[string]string) map[string]string {
			c := g[sessionCookie+".2"]
			return map[string]string{sessionCookie + ".2": c[:len(c)-10]}
		}},
		{"middle chunk missing", func(g map[string]string) map[string]string {
			return map[string]string{sessionCookie + ".1": ""}
		}},
		{"last chunk missing", func(g map[string]string) map[string]string {
			return map[string]string{sessionCookie + ".2": ""}
		}},
		{"chunks swapped", func(g map[string]string) map[string]string {
			return map[string]string{sessionCookie + ".1": g[sessionCookie+".2"], sessionCookie + ".2": g[sessionCookie+".1"]}
		}},
		{"extra chunk", func(g map[string]string) map[string]string {
			return map[string]string{sessionCookie + ".3": "AAAA"}
		}},
		{"chunk of another session", func(g map[string]string) map[string]string {
			return map[string]string{sessionCookie + ".1": g["other.1"]}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &errRecorder{}
			p, apps := startApps(t, 1, []nextidentitytest.User{u}, rec.option)
			a := apps[0]
			other := newBrowser(t)
			require.Equal(t, http.StatusFound, signInAs(t, other, p, a, u).StatusCode)
			b := newBrowser(t)
			require.Equal(t, http.StatusFound, signInAs(t, b, p, a, u).StatusCode)
			got := b.sessionCookies(a)
			require.Len(t, got, 3)
			for name, v := range other.sessionCookies(a) {
				got["other"+strings.TrimPrefix(name, sessionCookie)] = v
			}
			for name, v := range tc.tamper(got) {
				c := &http.Cookie{Name: name, Value: v, Path: "/"}
				if v == "" {
					c.MaxAge = -1
				}
				b.plant(a, c)
			}

			resp, _ := b.get(a.url + "/private/x")
			if tc.name == "extra chunk" {
				// Past MaxSessionCookies nothing is read.
				require.Equal(t, http.StatusOK, resp.StatusCode)
				return
			}
			require.Equal(t, http.StatusFound, resp.StatusCode, "a tampered session must read as signed out")
			require.Equal(t, "/login?return_to=%2Fprivate%2Fx", resp.Header.Get("Location"))
			require.Empty(t, rec.take(), "a tampered cookie is not a server error")
			_, err := b.sessionOf(a)
			require.ErrorIs(t, err, nihttp.ErrNoSession)
			// The broken chunks are deleted and a new sign-in works.
			require.Empty(t, b.sessionCookies(a))
			require.Equal(t, http.StatusFound, signInAs(t, b, p, a, u).StatusCode)
			require.True(t, b.signedIn(a))
		})
	}
}

// BUG: when a refresh brings claims that no longer fit the cookie store,
// Handlers.refresh returns the old session with ErrSessionTooLarge and
// RequireLogin serves it (expired access token) after the provider has
// rotated, and so spent, its refresh token: the next request gets
// invalid_grant and signs the user out without a word. The refresh that
// cannot be kept should answer like the callback does: ErrSessionTooLarge,
// a message naming nihttp/redisstore.
func TestCookieStoreRefreshTooLarge(t *testing.T) {
	u := bigUser("big@example.com", 5<<10)
	u.Subject = "big-subject"
	p, apps := startApps(t, 1, []nextidentitytest.User{u})
	a, b := apps[0], newBrowser(t)
	require.Equal(t, http.StatusFound, signInAs(t, b, p, a, u).StatusCode)

	u.Claims = map[string]any{"bio": noise(20<<10 + 1)} // the profile grew
	p.AddUser(u)
	p.clock.Advance(nextidentitytest.AccessTokenLifetime + time.Minute)
	resp, body := b.get(a.url + "/private/x")
	require.Equal(t, 2, p.Requests(nextidentitytest.EndpointToken), "the refresh happened")
	require.NotEqual(t, http.StatusOK, resp.StatusCode, "served a session whose access token expired, its refresh token spent")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Contains(t, body, "nihttp/redisstore")
}

// entitledUser is a user whose ID token carries about 1.7 KB of
// entitlement claims, like a business user with many app permissions.
func entitledUser() nextidentitytest.User {
	var ents []string
	for _, app := range []string{"billing", "reports", "analytics", "crm", "inventory", "support", "payroll"} {
		for _, right := range []string{"read", "write", "export", "admin", "audit", "approve"} {
			ents = append(ents, "urn:acme:tenant:4711:app:"+app+":"+right)
		}
	}
	return nextidentitytest.User{
		Email: "entitled@example.com", Password: "pw-entitled", Name: "Entitled User", EmailVerified: true,
		Claims: map[string]any{"entitlements": ents},
	}
}

// The whole Cookie header a signed-in user's browser sends stays small:
// the session is compressed, and the raw ID token is not kept beside its
// claims.
func TestCookieStoreSmallCookie(t *testing.T) {
	u := entitledUser()
	js, err := json.Marshal(u.Claims)
	require.NoError(t, err)
	require.InDelta(t, 1700, len(js), 200, "the claims are about 1.7 KB")
	p, apps := startApps(t, 1, []nextidentitytest.User{u})
	a, b := apps[0], newBrowser(t)
	require.Equal(t, http.StatusFound, signInAs(t, b, p, a, u).StatusCode)
	var parts []string
	for _, c := range b.cookies(a) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	header := strings.Join(parts, "; ")
	t.Logf("Cookie header: %d bytes", len(header))
	require.LessOrEqual(t, len(header), 2200)
	require.True(t, b.signedIn(a))
	s, err := b.sessionOf(a)
	require.NoError(t, err)
	var cl struct{ Entitlements []string }
	require.NoError(t, s.Token.IDToken.Claims(&cl))
	require.Equal(t, u.Claims["entitlements"], cl.Entitlements)
}
