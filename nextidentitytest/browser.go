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
)

var (
	// ErrLoginRequired is returned by Authorize when the provider shows its
	// sign-in page because the fake browser has no usable session.
	ErrLoginRequired = errors.New("nextidentitytest: the provider asked the user to sign in")
	// ErrInvalidCredentials is returned by Login when the provider rejects
	// the email and password.
	ErrInvalidCredentials = errors.New("nextidentitytest: the provider rejected the email or password")
)

// maxBrowserHops bounds the redirects and form posts of one Login.
const maxBrowserHops = 10

var (
	requestField = regexp.MustCompile(`name="request" value="([^"]*)"`)
	errorField   = regexp.MustCompile(`<p id="error"[^>]*>([^<]*)</p>`)
	signinForm   = `id="signin-form"`
)

// Login signs in like a browser would, without one: it requests authURL (an
// authorization, registration or personal-details URL of this server), posts
// email and password to the hosted sign-in page if it appears, and follows
// the provider's redirects until the one to the application's redirect URI,
// which it does not request. It returns that redirect's query: code, state
// and iss, or error, error_description and state.
//
// The fake browser's cookies live in the Server, so the provider session
// started here persists: a later Login or Authorize for a URL with
// prompt=none gets a code without credentials, until ForgetSession or a
// logout at the end-session endpoint through this browser (see Browse).
//
// Login returns ErrInvalidCredentials when the provider rejects the
// credentials, and an error for any other unexpected response.
func (s *Server) Login(ctx context.Context, authURL, email, password string) (url.Values, error) {
	return s.browse(ctx, authURL, &credentials{email, password})
}

// Authorize is Login with the fake browser's existing session only: it never
// submits credentials, and returns ErrLoginRequired if the sign-in page
// appears. With prompt=none and no session, the provider itself redirects
// with error=login_required, which Authorize returns as a query, not an error.
func (s *Server) Authorize(ctx context.Context, authURL string) (url.Values, error) {
	return s.browse(ctx, authURL, nil)
}

// Browse is the fake browser's plain navigation: it requests rawURL (a URL
// of this server) with the browser's cookies and follows the provider's
// redirects, but submits no form. It stops at a redirect that leaves the
// provider or goes to a registered redirect URI, and returns that target
// without requesting it; otherwise it returns the URL of the page it ended
// on. The int is the status of the last provider response. Use it to log the
// fake browser out: Browse(ctx, client.LogoutURL(...)).
func (s *Server) Browse(ctx context.Context, rawURL string) (*url.URL, int, error) {
	hc := s.browserClient()
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

// ForgetSession clears the fake browser's cookies, signing it out of the
// provider. Server-side sessions are left alone, as when a user clears the
// browser's cookies.
func (s *Server) ForgetSession() {
	jar, err := cookiejar.New(nil)
	if err != nil {
		panic(fmt.Sprintf("nextidentitytest: cookie jar: %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jar = jar
}

type credentials struct{ email, password string }

func (s *Server) browserClient() *http.Client {
	s.mu.Lock()
	jar := s.jar
	s.mu.Unlock()
	return &http.Client{
		Transport:     s.ts.Client().Transport,
		Jar:           jar,
		Timeout:       DefaultHTTPTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (s *Server) browse(ctx context.Context, authURL string, creds *credentials) (url.Values, error) {
	hc := s.browserClient()
	u, err := s.checkOwnURL(authURL)
	if err != nil {
		return nil, err
	}
	method, form := http.MethodGet, url.Values(nil)
	submitted := false
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
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, signinForm) {
			return nil, fmt.Errorf("nextidentitytest: %s %s answered %d: %s", method, u.Path, resp.StatusCode, excerpt(body))
		}
		// The hosted sign-in page.
		if creds == nil {
			return nil, ErrLoginRequired
		}
		if submitted {
			msg := "no message shown"
			if m := errorField.FindStringSubmatch(body); m != nil {
				msg = html.UnescapeString(m[1])
			}
			return nil, fmt.Errorf("%w (%s)", ErrInvalidCredentials, msg)
		}
		m := requestField.FindStringSubmatch(body)
		if m == nil {
			return nil, errors.New("nextidentitytest: sign-in page without a request id")
		}
		submitted = true
		method = http.MethodPost
		form = url.Values{
			"request":  {html.UnescapeString(m[1])},
			"email":    {creds.email},
			"password": {creds.password},
			"action":   {"signin"},
		}
		u = s.mustURL(EndpointLogin)
	}
	return nil, errors.New("nextidentitytest: too many redirects")
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
				if r.String() == bare.String() {
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
