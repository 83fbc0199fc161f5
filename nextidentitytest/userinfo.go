package nextidentitytest

import (
	"net/http"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity/internal/fakecore"
)

// reservedClaims are set by the server; a User's custom Claims cannot
// replace them.
var reservedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "at_hash", "azp",
	"name", "given_name", "family_name", "email", "email_verified",
	"phone_number", "phone_number_verified", "locale", "updated_at",
}

// scopeClaims are the standard claims each scope releases (OpenID Connect
// Core section 5.4). The fake has no address data, so "address" releases
// nothing.
var scopeClaims = map[string][]string{
	"profile": {"name", "given_name", "family_name", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"phone":   {"phone_number", "phone_number_verified"},
}

// userClaims returns the claims of u that scope releases, as /userinfo
// returns them: "sub", the user's custom claims (whatever the scope), and
// the standard claims of each granted scope in scopeClaims. Empty string
// fields are omitted.
func userClaims(u User, scope string) map[string]any {
	m := make(map[string]any, len(u.Claims)+12)
	for k, v := range u.Claims {
		m[k] = v
	}
	for _, k := range reservedClaims {
		delete(m, k)
	}
	m["sub"] = u.Subject
	std := map[string]any{
		"email_verified":        u.EmailVerified,
		"phone_number_verified": u.PhoneNumberVerified,
	}
	str := func(k, v string) {
		if v != "" {
			std[k] = v
		}
	}
	str("name", u.Name)
	str("given_name", u.GivenName)
	str("family_name", u.FamilyName)
	str("email", u.Email)
	str("phone_number", u.PhoneNumber)
	str("locale", u.Locale)
	if !u.UpdatedAt.IsZero() {
		std["updated_at"] = FormatUpdatedAt(u.UpdatedAt)
	}
	for _, sc := range strings.Fields(scope) {
		for _, k := range scopeClaims[sc] {
			if v, ok := std[k]; ok {
				m[k] = v
			}
		}
	}
	return m
}

// FormatUpdatedAt formats t as the provider formats "updated_at", in UTC:
// "2021-01-07 20:44:35.176625 +0000".
func FormatUpdatedAt(t time.Time) string { return fakecore.FormatUpdatedAt(t) }

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
		u     User
		ok    bool
		scope string
	)
	if g != nil && s.now().Before(g.expires) {
		u, ok = s.userBySubjectLocked(g.sub)
		scope = g.scope
	}
	s.mu.Unlock()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeRawJSON(w, http.StatusUnauthorized, bodyUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, userClaims(u, scope))
}
