package nextidentitytest

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// The API sign-in: /login gives an authorization code, /token exchanges it
// (or a forgot-password PIN) for tokens.

// defaultAPIScope is the scope of API tokens when /login names none (the
// provider documents no default).
const defaultAPIScope = "openid profile email phone"

// legalNote is added to a /login success for a user who has not accepted
// the current legal terms. The provider documents that a note is there but
// not its field; "legal_acceptance_required" is the fake's (and package
// account's) choice.
const legalNote = "The user must accept the current legal agreements."

// handleAPILogin answers POST /idp/v1/account/login: {client_id, auth_type,
// user_id, password, redirect_uri?, scope?, locale?}.
func (s *Server) handleAPILogin(w http.ResponseWriter, r *http.Request) {
	a, c, ok := s.apiEntry(w, r)
	if !ok {
		return
	}
	authType := a.authType()
	userID := a.str("user_id", true)
	var password string
	if c.Passwordless {
		if a.has("password") {
			a.problems["password"] = map[string]string{"unexpected_keys": "Unexpected parameters found in the request."}
		}
	} else {
		password = a.str("password", true)
	}
	redirectURI := a.redirectURI(c, false)
	scope := a.str("scope", false)
	a.str("locale", false)
	if a.failed(w) {
		return
	}
	if c.Passwordless {
		// The provider sends a one-time code here; its request and answer
		// are not documented, so the fake sends clients to /otp/send.
		writeAPIError(w, http.StatusUnprocessableEntity, "invalid_request", "This client signs in with one-time codes: use /idp/v1/otp/send.", nil)
		return
	}
	if strings.TrimSpace(scope) == "" {
		scope = defaultAPIScope
	}

	s.mu.Lock()
	now := s.now()
	i := s.userIndexByIDLocked(authType, userID)
	if retry, blocked := s.blockedLocked(s.userKeyLocked(i, authType, userID), now); blocked {
		s.mu.Unlock()
		apiTooManyRequests(w, retry)
		return
	}
	if i < 0 {
		s.mu.Unlock()
		apiUnauthorized(w)
		return
	}
	u := s.users[i]
	if u.AwaitingActivation || u.Password == "" || !constantTimeEqual(u.Password, password) {
		s.mu.Unlock()
		writeAPIError(w, http.StatusUnauthorized, "http_exception", "Unauthorized", map[string]string{"message": "unauthorized"})
		return
	}
	if slices.Contains(u.DeniedClients, c.ID) {
		s.mu.Unlock()
		writeAPIError(w, http.StatusForbidden, "forbidden", "The user has no access to this resource.", nil)
		return
	}
	if !verified(u, authType) {
		s.mu.Unlock()
		writeAPIError(w, http.StatusUnprocessableEntity, "unverified_user", "unverified user account", nil)
		return
	}
	code := s.issueAPICodeLocked(c.ID, u.Subject, redirectURI, scope, now)
	s.mu.Unlock()
	body := map[string]any{"authorization_code": code}
	if !u.LegalAccepted {
		body["legal_acceptance_required"] = true
		body["message"] = legalNote
	}
	writeJSON(w, http.StatusOK, body)
}

// userKeyLocked names the account for the /token rule: the user's uuid
// when it exists, else the identifier (so unknown IDs are limited too).
func (s *Server) userKeyLocked(i int, authType, userID string) string {
	if i >= 0 {
		return "sub:" + s.users[i].Subject
	}
	return userKey(authType, userID)
}

// blockedLocked reports whether the account key is blocked by the /token
// rule, and for how much longer.
func (s *Server) blockedLocked(key string, now time.Time) (time.Duration, bool) {
	until, ok := s.acct.blocked[key]
	if !ok {
		return 0, false
	}
	if !now.Before(until) {
		delete(s.acct.blocked, key)
		return 0, false
	}
	return until.Sub(now), true
}

// tokenAttemptLocked applies the /token rule to one attempt for the
// account key: false (and the block's length) when the account is blocked
// or this attempt blocks it.
func (s *Server) tokenAttemptLocked(key string, now time.Time) (time.Duration, bool) {
	if retry, blocked := s.blockedLocked(key, now); blocked {
		return retry, false
	}
	recent := slices.DeleteFunc(s.acct.attempts[key], func(t time.Time) bool {
		return !now.Before(t.Add(TokenAttemptWindow))
	})
	recent = append(recent, now)
	if len(recent) > TokenAttemptLimit {
		delete(s.acct.attempts, key)
		s.acct.blocked[key] = now.Add(UserBlockDuration)
		return UserBlockDuration, false
	}
	s.acct.attempts[key] = recent
	return 0, true
}

// apiTokenResponse is the API /token success body. The provider documents
// token_type "bearer", access_token and refresh_token; expires_in and
// id_token are the fake's additions with their RFC 6749 and OpenID Connect
// names.
type apiTokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	IDToken      string `json:"id_token"`
}

// handleAPIToken answers POST /idp/v1/account/token: {client_id,
// grant_type ("authorization_code" or "pin"), code, redirect_uri,
// auth_type, user_id, legal_acceptances?}. For "pin" the PIN of an API
// forgot-password message goes in "code" (the provider's sample was cut
// before that field). A bad, spent, expired or foreign code answers 403, as
// the provider does (not RFC 6749's 400 invalid_grant).
func (s *Server) handleAPIToken(w http.ResponseWriter, r *http.Request) {
	a, c, ok := s.apiEntry(w, r)
	if !ok {
		return
	}
	grantType := a.str("grant_type", true)
	if grantType != "" && grantType != "authorization_code" && grantType != "pin" {
		a.problems["grant_type"] = "unsupported"
	}
	code := a.str("code", true)
	redirectURI := a.redirectURI(c, true)
	authType := a.authType()
	userID := a.str("user_id", true)
	legal := a.boolean("legal_acceptances")
	if a.failed(w) {
		return
	}

	s.mu.Lock()
	now := s.now()
	i := s.userIndexByIDLocked(authType, userID)
	if retry, ok := s.tokenAttemptLocked(s.userKeyLocked(i, authType, userID), now); !ok {
		s.mu.Unlock()
		apiTooManyRequests(w, retry)
		return
	}
	if i < 0 {
		s.mu.Unlock()
		apiForbidden(w)
		return
	}
	u := &s.users[i]
	scope := defaultAPIScope
	family := "api-pin:" + randomID()
	switch grantType {
	case "authorization_code":
		ac := s.acct.codes[code]
		if ac == nil || ac.used || ac.clientID != c.ID || ac.sub != u.Subject || !now.Before(ac.expires) ||
			(ac.redirectURI != "" && ac.redirectURI != redirectURI) {
			if ac != nil {
				ac.used = true // a failed redemption burns the code too
			}
			s.mu.Unlock()
			apiForbidden(w)
			return
		}
		ac.used = true
		scope, family = ac.scope, "api:"+code
	case "pin":
		if !s.takePINLocked(u.Subject, pinReset, code, now) {
			s.mu.Unlock()
			apiForbidden(w)
			return
		}
		// The PIN proved the user reads the address: it is verified.
		markVerified(u, authType)
	}
	if legal && !u.LegalAccepted {
		u.LegalAccepted, u.LegalAcceptedAt = true, now
	}
	g := grant{clientID: c.ID, sub: u.Subject, scope: scope, family: family, authTime: now}
	access, refresh := s.issueTokensLocked(g, now)
	user := *u
	alg := s.alg
	s.mu.Unlock()

	if alg == "HS256" && c.Secret == "" {
		alg = "RS256"
	}
	idToken, err := s.sign(alg, s.idTokenClaims(user, scope, c.ID, "", access, now, now), c.ID)
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, "http_exception", "Internal Server Error", nil)
		return
	}
	writeJSON(w, http.StatusOK, apiTokenResponse{
		AccessToken:  access,
		TokenType:    "bearer",
		RefreshToken: refresh,
		ExpiresIn:    int(AccessTokenLifetime / time.Second),
		IDToken:      idToken,
	})
}
