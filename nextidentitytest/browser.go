package nextidentitytest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

var (
	// ErrLoginRequired is returned by Authorize when the provider shows its
	// sign-in page because the fake browser has no usable session.
	ErrLoginRequired = errors.New("nextidentitytest: the provider asked the user to sign in")
	// ErrInvalidCredentials is returned by Login when the provider rejects
	// the email and password.
	ErrInvalidCredentials = errors.New("nextidentitytest: the provider rejected the email or password")
	// ErrSignUpRejected is returned by SignUp when the provider shows the
	// sign-up form again with an error, e.g. because an account with the
	// email address exists. The error's text includes the message shown.
	ErrSignUpRejected = errors.New("nextidentitytest: the provider rejected the sign-up")
)

// PageError is returned by the fake browser when the provider answers with
// one of its error pages (an unknown client_id, an unregistered redirect URI,
// an expired sign-in, ...) instead of redirecting back to the application.
// It carries what a user would read on the page.
type PageError struct {
	// Status is the HTTP status of the page, e.g. 400.
	Status int
	// Title is the page's heading, e.g. "Invalid redirect URI".
	Title string
	// Message is the page's explanation, e.g. `The redirect_uri
	// "http://127.0.0.1/cb" is not registered for this application.`
	Message string
}

// Error returns the page's status, title and message, e.g.
// `nextidentitytest: the provider showed an error page (400 Invalid client):
// The application (client_id "x") is not registered.`
func (e *PageError) Error() string {
	return fmt.Sprintf("nextidentitytest: the provider showed an error page (%d %s): %s", e.Status, e.Title, e.Message)
}

// maxBrowserHops bounds the redirects and form posts of one Login.
const maxBrowserHops = 10

var (
	errorField   = regexp.MustCompile(`<p id="error"[^>]*>([^<]*)</p>`)
	titleField   = regexp.MustCompile(`<h1 id="title">([^<]*)</h1>`)
	messageField = regexp.MustCompile(`<p id="message">([^<]*)</p>`)
	signinForm   = `id="signin-form"`
)

// Browser is a fake web browser for the provider's hosted pages: it has its
// own cookie jar, so each Browser holds its own provider session. Several
// Browsers let one test have several users signed in at once. Create one
// with Server.NewBrowser; its methods are safe for concurrent use.
//
// A Browser only ever talks to its Server: it stops at the redirect back to
// the application and returns it instead of following it.
type Browser struct {
	srv *Server

	mu  sync.Mutex
	jar http.CookieJar
}

// NewBrowser returns a new fake browser with an empty cookie jar: no
// provider session yet.
func (s *Server) NewBrowser() *Browser {
	return &Browser{srv: s, jar: s.newJar()}
}

// newJar returns an empty cookie jar holding only a BrowserCookieName
// cookie, as if the browser had visited the provider before: concurrent
// first sign-ins through one Browser then share one binding instead of
// racing to set it.
func (s *Server) newJar() http.CookieJar {
	jar, _ := cookiejar.New(nil) // with nil options it cannot fail
	jar.SetCookies(s.mustURL(""), []*http.Cookie{{
		Name: BrowserCookieName, Value: randomID(), Path: "/", HttpOnly: true,
	}})
	return jar
}

// Login is a shorthand for Login on the Server's default browser (see
// Browser.Login). Every Server method that drives a browser uses that same
// default browser, so its session carries over between them.
func (s *Server) Login(ctx context.Context, authURL, email, password string) (url.Values, error) {
	return s.browser.Login(ctx, authURL, email, password)
}

// Authorize is a shorthand for Authorize on the Server's default browser
// (see Browser.Authorize).
func (s *Server) Authorize(ctx context.Context, authURL string) (url.Values, error) {
	return s.browser.Authorize(ctx, authURL)
}

// Browse is a shorthand for Browse on the Server's default browser (see
// Browser.Browse).
func (s *Server) Browse(ctx context.Context, rawURL string) (*url.URL, int, error) {
	return s.browser.Browse(ctx, rawURL)
}

// SignUp is a shorthand for SignUp on the Server's default browser (see
// Browser.SignUp).
func (s *Server) SignUp(ctx context.Context, registerURL, name, email, password string) (url.Values, error) {
	return s.browser.SignUp(ctx, registerURL, name, email, password)
}

// EditProfile is a shorthand for EditProfile on the Server's default browser
// (see Browser.EditProfile).
func (s *Server) EditProfile(ctx context.Context, personalDetailsURL string, changes map[string]string) (url.Values, error) {
	return s.browser.EditProfile(ctx, personalDetailsURL, changes)
}

// ForgetSession is a shorthand for ForgetSession on the Server's default
// browser (see Browser.ForgetSession).
func (s *Server) ForgetSession() { s.browser.ForgetSession() }

// Login signs in like a browser would: it requests authURL (an
// authorization, registration or personal-details URL of this server), posts
// email and password to the hosted sign-in page if it appears, submits the
// personal-details form unchanged if that appears, and follows the
// provider's redirects until the one to the application's redirect URI,
// which it does not request. It returns that redirect's query: code, state
// and iss, or error, error_description and state.
//
// The provider session started here lives in b's cookies, so a later Login
// or Authorize through b (for example with prompt=none) gets a code without
// credentials, until ForgetSession or a logout at the end-session endpoint
// through b (see Browse).
//
// Login returns ErrInvalidCredentials when the provider rejects the
// credentials, a *PageError when the provider shows an error page, and an
// error for any other unexpected response.
func (b *Browser) Login(ctx context.Context, authURL, email, password string) (url.Values, error) {
	return b.run(ctx, authURL, goal{signIn: &credentials{email, password}})
}

// SignUp creates an account like a browser would: it requests registerURL
// (a registration URL of this server, with the /authorize parameters), fills
// the hosted sign-up form with name, email and password, and returns the
// query of the provider's redirect to the application, like Login. The new
// account is signed in: b now holds its provider session. It gets a random
// UUID subject, the given name, email and password, EmailVerified false and
// updated_at the time of sign-up.
//
// If b already has a provider session, the provider skips the form and
// redirects with a code for the signed-in user, as the real one does.
// SignUp returns ErrSignUpRejected (with the page's message) when the
// provider refuses the form, for example for an email address that already
// has an account.
func (b *Browser) SignUp(ctx context.Context, registerURL, name, email, password string) (url.Values, error) {
	return b.run(ctx, registerURL, goal{signUp: &signUpDetails{name, email, password}})
}

// EditProfile edits the signed-in user's personal details like a browser
// would: it requests personalDetailsURL (a personal-details URL of this
// server, with the /authorize parameters), sets the form's fields named in
// changes, keyed by the claim they set ("name", "given_name",
// "family_name", "phone_number", "locale"), saves, and returns the query of
// the provider's redirect to the application, like Login. Fields not in
// changes keep their values; the user's updated_at changes when a value
// did. EditProfile needs b's provider session (see Login) and returns
// ErrLoginRequired without one.
func (b *Browser) EditProfile(ctx context.Context, personalDetailsURL string, changes map[string]string) (url.Values, error) {
	if changes == nil {
		changes = map[string]string{}
	}
	return b.run(ctx, personalDetailsURL, goal{profile: changes})
}

// Authorize is Login with b's existing session only: it never submits
// credentials, and returns ErrLoginRequired if the sign-in page appears.
// With prompt=none and no session, the provider itself redirects with
// error=login_required, which Authorize returns as a query, not an error.
func (b *Browser) Authorize(ctx context.Context, authURL string) (url.Values, error) {
	return b.run(ctx, authURL, goal{})
}

// Browse is the fake browser's plain navigation: it requests rawURL (a URL
// of this server) with b's cookies and follows the provider's redirects, but
// submits no form. It stops at a redirect that leaves the provider or goes
// to a registered redirect URI, and returns that target without requesting
// it; otherwise it returns the URL of the page it ended on. The int is the
// status of the last provider response. Use it to log the browser out:
// Browse(ctx, client.LogoutURL(...)).
func (b *Browser) Browse(ctx context.Context, rawURL string) (*url.URL, int, error) {
	s := b.srv
	hc := b.client()
	u, err := s.checkOwnURL(rawURL)
	if err != nil {
		return nil, 0, err
	}
	for range maxBrowserHops {
		resp, _, err := s.fetch(ctx, hc, http.MethodGet, u, nil)
		if err != nil {
			return nil, 0, err
		}
		loc, redirect, err := s.redirectTarget(resp, u)
		if err != nil {
			return nil, resp.StatusCode, err
		}
		if !redirect {
			return u, resp.StatusCode, nil
		}
		if !s.isProviderURL(loc) || s.isRedirectURI(loc) {
			return loc, resp.StatusCode, nil
		}
		u = loc
	}
	return nil, 0, errors.New("nextidentitytest: too many redirects")
}

// ForgetSession clears b's cookies, signing it out of the provider.
// Server-side sessions are left alone, as when a user clears the browser's
// cookies.
func (b *Browser) ForgetSession() {
	jar := b.srv.newJar()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.jar = jar
}

type credentials struct{ email, password string }

func (b *Browser) client() *http.Client {
	b.mu.Lock()
	jar := b.jar
	b.mu.Unlock()
	return &http.Client{
		Transport:     b.srv.ts.Client().Transport,
		Jar:           jar,
		Timeout:       DefaultHTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// goal is what the fake browser does on the provider's forms.
type goal struct {
	signIn  *credentials      // nil: never sign in (ErrLoginRequired)
	signUp  *signUpDetails    // non-nil: fill the sign-up form, not the sign-in form
	profile map[string]string // changes for the personal-details form; nil submits it unchanged
}

type signUpDetails struct{ name, email, password string }

func (b *Browser) run(ctx context.Context, authURL string, g goal) (url.Values, error) {
	s := b.srv
	hc := b.client()
	u, err := s.checkOwnURL(authURL)
	if err != nil {
		return nil, err
	}
	method, form := http.MethodGet, url.Values(nil)
	submitted := map[string]bool{}
	for range maxBrowserHops {
		resp, body, err := s.fetch(ctx, hc, method, u, form)
		if err != nil {
			return nil, err
		}
		loc, redirect, err := s.redirectTarget(resp, u)
		if err != nil {
			return nil, err
		}
		if redirect {
			if !s.isProviderURL(loc) || s.isRedirectURI(loc) {
				return loc.Query(), nil
			}
			method, form, u = http.MethodGet, nil, loc
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, pageError(method, u, resp.StatusCode, body)
		}
		form, err = g.fill(body, submitted)
		if err != nil {
			if errors.Is(err, errNoForm) {
				return nil, pageError(method, u, resp.StatusCode, body)
			}
			return nil, err
		}
		method, u = http.MethodPost, s.mustURL(EndpointLogin)
	}
	return nil, errors.New("nextidentitytest: too many redirects")
}

// errNoForm means a page has none of the provider's forms.
var errNoForm = errors.New("nextidentitytest: no form on the page")

// fill picks the form on a hosted page that g calls for and returns it
// filled in. submitted records the forms already posted: the same form
// again means the provider refused it, and fill returns why.
func (g goal) fill(body string, submitted map[string]bool) (url.Values, error) {
	shownError := func() string {
		if m := errorField.FindStringSubmatch(body); m != nil {
			return html.UnescapeString(m[1])
		}
		return "no message shown"
	}
	var id, action string
	switch {
	case strings.Contains(body, `id="profile-form"`):
		id, action = "profile-form", "save"
	case g.signUp != nil && strings.Contains(body, `id="signup-form"`):
		id, action = "signup-form", "signup"
	case g.signUp != nil && strings.Contains(body, signinForm):
		return nil, errors.New("nextidentitytest: the provider showed a sign-in page without a sign-up form (use a registration URL)")
	case strings.Contains(body, signinForm):
		id, action = "signin-form", "signin"
	default:
		return nil, errNoForm
	}
	if action == "signin" && g.signIn == nil {
		return nil, ErrLoginRequired
	}
	if submitted[id] {
		switch action {
		case "signin":
			return nil, fmt.Errorf("%w (%s)", ErrInvalidCredentials, shownError())
		case "signup":
			return nil, fmt.Errorf("%w (%s)", ErrSignUpRejected, shownError())
		default:
			return nil, fmt.Errorf("nextidentitytest: the provider refused the personal details (%s)", shownError())
		}
	}
	submitted[id] = true
	f := formValues(body, id)
	if f.Get("request") == "" {
		return nil, errors.New("nextidentitytest: form " + id + " without a request id")
	}
	switch action {
	case "signin":
		f.Set("email", g.signIn.email)
		f.Set("password", g.signIn.password)
	case "signup":
		f.Set("name", g.signUp.name)
		f.Set("email", g.signUp.email)
		f.Set("password", g.signUp.password)
	case "save":
		for k, v := range g.profile {
			if _, ok := f[k]; !ok || k == "request" {
				return nil, fmt.Errorf("nextidentitytest: the personal-details form has no field %q", k)
			}
			f.Set(k, v)
		}
	}
	f.Set("action", action)
	return f, nil
}

var (
	inputTag  = regexp.MustCompile(`<input\b[^>]*>`)
	nameAttr  = regexp.MustCompile(`\bname="([^"]*)"`)
	valueAttr = regexp.MustCompile(`\bvalue="([^"]*)"`)
)

// formValues returns the named inputs of the form with the given id and
// their current values, as a browser would submit them untouched.
func formValues(body, id string) url.Values {
	v := url.Values{}
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		return v
	}
	block := body[i:]
	if j := strings.Index(block, "</form>"); j >= 0 {
		block = block[:j]
	}
	for _, tag := range inputTag.FindAllString(block, -1) {
		n := nameAttr.FindStringSubmatch(tag)
		if n == nil {
			continue
		}
		val := ""
		if m := valueAttr.FindStringSubmatch(tag); m != nil {
			val = html.UnescapeString(m[1])
		}
		v.Add(html.UnescapeString(n[1]), val)
	}
	return v
}

// pageError describes an unexpected provider response: the provider's own
// error page as a *PageError, anything else with an excerpt of the body.
func pageError(method string, u *url.URL, status int, body string) error {
	t, m := titleField.FindStringSubmatch(body), messageField.FindStringSubmatch(body)
	if t != nil && m != nil {
		return &PageError{Status: status, Title: html.UnescapeString(t[1]), Message: html.UnescapeString(m[1])}
	}
	return fmt.Errorf("nextidentitytest: %s %s answered %d: %s", method, u.Path, status, excerpt(body))
}

// fetch sends one browser request and reads at most 1 MiB of the body.
func (s *Server) fetch(ctx context.Context, hc *http.Client, method string, u *url.URL, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, "", fmt.Errorf("nextidentitytest: %w", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("nextidentitytest: %s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", fmt.Errorf("nextidentitytest: %s %s: reading response: %w", method, u.Path, err)
	}
	return resp, string(b), nil
}

// redirectTarget returns the resolved Location of a redirect response.
func (s *Server) redirectTarget(resp *http.Response, base *url.URL) (*url.URL, bool, error) {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, false, nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, false, fmt.Errorf("nextidentitytest: %d redirect without Location", resp.StatusCode)
	}
	u, err := base.Parse(loc)
	if err != nil {
		return nil, false, fmt.Errorf("nextidentitytest: bad redirect Location %q: %w", loc, err)
	}
	return u, true, nil
}

// checkOwnURL parses raw and makes sure it points at this server: the fake
// browser never talks to anything else.
func (s *Server) checkOwnURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("nextidentitytest: %w", err)
	}
	if !s.isProviderURL(u) {
		return nil, fmt.Errorf("nextidentitytest: %q is not a URL of this server (%s)", raw, s.URL)
	}
	return u, nil
}

func (s *Server) isProviderURL(u *url.URL) bool {
	base := s.mustURL("")
	return u.Scheme == base.Scheme && u.Host == base.Host
}

// isRedirectURI reports whether u, without its query, is a registered
// redirect URI of some client.
func (s *Server) isRedirectURI(u *url.URL) bool {
	bare := *u
	bare.RawQuery, bare.Fragment, bare.RawFragment = "", "", ""
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		for _, ru := range c.RedirectURIs {
			if r, err := url.Parse(ru); err == nil {
				r.RawQuery = ""
				if redirectURIAllowed([]string{r.String()}, bare.String()) {
					return true
				}
			}
		}
		if slices.Contains(c.PostLogoutRedirectURIs, bare.String()) {
			return true
		}
	}
	return false
}

func (s *Server) mustURL(e Endpoint) *url.URL {
	u, err := url.Parse(s.URL + string(e))
	if err != nil {
		panic(err)
	}
	return u
}

func excerpt(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
