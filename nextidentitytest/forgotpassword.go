package nextidentitytest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The hosted forgot-password journey: GET /forgot-password with the
// documented parameters shows an identifier form; posting it sends a link
// to /reset-password (to the outbox, whether or not the account exists);
// the link's form sets the new password and sends the browser back to
// redirect_uri with the request's state. When the request carried a PKCE
// code_challenge (S256) the user is also signed in and the return carries a
// code for the OIDC /token; without one there is no code, since this
// fake's /token requires PKCE, and the app signs the user in again. The
// provider documents neither; apps must handle both.

// resetRequest is a hosted forgot-password request waiting for the user.
type resetRequest struct {
	clientID    string
	redirectURI string
	state       string
	challenge   string
	nonce       string
	scope       string
	browser     string
	expires     time.Time
}

type forgotPage struct {
	Title, Heading, Intro string
	Action                string
	RequestID             string
	Identifier            string
	Error                 string
}

// handleForgotPassword shows (GET) and receives (POST) the identifier form.
func (s *Server) handleForgotPassword(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		s.receiveForgotPassword(w, r)
		return
	}
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
		http.Redirect(w, r, s.callbackURL(redirectURI, state, url.Values{"error": {code}, "error_description": {description}}), http.StatusFound)
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
	challenge := q.Get("code_challenge")
	if challenge != "" && (q.Get("code_challenge_method") != "S256" || !pkceChars.MatchString(challenge)) {
		fail("invalid_request", "The code_challenge is malformed or its method is not S256.")
		return
	}
	scope := q.Get("scope")
	if scope == "" {
		scope = "openid"
	}
	rr := &resetRequest{
		clientID: clientID, redirectURI: redirectURI, state: state, challenge: challenge,
		nonce: q.Get("nonce"), scope: scope, browser: bindBrowser(w, r),
	}
	id := randomID()
	s.mu.Lock()
	now := s.now()
	rr.expires = now.Add(PendingLoginLifetime)
	for k, o := range s.acct.resets {
		if !now.Before(o.expires) {
			delete(s.acct.resets, k)
		}
	}
	s.acct.resets[id] = rr
	s.mu.Unlock()
	s.renderForgot(w, id, "", "")
}

func (s *Server) renderForgot(w http.ResponseWriter, id, identifier, errMsg string) {
	s.render(w, http.StatusOK, "forgot.html", forgotPage{
		Title:      "Forgot password",
		Heading:    "Forgot your password?",
		Intro:      "Enter the email address or phone number of your account. We will send you a link to choose a new password.",
		Action:     string(EndpointForgotPassword),
		RequestID:  id,
		Identifier: identifier,
		Error:      errMsg,
	})
}

// receiveForgotPassword handles the identifier form: a known account gets a
// reset link; the page is the same either way.
func (s *Server) receiveForgotPassword(w http.ResponseWriter, r *http.Request) {
	f, ok := s.readParams(w, r)
	if !ok {
		return
	}
	id := f.Get("request")
	s.mu.Lock()
	now := s.now()
	rr := s.acct.resets[id]
	if rr == nil || !now.Before(rr.expires) {
		delete(s.acct.resets, id)
		s.mu.Unlock()
		s.renderMessage(w, http.StatusBadRequest, "Request expired",
			"This password reset is unknown or has expired. Return to the application and start again.")
		return
	}
	c, err := r.Cookie(BrowserCookieName)
	if err != nil || !constantTimeEqual(c.Value, rr.browser) {
		s.mu.Unlock()
		s.renderMessage(w, http.StatusForbidden, "Request refused",
			"This password reset was started in another browser. Return to the application and start again.")
		return
	}
	if f.Get("action") == "cancel" {
		delete(s.acct.resets, id)
		s.mu.Unlock()
		http.Redirect(w, r, s.callbackURL(rr.redirectURI, rr.state, url.Values{
			"error": {"access_denied"}, "error_description": {"The user cancelled the password reset."},
		}), http.StatusSeeOther)
		return
	}
	ident := strings.TrimSpace(f.Get("identifier"))
	if ident == "" {
		s.mu.Unlock()
		s.renderForgot(w, id, "", "Enter your email address or phone number.")
		return
	}
	authType := "email"
	if !strings.Contains(ident, "@") {
		authType = "sms"
	}
	if i := s.userIndexByIDLocked(authType, ident); i >= 0 && !s.users[i].AwaitingActivation {
		u := s.users[i]
		lnk := s.newLinkLocked(EndpointResetPassword, link{
			kind: linkReset, sub: u.Subject, authType: authType, clientID: rr.clientID,
			redirectURI: rr.redirectURI, expires: now.Add(ResetLifetime), reset: rr,
		}, now)
		s.sendLocked(Message{
			Kind: MessageForgotPassword, AuthType: authType, To: identifier(u, authType),
			ClientID: rr.clientID, UUID: u.Subject, Link: lnk,
		}, now)
	}
	delete(s.acct.resets, id)
	s.mu.Unlock()
	s.renderMessage(w, http.StatusOK, "Check your messages",
		"If an account exists for "+ident+", we have sent it a link to choose a new password.")
}

func (s *Server) renderReset(w http.ResponseWriter, token, errMsg string) {
	s.render(w, http.StatusOK, "reset.html", passwordPage{
		Title:     "Choose a new password",
		Heading:   "Choose a new password",
		Intro:     "Enter your new password twice.",
		Action:    string(EndpointResetPassword),
		Token:     token,
		MinLength: MinPasswordLength,
		Error:     errMsg,
	})
}

// handleResetPassword shows (GET) and receives (POST) the new-password form
// a reset link opens.
func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request) {
	q, ok := s.readParams(w, r)
	if !ok {
		return
	}
	token := q.Get("token")
	s.mu.Lock()
	now := s.now()
	l, i := s.linkUserLocked(token, linkReset, now)
	if i < 0 {
		s.mu.Unlock()
		s.renderMessage(w, http.StatusBadRequest, "Link expired", msgLinkExpired)
		return
	}
	if r.Method != http.MethodPost {
		s.mu.Unlock()
		s.renderReset(w, token, "")
		return
	}
	if problem := newPasswordProblem(q.Get("password"), q.Get("password_confirm")); problem != "" {
		s.mu.Unlock()
		s.renderReset(w, token, problem)
		return
	}
	delete(s.acct.links, token)
	u := &s.users[i]
	u.Password = q.Get("password")
	u.UpdatedAt = now
	markVerified(u, l.authType) // the link proved the address
	rr := l.reset
	if rr.challenge == "" {
		s.mu.Unlock()
		http.Redirect(w, r, s.callbackURL(rr.redirectURI, rr.state, nil), http.StatusSeeOther)
		return
	}
	ar := &authRequest{
		endpoint: EndpointAuthorize, clientID: rr.clientID, redirectURI: rr.redirectURI,
		state: rr.state, nonce: rr.nonce, challenge: rr.challenge, scope: rr.scope,
	}
	s.signInLocked(w, r, "", ar, *u, now) // unlocks; redirects with a code
}
