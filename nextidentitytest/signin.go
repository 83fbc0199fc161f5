package nextidentitytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// SignIn is a shorthand for SignIn on the Server's default browser (see
// Browser.SignIn).
func (s *Server) SignIn(ctx context.Context, app *http.Client, loginURL, email, password string) (*http.Response, error) {
	return s.browser.SignIn(ctx, app, loginURL, email, password)
}

// SignIn signs a user in to an application as a person with a browser
// would, for tests of a web app (for example one using package nihttp):
//
//  1. it requests loginURL (the app's sign-in route, such as
//     /login?return_to=/orders) with app, the client that holds the app's
//     cookies;
//  2. it takes the app's redirect to this provider and signs in there with
//     email and password, as Login does (b holds the provider session);
//  3. it requests the app's redirect URI with the provider's answer (code,
//     state, iss), again with app, so the app's callback sees its own
//     login-state cookie and sets its session cookie.
//
// It returns the app's response to the callback, usually a redirect to the
// page the sign-in was for; its body is read and closed. app needs a
// cookie jar (SignIn returns an error without one); SignIn never follows
// the app's redirects itself, whatever app's CheckRedirect says, so the
// caller sees each step. A provider refusal is returned as by Login
// (ErrInvalidCredentials, *PageError).
func (b *Browser) SignIn(ctx context.Context, app *http.Client, loginURL, email, password string) (*http.Response, error) {
	if app == nil || app.Jar == nil {
		return nil, errors.New("nextidentitytest: SignIn needs an *http.Client with a cookie jar, which keeps the app's cookies")
	}
	step := *app
	step.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	resp, err := appGet(ctx, &step, loginURL)
	if err != nil {
		return nil, err
	}
	authURL, err := resp.Location()
	if err != nil || !b.srv.isProviderURL(authURL) {
		return nil, fmt.Errorf("nextidentitytest: SignIn: %s answered %s, not a redirect to the provider", loginURL, resp.Status)
	}
	redirectURI := authURL.Query().Get("redirect_uri")
	q, err := b.Login(ctx, authURL.String(), email, password)
	if err != nil {
		return nil, err
	}
	callback, err := url.Parse(redirectURI)
	if err != nil || !callback.IsAbs() {
		return nil, fmt.Errorf("nextidentitytest: SignIn: the sign-in's redirect_uri %q is not an absolute URL", redirectURI)
	}
	callback.RawQuery = q.Encode()
	return appGet(ctx, &step, callback.String())
}

// appGet requests u with hc and returns the response with its body read and
// closed.
func appGet(ctx context.Context, hc *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("nextidentitytest: SignIn: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("nextidentitytest: SignIn: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, nil
}
