package nextidentitytest

import (
	"mime"
	"net/http"
	"strings"
	"time"
)

// The API calls made on behalf of a signed-in user with a Bearer access
// token: /profile (GET and PUT) and the JSON form of /logout.

// handleAPIProfile answers GET /idp/v1/account/profile?client_id= with
// {"profile": {...}} (the wrapper name is not documented; "profile" is the
// fake's and package account's choice) and PUT with {client_id, locale?,
// profile_fields{...}} -> 200 {"stat":"ok"}.
func (s *Server) handleAPIProfile(w http.ResponseWriter, r *http.Request) {
	if !s.checkEnv(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		c, ok := s.apiClient(w, r.URL.Query().Get("client_id"), true)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		i, ok := s.bearerUserLocked(w, r, c, s.now())
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"profile": apiProfile(s.users[i])})
	case http.MethodPut:
		s.putProfile(w, r)
	default:
		w.Header().Set("Allow", "GET, PUT")
		writeAPIError(w, http.StatusMethodNotAllowed, "http_exception", "Method Not Allowed", nil)
	}
}

// apiProfile is u as GET /profile shows it, in the API's field names.
func apiProfile(u User) map[string]any {
	p := map[string]any{}
	for k, v := range u.Profile {
		p[k] = v
	}
	str := func(k, v string) {
		if v != "" {
			p[k] = v
		}
	}
	p["uuid"] = u.Subject
	str(fieldEmail, u.Email)
	str(fieldMobile, u.PhoneNumber)
	str(fieldFirstName, u.GivenName)
	str(fieldLastName, u.FamilyName)
	str(fieldDisplayName, u.Name)
	str("locale", u.Locale)
	p["emailVerified"] = u.EmailVerified
	p["mobileNumberVerified"] = u.PhoneNumberVerified
	if u.LegalAccepted {
		p["legalAcceptedAt"] = u.LegalAcceptedAt.UTC().Format(time.RFC3339)
	}
	return p
}

func (s *Server) putProfile(w http.ResponseWriter, r *http.Request) {
	a, ok := readAPIRequest(w, r)
	if !ok {
		return
	}
	c, ok := s.apiClient(w, a.str("client_id", true), true)
	if !ok {
		return
	}
	fields := a.object("profile_fields", true)
	locale := a.str("locale", false)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	i, ok := s.bearerUserLocked(w, r, c, now)
	if !ok || a.failed(w) {
		return
	}
	u := s.users[i]
	params, form := map[string]any{}, map[string]any{}
	for k, v := range fields {
		sv, isStr := v.(string)
		switch k {
		case fieldNewPassword, fieldNewPasswordConf:
			params[k] = map[string]string{"unexpected_keys": "Unexpected parameters found in the request."}
		case fieldFirstName, fieldLastName, fieldDisplayName, fieldEmail, fieldMobile:
			switch {
			case !isStr:
				params[k] = notAString
			case strings.TrimSpace(sv) == "":
				params[k] = map[string]string{"missing": "required"}
			case k == fieldEmail && !validEmail(strings.TrimSpace(sv)):
				form[k] = []string{msgEmailFormat}
			case k == fieldMobile && !phoneNumber.MatchString(normalizeUserID("sms", sv)):
				form[k] = []string{msgMobileFormat}
			case k == fieldEmail && !strings.EqualFold(strings.TrimSpace(sv), u.Email) && s.userIndexByIDLocked("email", sv) >= 0,
				k == fieldMobile && normalizeUserID("sms", sv) != normalizeUserID("sms", u.PhoneNumber) && s.userIndexByIDLocked("sms", sv) >= 0:
				form[k] = []string{msgUserExists}
			}
		}
	}
	if (&profileInput{params: params, form: form}).failed(w) {
		return
	}
	if e, ok := fields[fieldEmail].(string); ok && !strings.EqualFold(strings.TrimSpace(e), u.Email) {
		u.EmailVerified = false // a new address must be verified again
	}
	if m, ok := fields[fieldMobile].(string); ok && normalizeUserID("sms", m) != normalizeUserID("sms", u.PhoneNumber) {
		u.PhoneNumberVerified = false
	}
	applyProfile(&u, fields)
	if locale != "" {
		u.Locale = locale
	}
	u.UpdatedAt = now
	s.users[i] = u
	writeJSON(w, http.StatusOK, map[string]string{"stat": "ok"})
}

// isJSON reports whether r's body is declared as JSON.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// handleAPILogout is /idp/v1/account/logout with a JSON body, as package
// account sends it: Bearer access token, {client_id, auth_type, user_id,
// refresh_token (unless all_sessions), all_sessions?} -> 200 {"stat":"ok"}.
// An unknown refresh token answers 422 invalid_request "unknown
// refresh_token" with error_details "invalid_argument", as the provider
// does. (A form body is the older form the root package's Revoke sends,
// see handleAccountLogout.)
func (s *Server) handleAPILogout(w http.ResponseWriter, r *http.Request) {
	a, c, ok := s.apiEntry(w, r)
	if !ok {
		return
	}
	a.authType()
	a.str("user_id", true)
	all := a.boolean("all_sessions")
	rt := a.str("refresh_token", !all)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	g := s.bearerGrantLocked(r, now)
	if g == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		apiUnauthorized(w)
		return
	}
	if g.clientID != c.ID {
		apiForbidden(w)
		return
	}
	if _, missing := a.problems["refresh_token"]; missing {
		delete(a.problems, "refresh_token")
		if len(a.problems) == 0 {
			writeAPIError(w, http.StatusUnprocessableEntity, "invalid_request", "unknown refresh_token", "invalid_argument")
			return
		}
	}
	if a.failed(w) {
		return
	}
	if rt != "" {
		rg := s.refresh[rt]
		if rg == nil || rg.sub != g.sub || rg.clientID != g.clientID {
			writeAPIError(w, http.StatusUnprocessableEntity, "invalid_request", "unknown refresh_token", "invalid_argument")
			return
		}
	}
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.logoutLocked(g.sub, token, rt, all)
	writeJSON(w, http.StatusOK, map[string]string{"stat": "ok"})
}
