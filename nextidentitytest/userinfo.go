package nextidentitytest

import (
	"net/http"
	"strings"
	"time"
)

// reservedClaims are set by the server; a User's custom Claims cannot
// replace them.
var reservedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "at_hash", "azp",
	"name", "given_name", "family_name", "email", "email_verified",
	"phone_number", "phone_number_verified", "locale", "updated_at",
}

// userClaims returns the profile claims of u (as /userinfo returns them) plus
// its custom claims. Empty string fields are omitted.
func userClaims(u User) map[string]any {
	m := make(map[string]any, len(u.Claims)+12)
	for k, v := range u.Claims {
		m[k] = v
	}
	for _, k := range reservedClaims {
		delete(m, k)
	}
	str := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	m["sub"] = u.Subject
	str("name", u.Name)
	str("given_name", u.GivenName)
	str("family_name", u.FamilyName)
	str("email", u.Email)
	m["email_verified"] = u.EmailVerified
	str("phone_number", u.PhoneNumber)
	m["phone_number_verified"] = u.PhoneNumberVerified
	str("locale", u.Locale)
	if !u.UpdatedAt.IsZero() {
		m["updated_at"] = FormatUpdatedAt(u.UpdatedAt)
	}
	return m
}

// FormatUpdatedAt formats t as the provider formats "updated_at", in UTC:
// "2021-01-07 20:44:35.176625 +0000".
func FormatUpdatedAt(t time.Time) string { return t.UTC().Format(UpdatedAtLayout) }

// handleUserInfo serves /userinfo (GET or POST with a bearer access token).
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, "GET, POST")
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest)
		return
	}
	s.mu.Lock()
	g := s.access[token]
	var (
		u  User
		ok bool
	)
	if g != nil && s.now().Before(g.expires) {
		u, ok = s.userBySubjectLocked(g.sub)
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeRawJSON(w, http.StatusUnauthorized, bodyUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, userClaims(u))
}
