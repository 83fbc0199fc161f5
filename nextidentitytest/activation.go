package nextidentitytest

import (
	"net/http"
	"time"
)

// The hosted activation screen of an invite (/activate?token=...): the user
// sets a password and accepts the terms; the account becomes active and
// verified, and the browser goes to the redirect_uri of the /pre-register
// call. Where the provider sends the browser next is not documented; the
// fake sends it there without a code, and the app starts a normal sign-in.

// Messages the hosted password forms show.
const (
	msgChoosePassword = "Choose a password."
	msgConfirmDiffers = "The passwords do not match."
	msgTooShort       = "Use at least 8 characters."
	msgBreached       = "This password has appeared in a data breach. Choose another."
	msgAcceptTerms    = "Accept the terms of service and the privacy notice to continue."
	msgLinkExpired    = "This link is unknown, has been used or has expired. Ask for a new one."
)

// passwordPage is the data of templates/activate.html and reset.html.
type passwordPage struct {
	Title, Heading, Intro string
	Action                string
	Token                 string
	Account               string
	MinLength             int
	Error                 string
}

// newPasswordProblem checks a new password chosen on a hosted form.
func newPasswordProblem(pw, confirm string) string {
	switch {
	case pw == "":
		return msgChoosePassword
	case pw != confirm:
		return msgConfirmDiffers
	case len(pw) < MinPasswordLength:
		return msgTooShort
	case containsFold(breachedPasswords, pw):
		return msgBreached
	}
	return ""
}

func (s *Server) renderActivate(w http.ResponseWriter, token string, u User, authType, errMsg string) {
	s.render(w, http.StatusOK, "activate.html", passwordPage{
		Title:     "Activate your account",
		Heading:   "Activate your account",
		Intro:     "You have been invited. Choose a password and accept the terms to activate your account.",
		Action:    string(EndpointActivate),
		Token:     token,
		Account:   identifier(u, authType),
		MinLength: MinPasswordLength,
		Error:     errMsg,
	})
}

// handleActivate shows (GET) and receives (POST) the activation form.
func (s *Server) handleActivate(w http.ResponseWriter, r *http.Request) {
	q, ok := s.readParams(w, r)
	if !ok {
		return
	}
	token := q.Get("token")
	s.mu.Lock()
	now := s.now()
	l, i := s.linkUserLocked(token, linkActivate, now)
	if i < 0 || !s.users[i].AwaitingActivation {
		s.mu.Unlock()
		s.renderMessage(w, http.StatusBadRequest, "Link expired", msgLinkExpired)
		return
	}
	u := s.users[i]
	if r.Method != http.MethodPost {
		s.mu.Unlock()
		s.renderActivate(w, token, u, l.authType, "")
		return
	}
	problem := newPasswordProblem(q.Get("password"), q.Get("password_confirm"))
	if problem == "" && q.Get("accept_terms") == "" {
		problem = msgAcceptTerms
	}
	if problem != "" {
		s.mu.Unlock()
		s.renderActivate(w, token, u, l.authType, problem)
		return
	}
	s.activateLocked(i, l, q.Get("password"), now)
	delete(s.acct.links, token)
	redirect := l.redirectURI
	s.mu.Unlock()
	http.Redirect(w, r, redirect, http.StatusSeeOther)
}

// activateLocked makes the invited user i active: password set, identifier
// verified, terms accepted.
func (s *Server) activateLocked(i int, l *link, password string, now time.Time) {
	u := &s.users[i]
	u.Password = password
	u.AwaitingActivation = false
	markVerified(u, l.authType)
	u.LegalAccepted, u.LegalAcceptedAt = true, now
	u.UpdatedAt = now
}
