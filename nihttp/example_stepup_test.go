package nihttp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// A settings page that needs a sign-in from the last five minutes: a
// ten-minute-old session goes through sign-in again (the provider asks for
// the password) and comes back to the same page.
func ExampleHandlers_RequireRecentLogin() {
	ctx := context.Background()
	var offset atomic.Int64 // a clock the example moves forward
	start := time.Now()
	now := func() time.Time { return start.Add(time.Duration(offset.Load())) }

	var routes http.Handler
	app := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { routes.ServeHTTP(w, r) }))
	defer app.Close()
	provider := nextidentitytest.NewServer(nextidentitytest.Options{Now: now, Clients: []nextidentitytest.Client{{
		ID: "app", Secret: "app-secret", RedirectURIs: []string{app.URL + "/callback"},
	}}})
	defer provider.Close()
	cfg := provider.ClientConfig("app")
	cfg.RedirectURL, cfg.Now = app.URL+"/callback", now
	client, err := nextidentity.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	h, err := nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{make([]byte, nihttp.KeySize)}, Now: now})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", h.Login)
	mux.HandleFunc("GET /callback", h.Callback)
	mux.Handle("/settings", h.RequireRecentLogin(5*time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "settings of ", nihttp.SessionFrom(r.Context()).Token.IDToken.Email)
	})))
	routes = mux

	// The user's browser: cookies, and redirects shown rather than followed.
	browser := app.Client()
	browser.Jar, _ = cookiejar.New(nil)
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(url string) *http.Response {
		resp, err := browser.Get(url)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	signIn := func(login string) (status int, location string) {
		authURL := get(login).Header.Get("Location")
		if _, err := provider.Authorize(ctx, authURL); errors.Is(err, nextidentitytest.ErrLoginRequired) {
			fmt.Println("the provider asks for the password")
		}
		q, err := provider.Login(ctx, authURL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
		if err != nil {
			log.Fatal(err)
		}
		resp := get(app.URL + "/callback?" + q.Encode())
		return resp.StatusCode, resp.Header.Get("Location")
	}

	signIn(app.URL + "/login")
	offset.Add(int64(10 * time.Minute))

	resp := get(app.URL + "/settings")
	fmt.Println(resp.StatusCode, resp.Header.Get("Location"))
	fmt.Println(signIn(app.URL + resp.Header.Get("Location")))
	resp, err = browser.Get(app.URL + "/settings")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body := make([]byte, 64)
	n, _ := resp.Body.Read(body)
	fmt.Println(resp.StatusCode, string(body[:n]))
	// Output:
	// the provider asks for the password
	// 302 /login?max_age=300&return_to=%2Fsettings
	// the provider asks for the password
	// 302 /settings
	// 200 settings of jane@example.com
}
