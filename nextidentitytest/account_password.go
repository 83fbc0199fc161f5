package nextidentitytest

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Passwords through the API: /forgot-password sends a PIN (and a link back
// to the app carrying it), /token with grant_type "pin" turns the PIN into
// tokens, /change-password sets the new password with them.

// handleAPIForgotPassword answers POST /idp/v1/account/forgot-password:
// {client_id, auth_type, user_id, redirect_uri, locale?}. It answers the
// same 200 for known and unknown users (the provider does not say; the fake
// avoids account enumeration as /resend-verification does). A known user
// gets a PIN and the link {redirect_uri}?code=PIN&user_id=ID.
func (s *Server) handleAPIForgotPassword(w http.ResponseWriter, r *http.Request) {
	c, authType, userID, redirectURI, ok := s.readMessageRequest(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if i := s.userIndexByIDLocked(authType, userID); i >= 0 {
		u := s.users[i]
		code := s.setPINLocked(u.Subject, pinReset, c.ID, ResetLifetime, now)
		to := identifier(u, authType)
		s.sendLocked(Message{
			Kind: MessageForgotPassword, AuthType: authType, To: to, ClientID: c.ID, UUID: u.Subject,
			PIN: code, Link: withQuery(redirectURI, url.Values{"code": {code}, "user_id": {to}}),
		}, now)
	}
	writeJSON(w, http.StatusOK, messageSent)
}

// withQuery adds params to rawURL's query.
func withQuery(rawURL string, params url.Values) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// bearerGrantLocked returns the live access token grant of r's
// Authorization header, or nil.
func (s *Server) bearerGrantLocked(r *http.Request, now time.Time) *grant {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil
	}
	g := s.access[token]
	if g == nil || !now.Before(g.expires) {
		return nil
	}
	return g
}

// bearerUser checks the Bearer token of a call made for a signed-in user
// and that the call's client_id is the token's client. It answers 401 or
// 403 itself and returns the user's index otherwise (s.mu held on
// success).
func (s *Server) bearerUserLocked(w http.ResponseWriter, r *http.Request, c Client, now time.Time) (int, bool) {
	g := s.bearerGrantLocked(r, now)
	if g == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		apiUnauthorized(w)
		return -1, false
	}
	if g.clientID != c.ID {
		apiForbidden(w)
		return -1, false
	}
	i := s.userIndexLocked(g.sub)
	if i < 0 {
		apiUnauthorized(w)
		return -1, false
	}
	return i, true
}

// handleAPIChangePassword answers POST /idp/v1/account/change-password with
// a Bearer access token: {client_id, password, password_confirm, locale?}
// (auth_type and user_id may be sent too; the token names the user). 200
// {"stat":"ok"}. The current-password field is not documented, so the fake
// takes none.
func (s *Server) handleAPIChangePassword(w http.ResponseWriter, r *http.Request) {
	a, c, ok := s.apiEntry(w, r)
	if !ok {
		return
	}
	pw := a.str("password", true)
	conf := a.str("password_confirm", true)
	a.str("locale", false)
	a.str("auth_type", false)
	a.str("user_id", false)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	i, ok := s.bearerUserLocked(w, r, c, now)
	if !ok || a.failed(w) {
		return
	}
	if pw != conf {
		apiInvalidFormFields(w, map[string]any{"message": msgPasswordsDiffer})
		return
	}
	problems := map[string]any{}
	checkNewPassword(problems, "password", pw)
	if len(problems) > 0 {
		apiInvalidFormFields(w, map[string]any{"message": problems["password"].([]string)[0]})
		return
	}
	s.users[i].Password = pw
	s.users[i].UpdatedAt = now
	writeJSON(w, http.StatusOK, map[string]string{"stat": "ok"})
}
