package nextidentitytest

import (
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Self-registration (/register), verification (/verify, the verification
// link) and /resend-verification.

// Profile field names of the API. The provider shows "emailAddress",
// "firstName", "lastName", "newPassword" and "newPasswordConfirm"; the phone
// number's name is not documented, "mobileNumber" is the fake's (and
// package account's) choice.
const (
	fieldEmail           = "emailAddress"
	fieldMobile          = "mobileNumber"
	fieldFirstName       = "firstName"
	fieldLastName        = "lastName"
	fieldDisplayName     = "displayName"
	fieldNewPassword     = "newPassword"
	fieldNewPasswordConf = "newPasswordConfirm"
)

// Messages of invalid_form_fields answers.
const (
	msgEmailFormat     = "Email address is not formatted correctly."
	msgMobileFormat    = "Mobile number is not formatted correctly."
	msgPasswordFormat  = "Password is not formatted correctly."
	msgPasswordsDiffer = "Passwords do not match"
	msgPasswordBreach  = "This password has appeared in a data breach. Choose another."
	msgUserExists      = "An account with this email address already exists."
)

// breachedPasswords stand in for the provider's breach check: new passwords
// from this list are refused.
var breachedPasswords = []string{"password", "12345678", "123456789", "qwertyuiop", "password1", "iloveyou", "11111111"}

// phoneNumber is a loose E.164 check, after normalizeUserID.
var phoneNumber = regexp.MustCompile(`^\+?[0-9]{7,15}$`)

// profileInput is a decoded profile_fields object with its problems.
type profileInput struct {
	fields map[string]any
	params map[string]any // invalid_parameters problems
	form   map[string]any // invalid_form_fields problems
}

// str returns the string field name (trimmed), noting a non-string value.
func (p *profileInput) str(name string) (string, bool) {
	v, ok := p.fields[name]
	if !ok || v == nil {
		return "", false
	}
	sv, isStr := v.(string)
	if !isStr {
		p.params[name] = notAString
		return "", false
	}
	return strings.TrimSpace(sv), true
}

// failed answers 422 with the problems found, if any: invalid_parameters
// first, then invalid_form_fields.
func (p *profileInput) failed(w http.ResponseWriter) bool {
	switch {
	case len(p.params) > 0:
		apiInvalidParameters(w, p.params)
	case len(p.form) > 0:
		apiInvalidFormFields(w, p.form)
	default:
		return false
	}
	return true
}

// identifier reads and checks the user's email address or phone number.
func (p *profileInput) identifier(authType string) string {
	name := fieldEmail
	if authType == "sms" {
		name = fieldMobile
	}
	v, ok := p.str(name)
	switch {
	case !ok || v == "":
		if _, bad := p.params[name]; !bad {
			p.params[name] = fieldRequired
		}
		return ""
	case authType == "sms" && !phoneNumber.MatchString(normalizeUserID("sms", v)):
		p.form[name] = []string{msgMobileFormat}
	case authType == "email" && !validEmail(v):
		p.form[name] = []string{msgEmailFormat}
	}
	return v
}

// checkNewPassword applies the fake's password rules (length and the
// breach list), noting a problem under field.
func checkNewPassword(problems map[string]any, field, pw string) {
	switch {
	case len(pw) < MinPasswordLength:
		problems[field] = []string{msgPasswordFormat}
	case containsFold(breachedPasswords, pw):
		problems[field] = []string{msgPasswordBreach}
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// applyProfile copies the profile fields onto u: the ones with a User field
// there, the others into u.Profile. Passwords are never stored as profile
// fields.
func applyProfile(u *User, fields map[string]any) {
	for k, v := range fields {
		sv, _ := v.(string)
		sv = strings.TrimSpace(sv)
		switch k {
		case fieldNewPassword, fieldNewPasswordConf:
		case fieldEmail:
			u.Email = sv
		case fieldMobile:
			u.PhoneNumber = sv
		case fieldFirstName:
			u.GivenName = sv
		case fieldLastName:
			u.FamilyName = sv
		case fieldDisplayName:
			u.Name = sv
		default:
			if u.Profile == nil {
				u.Profile = map[string]any{}
			}
			u.Profile[k] = v
		}
	}
	if _, named := fields[fieldDisplayName]; !named && (u.GivenName != "" || u.FamilyName != "") {
		u.Name = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	}
}

// handleAPIRegister answers POST /idp/v1/account/register: {client_id,
// auth_type, redirect_uri, profile_fields{emailAddress or mobileNumber,
// newPassword, newPasswordConfirm, ...}, locale?}. A new user gets 200
// {"uuid"} (a Passwordless client: {"authorization_code"}) and a
// verification PIN and link in the outbox; an existing one gets the same
// 200 as the provider gives, {"message"} without uuid, and an
// "already-registered" message.
func (s *Server) handleAPIRegister(w http.ResponseWriter, r *http.Request) {
	a, c, ok := s.apiEntry(w, r)
	if !ok {
		return
	}
	authType := a.authType()
	redirectURI := a.redirectURI(c, true)
	fields := a.object("profile_fields", true)
	locale := a.str("locale", false)
	if a.failed(w) {
		return
	}
	p := &profileInput{fields: fields, params: map[string]any{}, form: map[string]any{}}
	id := p.identifier(authType)
	_, hasPw := fields[fieldNewPassword]
	_, hasConf := fields[fieldNewPasswordConf]
	var password string
	switch {
	case c.Passwordless && (hasPw || hasConf):
		p.params[fieldNewPassword+", "+fieldNewPasswordConf] = map[string]string{"unexpected_keys": "Unexpected parameters found in the request."}
	case !c.Passwordless:
		pw, _ := p.str(fieldNewPassword)
		conf, _ := p.str(fieldNewPasswordConf)
		if pw == "" {
			p.params[fieldNewPassword] = fieldRequired
		}
		if conf == "" {
			p.params[fieldNewPasswordConf] = fieldRequired
		}
		if pw != "" && conf != "" {
			if pw != conf {
				p.form[fieldNewPasswordConf] = []string{msgPasswordsDiffer}
			} else {
				checkNewPassword(p.form, fieldNewPassword, pw)
			}
		}
		password = pw
	}
	for k, v := range fields {
		if _, isStr := v.(string); !isStr && (k == fieldFirstName || k == fieldLastName || k == fieldDisplayName) {
			p.params[k] = notAString
		}
	}
	if p.failed(w) {
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if i := s.userIndexByIDLocked(authType, id); i >= 0 {
		s.sendLocked(Message{Kind: MessageAlreadyRegistered, AuthType: authType, To: id, ClientID: c.ID, UUID: s.users[i].Subject}, now)
		writeJSON(w, http.StatusOK, map[string]string{"message": "An email has been sent to the address on record"})
		return
	}
	u := User{Subject: newUUID(), Password: password, Locale: locale, UpdatedAt: now}
	applyProfile(&u, fields)
	for s.subjectTakenLocked(u.Subject) {
		u.Subject = newUUID()
	}
	s.addUserLocked(u)
	s.sendVerificationLocked(u, authType, c.ID, redirectURI, now)
	if c.Passwordless {
		code := s.issueAPICodeLocked(c.ID, u.Subject, redirectURI, defaultAPIScope, now)
		writeJSON(w, http.StatusOK, map[string]string{"authorization_code": code})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"uuid": u.Subject})
}

// sendVerificationLocked sends u a new verification PIN and link for
// authType; earlier ones stop working.
func (s *Server) sendVerificationLocked(u User, authType, clientID, redirectURI string, now time.Time) {
	code := s.setPINLocked(u.Subject, pinVerify, clientID, VerificationLifetime, now)
	lnk := s.newLinkLocked(EndpointVerifyAccount, link{
		kind: linkVerify, sub: u.Subject, authType: authType, clientID: clientID,
		redirectURI: redirectURI, expires: now.Add(VerificationLifetime),
	}, now)
	s.sendLocked(Message{
		Kind: MessageVerification, AuthType: authType, To: identifier(u, authType),
		ClientID: clientID, UUID: u.Subject, PIN: code, Link: lnk,
	}, now)
}

// handleAPIVerify answers POST /idp/v1/account/verify: {client_id,
// auth_type, user_id, code}. A wrong, expired or spent PIN, or an unknown
// user, answers 422 {"code":"invalid"} alike.
func (s *Server) handleAPIVerify(w http.ResponseWriter, r *http.Request) {
	a, _, ok := s.apiEntry(w, r)
	if !ok {
		return
	}
	authType := a.authType()
	userID := a.str("user_id", true)
	code := a.str("code", true)
	if a.failed(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	i := s.userIndexByIDLocked(authType, userID)
	if i < 0 || !s.takePINLocked(s.users[i].Subject, pinVerify, code, now) {
		apiInvalidParameters(w, map[string]any{"code": "invalid"})
		return
	}
	markVerified(&s.users[i], authType)
	writeJSON(w, http.StatusOK, map[string]string{"stat": "ok"})
}

// missingRedirectURI is the provider's answer to /forgot-password and
// /resend-verification without a redirect_uri value.
func missingRedirectURI(w http.ResponseWriter) {
	writeAPIError(w, http.StatusUnprocessableEntity, "http_exception", "missing_argument Missing Parameter: redirect_uri", jsonNull)
}

// readMessageRequest reads the body shared by /forgot-password and
// /resend-verification: {client_id, auth_type, user_id, redirect_uri,
// locale?}.
func (s *Server) readMessageRequest(w http.ResponseWriter, r *http.Request) (c Client, authType, userID, redirectURI string, ok bool) {
	a, c, ok := s.apiEntry(w, r)
	if !ok {
		return c, "", "", "", false
	}
	if strings.TrimSpace(a.str("redirect_uri", false)) == "" {
		missingRedirectURI(w)
		return c, "", "", "", false
	}
	authType = a.authType()
	userID = a.str("user_id", true)
	redirectURI = a.redirectURI(c, true)
	a.str("locale", false)
	if a.failed(w) {
		return c, "", "", "", false
	}
	return c, authType, userID, redirectURI, true
}

// handleAPIResendVerification answers POST
// /idp/v1/account/resend-verification. Whatever the user (unverified,
// verified or unknown) it answers the same 200; an unverified user gets a
// new verification PIN and link, an invitee a new activation link.
func (s *Server) handleAPIResendVerification(w http.ResponseWriter, r *http.Request) {
	c, authType, userID, redirectURI, ok := s.readMessageRequest(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if i := s.userIndexByIDLocked(authType, userID); i >= 0 {
		u := s.users[i]
		switch {
		case u.AwaitingActivation:
			s.sendInviteLocked(u, authType, c.ID, redirectURI, now)
		case !verified(u, authType):
			s.sendVerificationLocked(u, authType, c.ID, redirectURI, now)
		}
	}
	writeJSON(w, http.StatusOK, messageSent)
}

// handleVerifyLink serves the verification link: it verifies the account
// and shows a confirmation page.
func (s *Server) handleVerifyLink(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.renderMessage(w, http.StatusMethodNotAllowed, "Method not allowed", "Open the link from the message.")
		return
	}
	token := r.URL.Query().Get("token")
	s.mu.Lock()
	now := s.now()
	l, i := s.linkUserLocked(token, linkVerify, now)
	if i < 0 {
		s.mu.Unlock()
		s.renderMessage(w, http.StatusBadRequest, "Link expired", "This verification link is unknown or has expired. Ask for a new one.")
		return
	}
	delete(s.acct.links, token)
	delete(s.acct.pins, l.sub+"/"+string(pinVerify))
	markVerified(&s.users[i], l.authType)
	s.mu.Unlock()
	s.renderMessage(w, http.StatusOK, "Account verified", "Your account is verified. You can now sign in.")
}
