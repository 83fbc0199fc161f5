package nextidentitytest

import (
	"net/http"
	"slices"
	"strings"
)

// One-time-code sign-in: /idp/v1/otp/send sends a six-digit code,
// /idp/v1/otp/verify checks it. The provider documents the request bodies
// only; the answers are the fake's (and package account's) choice:
// {"stat":"ok"} and an {"authorization_code"} that goes to the API /token
// like a /login code. A Bearer token is not required.

// otpPlaceholder is where /otp/send's message gets the code.
const otpPlaceholder = "%code%"

// handleOTPSend answers POST /idp/v1/otp/send: {message, client_id,
// redirect_uri, user_id, auth_type, locale?}. It answers 200 whether or not
// the user exists; only a known, activated user gets a code.
func (s *Server) handleOTPSend(w http.ResponseWriter, r *http.Request) {
	a, c, ok := s.apiEntry(w, r)
	if !ok {
		return
	}
	msg := a.str("message", true)
	if msg != "" && !strings.Contains(msg, otpPlaceholder) {
		a.problems["message"] = map[string]string{"invalid": "must contain " + otpPlaceholder}
	}
	a.redirectURI(c, true)
	authType := a.authType()
	userID := a.str("user_id", true)
	a.str("locale", false)
	if a.failed(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if i := s.userIndexByIDLocked(authType, userID); i >= 0 && !s.users[i].AwaitingActivation {
		u := s.users[i]
		code := s.setPINLocked(u.Subject, pinOTP, c.ID, OTPLifetime, now)
		to := identifier(u, authType)
		s.sendLocked(Message{
			Kind: MessageOTP, AuthType: authType, To: to, ClientID: c.ID, UUID: u.Subject,
			PIN: code, Text: strings.ReplaceAll(msg, otpPlaceholder, code),
		}, now)
	}
	writeJSON(w, http.StatusOK, map[string]string{"stat": "ok"})
}

// handleOTPVerify answers POST /idp/v1/otp/verify: {code, client_id,
// user_id, auth_type, locale?}. A right code verifies the identifier and
// answers like a /login success (with the legal-acceptance note when due);
// a wrong, spent or expired one, or an unknown user, answers 422
// {"code":"invalid"}.
func (s *Server) handleOTPVerify(w http.ResponseWriter, r *http.Request) {
	a, c, ok := s.apiEntry(w, r)
	if !ok {
		return
	}
	code := a.str("code", true)
	authType := a.authType()
	userID := a.str("user_id", true)
	a.str("locale", false)
	if a.failed(w) {
		return
	}
	s.mu.Lock()
	now := s.now()
	i := s.userIndexByIDLocked(authType, userID)
	if retry, blocked := s.blockedLocked(s.userKeyLocked(i, authType, userID), now); blocked {
		s.mu.Unlock()
		apiTooManyRequests(w, retry)
		return
	}
	if i < 0 || !s.takePINLocked(s.users[i].Subject, pinOTP, code, now) {
		s.mu.Unlock()
		apiInvalidParameters(w, map[string]any{"code": "invalid"})
		return
	}
	u := &s.users[i]
	if slices.Contains(u.DeniedClients, c.ID) {
		s.mu.Unlock()
		writeAPIError(w, http.StatusForbidden, "forbidden", "The user has no access to this resource.", nil)
		return
	}
	markVerified(u, authType)
	authCode := s.issueAPICodeLocked(c.ID, u.Subject, "", defaultAPIScope, now)
	legal := u.LegalAccepted
	s.mu.Unlock()
	body := map[string]any{"authorization_code": authCode}
	if !legal {
		body["legal_acceptance_required"] = true
		body["message"] = legalNote
	}
	writeJSON(w, http.StatusOK, body)
}
