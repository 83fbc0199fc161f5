package nextidentitytest

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// authRequest is a validated authorization request waiting for the user to
// sign in on the hosted page.
type authRequest struct {
	endpoint    Endpoint
	clientID    string
	redirectURI string
	state       string
	nonce       string
	challenge   string
	scope       string
	accessType  string
	loginHint   string
	// sub and authTime are set once the user is signed in on a
	// personal-details request: the pending request then edits that user.
	sub      string
	authTime time.Time
	browser  string // BrowserCookieName value of the browser that was shown the page
	expires  time.Time
	sid      string // the provider session's "sid", see backchannel.go
}

// session is the provider's browser session, referenced by the session
// cookie.
type session struct {
	sub      string
	authTime time.Time
	expires  time.Time
	bcl      bclSession // back-channel logout state, see backchannel.go
}

// pkceChars matches an S256 code challenge or a code verifier: 43 to 128
// unreserved characters (RFC 7636 section 4.1).
var pkceChars = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// singleValued are the authorization parameters that must not be repeated.
var singleValued = []string{
	"response_type", "scope", "state", "nonce", "code_challenge",
	"code_challenge_method", "prompt", "max_age", "access_type", "login_hint",
}

// authorizeHandler serves /authorize, /register and /personal-details, which
// take the same parameters and differ only in the page heading.
func (s *Server) authorizeHandler(e Endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, ok := s.readParams(w, r)
		if !ok {
			return
		}

		c, redirectURI, ok := s.hostedClient(w, q)
		if !ok {
			return
		}
		clientID := c.ID

		state := q.Get("state")
		fail := func(code, description string) {
			http.Redirect(w, r, s.callbackURL(redirectURI, state, url.Values{
				"error":             {code},
				"error_description": {description},
			}), http.StatusFound)
		}
		for _, k := range singleValued {
			if len(q[k]) > 1 {
				fail("invalid_request", "The "+k+" parameter must not be repeated.")
				return
			}
		}
		switch rt := q.Get("response_type"); rt {
		case "code":
		case "":
			fail("invalid_request", "The response_type parameter is missing.")
			return
		default:
			fail("unsupported_response_type", "The response_type "+strconv.Quote(rt)+" is not supported; use \"code\".")
			return
		}
		scope := q.Get("scope")
		if !slices.Contains(strings.Fields(scope), "openid") {
			fail("invalid_scope", "The scope must include \"openid\".")
			return
		}
		challenge := q.Get("code_challenge")
		if challenge == "" {
			fail("invalid_request", "PKCE is required: the code_challenge parameter is missing.")
			return
		}
		if q.Get("code_challenge_method") != "S256" {
			fail("invalid_request", "PKCE is required: code_challenge_method must be S256.")
			return
		}
		if !pkceChars.MatchString(challenge) {
			fail("invalid_request", "The code_challenge is malformed.")
			return
		}
		prompt := strings.Fields(q.Get("prompt"))
		promptNone, promptLogin := slices.Contains(prompt, "none"), slices.Contains(prompt, "login")
		if promptNone && len(prompt) > 1 {
			fail("invalid_request", "prompt=none cannot be combined with other prompt values.")
			return
		}
		maxAge := time.Duration(-1)
		if v := q.Get("max_age"); v != "" {
			n, err := strconv.ParseUint(v, 10, 31)
			if err != nil {
				fail("invalid_request", "The max_age parameter must be a non-negative integer.")
				return
			}
			maxAge = time.Duration(n) * time.Second
		}

		ar := &authRequest{
			endpoint:    e,
			clientID:    clientID,
			redirectURI: redirectURI,
			state:       state,
			nonce:       q.Get("nonce"),
			challenge:   challenge,
			scope:       scope,
			accessType:  q.Get("access_type"),
			loginHint:   q.Get("login_hint"),
		}

		s.mu.Lock()
		now := s.now()
		if sess := s.sessionLocked(r, now); sess != nil && !promptLogin && (maxAge < 0 || now.Sub(sess.authTime) <= maxAge) {
			ar.sid = sess.publicSIDLocked()
			if e == EndpointPersonalDetails {
				// Signed in already: straight to the profile form.
				id := randomID()
				ar.sub, ar.authTime = sess.sub, sess.authTime
				ar.expires = now.Add(PendingLoginLifetime)
				ar.browser = bindBrowser(w, r)
				s.prunePendingLocked(now)
				s.pending[id] = ar
				u, _ := s.userBySubjectLocked(sess.sub) // sessionLocked checked it exists
				s.mu.Unlock()
				s.renderProfile(w, http.StatusOK, id, u, "")
				return
			}
			code := s.issueCodeLocked(ar, sess.sub, sess.authTime, now)
			s.mu.Unlock()
			http.Redirect(w, r, s.callbackURL(redirectURI, state, url.Values{"code": {code}}), http.StatusFound)
			return
		}
		if promptNone {
			s.mu.Unlock()
			fail("login_required", "The user is not signed in.")
			return
		}
		id := randomID()
		ar.expires = now.Add(PendingLoginLifetime)
		ar.browser = bindBrowser(w, r)
		s.prunePendingLocked(now)
		s.pending[id] = ar
		s.mu.Unlock()
		s.renderForm(w, id, ar, User{Email: ar.loginHint}, "")
	}
}

// handleLogin receives the hosted sign-in form.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.renderMessage(w, http.StatusMethodNotAllowed, "Method not allowed", "The sign-in form must be submitted with POST.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.renderMessage(w, http.StatusBadRequest, "Invalid request", "The sign-in form could not be read.")
		return
	}
	f := r.PostForm
	id := f.Get("request")

	s.mu.Lock()
	now := s.now()
	ar := s.pending[id]
	if ar != nil && !now.Before(ar.expires) {
		delete(s.pending, id)
		ar = nil
	}
	if ar == nil {
		s.mu.Unlock()
		s.renderMessage(w, http.StatusBadRequest, "Sign-in expired",
			"This sign-in request is unknown or has expired. Return to the application and start again.")
		return
	}
	if !sameBrowser(r, ar) {
		// Login CSRF: the request id was copied into another browser's form.
		s.mu.Unlock()
		s.renderMessage(w, http.StatusForbidden, "Sign-in failed",
			"This sign-in was started in another browser. Return to the application and start again.")
		return
	}
	if f.Get("action") == "cancel" {
		delete(s.pending, id)
		s.mu.Unlock()
		http.Redirect(w, r, s.callbackURL(ar.redirectURI, ar.state, url.Values{
			"error":             {"access_denied"},
			"error_description": {"The user cancelled the sign-in."},
		}), http.StatusSeeOther)
		return
	}
	switch f.Get("action") {
	case "signup":
		s.handleSignUpLocked(w, r, id, ar, now) // unlocks
		return
	case "save":
		s.handleSaveProfileLocked(w, r, id, ar, now) // unlocks
		return
	}
	email := f.Get("email")
	u, ok := s.userByCredentialsLocked(email, f.Get("password"))
	if !ok {
		s.mu.Unlock()
		s.renderForm(w, id, ar, User{Email: email}, "The email address or password is incorrect.")
		return
	}
	s.signInLocked(w, r, id, ar, u, now) // unlocks
}

// signInLocked starts a provider session for u after a successful sign-in
// or sign-up on ar's page. For a personal-details request it then shows the
// profile form; otherwise it sends the browser back to the application with
// a code. It unlocks s.mu.
func (s *Server) signInLocked(w http.ResponseWriter, r *http.Request, id string, ar *authRequest, u User, now time.Time) {
	sid := randomID()
	s.pruneSessionsLocked(now)
	s.sessions[sid] = &session{sub: u.Subject, authTime: now, expires: now.Add(SessionLifetime)}
	ar.sid = s.sessions[sid].publicSIDLocked()
	var code string
	if ar.endpoint == EndpointPersonalDetails {
		ar.sub, ar.authTime = u.Subject, now // the same pending request now edits u
	} else {
		delete(s.pending, id)
		code = s.issueCodeLocked(ar, u.Subject, now, now)
	}
	s.mu.Unlock()

	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookieName,
		Value:    sid,
		Path:     "/",
		MaxAge:   int(SessionLifetime / time.Second), // relative: independent of the server's clock
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	if code == "" {
		s.renderProfile(w, http.StatusOK, id, u, "")
		return
	}
	http.Redirect(w, r, s.callbackURL(ar.redirectURI, ar.state, url.Values{"code": {code}}), http.StatusSeeOther)
}

// bindBrowser returns the value of r's BrowserCookieName cookie, setting a
// new random one on w when r has none. A pending sign-in remembers it, so
// that only the browser the sign-in page was shown to can complete it.
func bindBrowser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(BrowserCookieName); err == nil && c.Value != "" {
		return c.Value
	}
	v := randomID()
	http.SetCookie(w, &http.Cookie{
		Name:     BrowserCookieName,
		Value:    v,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return v
}

// sameBrowser reports whether r comes from the browser that was shown ar's
// sign-in page.
func sameBrowser(r *http.Request, ar *authRequest) bool {
	c, err := r.Cookie(BrowserCookieName)
	return err == nil && ar.browser != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(ar.browser)) == 1
}

// sessionLocked returns the live session named by r's cookie, or nil.
func (s *Server) sessionLocked(r *http.Request, now time.Time) *session {
	c, err := r.Cookie(SessionCookieName)
	if err != nil {
		return nil
	}
	sess := s.sessions[c.Value]
	if sess == nil {
		return nil
	}
	if !now.Before(sess.expires) {
		delete(s.sessions, c.Value)
		return nil
	}
	if _, ok := s.userBySubjectLocked(sess.sub); !ok {
		return nil
	}
	return sess
}

func (s *Server) prunePendingLocked(now time.Time) {
	for id, ar := range s.pending {
		if !now.Before(ar.expires) {
			delete(s.pending, id)
		}
	}
}

func (s *Server) pruneSessionsLocked(now time.Time) {
	for id, sess := range s.sessions {
		if !now.Before(sess.expires) {
			delete(s.sessions, id)
		}
	}
}

// callbackURL adds params, state (when not empty) and iss (RFC 9207) to the
// redirect URI, keeping any query it already has.
func (s *Server) callbackURL(redirectURI, state string, params url.Values) string {
	u, err := url.Parse(redirectURI)
	if err != nil { // cannot happen for URIs a browser was redirected to; be lenient
		u = &url.URL{Path: redirectURI}
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", s.issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

// loginPage is the data of templates/login.html.
type loginPage struct {
	Title, Heading, Intro string
	Action                string
	RequestID             string
	Email                 string
	Error                 string
	ForgotURL             string // the hosted forgot-password journey for the same request
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, id string, ar *authRequest, email, errMsg string) {
	p := loginPage{
		Title:     "Sign in",
		Heading:   "Sign in",
		Intro:     "Sign in to continue to " + ar.clientID + ".",
		Action:    string(EndpointLogin),
		RequestID: id,
		Email:     email,
		Error:     errMsg,
		ForgotURL: string(EndpointForgotPassword) + "?" + url.Values{
			"client_id": {ar.clientID}, "redirect_uri": {ar.redirectURI}, "response_type": {"code"},
			"state": {ar.state}, "scope": {ar.scope}, "nonce": {ar.nonce},
			"code_challenge": {ar.challenge}, "code_challenge_method": {"S256"},
		}.Encode(),
	}
	if ar.endpoint == EndpointPersonalDetails {
		p.Title, p.Heading = "Personal details", "Your personal details"
		p.Intro = "Sign in to review and update your personal details."
	}
	s.render(w, status, "login.html", p)
}

// renderMessage shows a plain page with a title and a message.
func (s *Server) renderMessage(w http.ResponseWriter, status int, title, message string) {
	s.render(w, status, "message.html", struct{ Title, Message string }{title, message})
}

func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "template error: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// readParams returns the request's parameters: the query for GET and HEAD,
// the bounded form body for POST. On anything else it answers the request
// itself and returns false.
func (s *Server) readParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return r.URL.Query(), true
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			s.renderMessage(w, http.StatusBadRequest, "Invalid request", "The request could not be read.")
			return nil, false
		}
		return r.PostForm, true
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.renderMessage(w, http.StatusMethodNotAllowed, "Method not allowed", "Use GET or POST.")
		return nil, false
	}
}

// hostedClient checks the client_id and redirect_uri of a request for a
// hosted screen (/authorize, /register, /personal-details,
// /forgot-password). Problems with them cannot be reported to the
// application, so the provider shows an error page instead and
// hostedClient returns false: a repeated parameter, an unknown client or
// one without the hosted journeys (refused like an unknown one), and a
// redirect_uri that is missing or not registered.
func (s *Server) hostedClient(w http.ResponseWriter, q url.Values) (Client, string, bool) {
	if len(q["client_id"]) > 1 || len(q["redirect_uri"]) > 1 {
		s.renderMessage(w, http.StatusBadRequest, "Invalid request", "client_id and redirect_uri must not be repeated.")
		return Client{}, "", false
	}
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	s.mu.Lock()
	c, known := s.clients[clientID]
	s.mu.Unlock()
	if !known || !hostedAllowed(c) {
		msg := "The client_id parameter is missing."
		if clientID != "" {
			msg = "The application (client_id " + strconv.Quote(clientID) + ") is not registered."
		}
		s.renderMessage(w, http.StatusBadRequest, "Invalid client", msg)
		return Client{}, "", false
	}
	if !redirectURIAllowed(c.RedirectURIs, redirectURI) {
		msg := "The redirect_uri parameter is missing."
		if redirectURI != "" {
			msg = "The redirect_uri " + strconv.Quote(redirectURI) + " is not registered for this application."
		}
		s.renderMessage(w, http.StatusBadRequest, "Invalid redirect URI", msg)
		return Client{}, "", false
	}
	return c, redirectURI, true
}
