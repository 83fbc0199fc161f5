package nextidentitytest

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The hosted sign-up (/register) and personal-details (/personal-details)
// screens. Both take the /authorize parameters; their forms post to
// EndpointLogin like the sign-in form, told apart by the "action" button.

// Messages the hosted sign-up form shows.
const (
	msgEmailTaken    = "An account with this email address already exists."
	msgNameMissing   = "Enter your name."
	msgEmailInvalid  = "Enter a valid email address."
	msgPasswordEmpty = "Choose a password."
)

// profileField is one editable field of the personal-details form. Its Name
// is the claim it sets.
type profileField struct {
	Name, Label, Type, Autocomplete, Value string
}

// profileFields are the personal-details form's fields for u, in order.
func profileFields(u User) []profileField {
	return []profileField{
		{"name", "Name", "text", "name", u.Name},
		{"given_name", "Given name", "text", "given-name", u.GivenName},
		{"family_name", "Family name", "text", "family-name", u.FamilyName},
		{"phone_number", "Phone number", "tel", "tel", u.PhoneNumber},
		{"locale", "Locale", "text", "language", u.Locale},
	}
}

// setProfileField sets the User field of the claim name to v.
func setProfileField(u *User, name, v string) {
	switch name {
	case "name":
		u.Name = v
	case "given_name":
		u.GivenName = v
	case "family_name":
		u.FamilyName = v
	case "phone_number":
		u.PhoneNumber = v
	case "locale":
		u.Locale = v
	}
}

// registerPage is the data of templates/register.html.
type registerPage struct {
	Title, Heading, Intro string
	Action                string
	RequestID             string
	Name, Email           string
	Error                 string
}

// profilePage is the data of templates/profile.html.
type profilePage struct {
	Title, Heading string
	Action         string
	RequestID      string
	AccountEmail   string
	Fields         []profileField
	Error          string
}

// renderForm shows the first page of a pending request: the sign-up form
// for /register, the sign-in form otherwise. u carries the values to
// prefill.
func (s *Server) renderForm(w http.ResponseWriter, id string, ar *authRequest, u User, errMsg string) {
	if ar.endpoint != EndpointRegister {
		s.renderLogin(w, http.StatusOK, id, ar, u.Email, errMsg)
		return
	}
	s.render(w, http.StatusOK, "register.html", registerPage{
		Title:     "Create account",
		Heading:   "Create your account",
		Intro:     "Create an account for " + ar.clientID + ", or sign in if you already have one.",
		Action:    string(EndpointLogin),
		RequestID: id,
		Name:      u.Name,
		Email:     u.Email,
		Error:     errMsg,
	})
}

func (s *Server) renderProfile(w http.ResponseWriter, status int, id string, u User, errMsg string) {
	s.render(w, status, "profile.html", profilePage{
		Title:        "Personal details",
		Heading:      "Your personal details",
		Action:       string(EndpointLogin),
		RequestID:    id,
		AccountEmail: u.Email,
		Fields:       profileFields(u),
		Error:        errMsg,
	})
}

// handleSignUpLocked creates an account from the sign-up form of a
// /register request and signs it in. It unlocks s.mu.
func (s *Server) handleSignUpLocked(w http.ResponseWriter, r *http.Request, id string, ar *authRequest, now time.Time) {
	if ar.endpoint != EndpointRegister {
		s.mu.Unlock()
		s.renderMessage(w, http.StatusBadRequest, "Invalid request", "This sign-in does not offer to create an account.")
		return
	}
	f := r.PostForm
	u := User{
		Subject:   newUUID(),
		Name:      strings.TrimSpace(f.Get("name")),
		Email:     strings.TrimSpace(f.Get("email")),
		Password:  f.Get("password"),
		UpdatedAt: now,
	}
	var problem string
	switch {
	case u.Name == "":
		problem = msgNameMissing
	case !validEmail(u.Email):
		problem = msgEmailInvalid
	case u.Password == "":
		problem = msgPasswordEmpty
	case s.emailTakenLocked(u.Email):
		problem = msgEmailTaken
	}
	if problem != "" {
		s.mu.Unlock()
		s.renderForm(w, id, ar, User{Name: u.Name, Email: u.Email}, problem)
		return
	}
	for s.subjectTakenLocked(u.Subject) {
		u.Subject = newUUID()
	}
	s.addUserLocked(u)
	s.signInLocked(w, r, id, ar, u, now)
}

// handleSaveProfileLocked stores the personal-details form of a signed-in
// /personal-details request and sends the browser back to the application
// with a code. updated_at changes only when a field did. It unlocks s.mu.
func (s *Server) handleSaveProfileLocked(w http.ResponseWriter, r *http.Request, id string, ar *authRequest, now time.Time) {
	if ar.endpoint != EndpointPersonalDetails || ar.sub == "" {
		s.mu.Unlock()
		s.renderMessage(w, http.StatusBadRequest, "Invalid request", "Sign in before editing your personal details.")
		return
	}
	if sess := s.sessionLocked(r, now); sess == nil || sess.sub != ar.sub {
		delete(s.pending, id)
		s.mu.Unlock()
		s.renderMessage(w, http.StatusBadRequest, "Sign-in expired",
			"Your session has ended. Return to the application and start again.")
		return
	}
	i := s.userIndexLocked(ar.sub)
	if i < 0 {
		delete(s.pending, id)
		s.mu.Unlock()
		s.renderMessage(w, http.StatusBadRequest, "Sign-in expired", "This account no longer exists.")
		return
	}
	u := s.users[i]
	changed := false
	for _, fld := range profileFields(u) {
		v, present := r.PostForm[fld.Name]
		if !present {
			continue // a field left out of the post keeps its value
		}
		if nv := strings.TrimSpace(v[0]); nv != fld.Value {
			setProfileField(&u, fld.Name, nv)
			changed = true
		}
	}
	if changed {
		u.UpdatedAt = now
		s.users[i] = u
	}
	delete(s.pending, id)
	code := s.issueCodeLocked(ar, ar.sub, ar.authTime, now)
	s.mu.Unlock()
	http.Redirect(w, r, s.callbackURL(ar.redirectURI, ar.state, url.Values{"code": {code}}), http.StatusSeeOther)
}

func (s *Server) emailTakenLocked(email string) bool {
	for _, u := range s.users {
		if u.Email != "" && strings.EqualFold(u.Email, email) {
			return true
		}
	}
	return false
}

func (s *Server) subjectTakenLocked(sub string) bool { return s.userIndexLocked(sub) >= 0 }

func (s *Server) userIndexLocked(sub string) int {
	for i, u := range s.users {
		if u.Subject == sub {
			return i
		}
	}
	return -1
}

// validEmail is a deliberately loose check: one "@" with text on both sides
// and no spaces.
func validEmail(e string) bool {
	local, domain, ok := strings.Cut(e, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(e, " \t") && !strings.Contains(domain, "@")
}
