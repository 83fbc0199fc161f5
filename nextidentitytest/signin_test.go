package nextidentitytest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// TestSignInToAnNihttpApp is the recipe for testing a web app that uses
// nihttp: the fake provider, the app under httptest on a loopback port
// (the fake's default client accepts any), a client with a cookie jar,
// and Server.SignIn for the round trip through the hosted sign-in page.
func TestSignInToAnNihttpApp(t *testing.T) {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()

	app := httptest.NewUnstartedServer(nil)
	cfg := srv.Config()
	cfg.RedirectURL = "http://" + app.Listener.Addr().String() + "/callback"
	client, err := nextidentity.New(t.Context(), cfg)
	require.NoError(t, err)
	defer client.Close()
	auth, err := nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{make([]byte, nihttp.KeySize)}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", auth.Login)
	mux.HandleFunc("GET /callback", auth.Callback)
	mux.Handle("GET /orders", auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "orders of %s", nihttp.SessionFrom(r.Context()).Token.IDToken.Email)
	})))
	app.Config.Handler = mux
	app.Start()
	defer app.Close()

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := browser.Get(app.URL + "/orders")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode, "signed out: RequireLogin sends the browser to sign in")

	resp, err = srv.SignIn(t.Context(), browser, app.URL+"/login?return_to=/orders", "jane@example.com", "password")
	require.NoError(t, err)
	require.Equal(t, "/orders", resp.Header.Get("Location"))

	resp, err = browser.Get(app.URL + "/orders")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "orders of jane@example.com", string(body))

	// A wrong password fails at the provider; the app never sees a code.
	other, _ := cookiejar.New(nil)
	_, err = srv.NewBrowser().SignIn(t.Context(), &http.Client{Jar: other}, app.URL+"/login", "jane@example.com", "wrong")
	require.ErrorIs(t, err, nextidentitytest.ErrInvalidCredentials)
}

func TestSignInNeedsACookieJar(t *testing.T) {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()
	_, err := srv.SignIn(t.Context(), &http.Client{}, srv.URL+"/login", "jane@example.com", "password")
	require.ErrorContains(t, err, "cookie jar")
	_, err = srv.SignIn(t.Context(), nil, srv.URL+"/login", "jane@example.com", "password")
	require.ErrorContains(t, err, "cookie jar")
}

// TestSignInNeedsARedirectToTheProvider: a login URL that does not send
// the browser to this provider is a clear error, not a hang or a panic.
func TestSignInNeedsARedirectToTheProvider(t *testing.T) {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	defer srv.Close()
	app := httptest.NewServer(http.NotFoundHandler())
	defer app.Close()
	jar, _ := cookiejar.New(nil)
	_, err := srv.SignIn(t.Context(), &http.Client{Jar: jar}, app.URL+"/login", "jane@example.com", "password")
	require.ErrorContains(t, err, "not a redirect to the provider")
}
