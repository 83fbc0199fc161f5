package nextidentitytest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// This file is the provider's Token Service: the client credentials grant,
// opaque or JWT access tokens, introspection, revocation and the account
// logout API. The provider documents these without their formats, so the
// fake follows RFC 6749 section 4.4, RFC 9068, RFC 7662 and RFC 7009.

// Token Service endpoints, listed in discovery ("introspection_endpoint",
// "revocation_endpoint"; the account logout API is not a discovery member).
const (
	EndpointIntrospect Endpoint = "/introspect"
	// EndpointRevoke is the RFC 7009 revocation endpoint; the provider
	// revokes opaque tokens at /logout.
	EndpointRevoke Endpoint = "/logout"
	// EndpointAccountLogout is the account logout API: a bearer access
	// token, "refresh_token" in the form body, "all_sessions=true" to end
	// every session and token of the user.
	EndpointAccountLogout Endpoint = "/idp/v1/account/logout"
)

// Access token formats for Client.AccessTokenFormat.
const (
	AccessTokenOpaque = "opaque"
	AccessTokenJWT    = "jwt"
)

// DefaultAccessTokenAudience is the "aud" of JWT access tokens when
// Options.AccessTokenAudience is empty.
const DefaultAccessTokenAudience = "https://api.example.com"

// jtiLength is the length of a JWT access token's "jti".
const jtiLength = 16

// newAccessTokenLocked mints the access token of g: an opaque random string,
// or for a client whose AccessTokenFormat is "jwt" an RFC 9068 JWT signed
// with the current RSA key (EC key when the server signs with ES256).
func (s *Server) newAccessTokenLocked(g grant, now time.Time) string {
	if s.clients[g.clientID].AccessTokenFormat != AccessTokenJWT {
		access := randomToken(accessTokenLength)
		for s.access[access] != nil {
			access = randomToken(accessTokenLength)
		}
		return access
	}
	claims := jwt.MapClaims{
		"iss":       s.issuer,
		"sub":       g.sub,
		"aud":       s.atAudience,
		"client_id": g.clientID,
		"iat":       now.Unix(),
		"exp":       now.Add(AccessTokenLifetime).Unix(),
		"jti":       randomToken(jtiLength),
	}
	if g.scope != "" {
		claims["scope"] = g.scope
	}
	if !g.authTime.IsZero() {
		claims["auth_time"] = g.authTime.Unix()
	}
	var tok *jwt.Token
	var key any
	if s.alg == "ES256" {
		k := s.ecKeys[len(s.ecKeys)-1]
		tok, key = jwt.NewWithClaims(jwt.SigningMethodES256, claims), k.key
		tok.Header["kid"] = k.kid
	} else {
		k := s.rsaKeys[len(s.rsaKeys)-1]
		tok, key = jwt.NewWithClaims(jwt.SigningMethodRS256, claims), k.key
		tok.Header["kid"] = k.kid
	}
	tok.Header["typ"] = "at+jwt"
	raw, err := tok.SignedString(key)
	if err != nil {
		panic("nextidentitytest: signing an access token: " + err.Error())
	}
	return raw
}

// clientCredentials answers grant_type=client_credentials: a confidential
// client gets an access token (no refresh token, no ID token) for the
// requested scopes, which must all be among Client.Scopes; none requested
// means all of them.
func (s *Server) clientCredentials(w http.ResponseWriter, f url.Values, c Client) {
	if c.Secret == "" {
		writeJSON(w, http.StatusBadRequest, oauthError{"unauthorized_client", "Public clients cannot use the client credentials grant."})
		return
	}
	if len(c.Scopes) == 0 {
		writeJSON(w, http.StatusBadRequest, oauthError{"unauthorized_client", "The client has no scopes for the client credentials grant."})
		return
	}
	scopes := strings.Fields(f.Get("scope"))
	if len(scopes) == 0 {
		scopes = c.Scopes
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_scope", "The scope " + sc + " is not allowed for this client."})
			return
		}
	}
	s.mu.Lock()
	now := s.now()
	g := grant{clientID: c.ID, sub: c.ID, scope: strings.Join(scopes, " ")}
	access := s.newAccessTokenLocked(g, now)
	g.expires = now.Add(AccessTokenLifetime)
	s.access[access] = &g
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int(AccessTokenLifetime / time.Second),
		"scope":        g.scope,
	})
}

// serviceClient authenticates the confidential client of an introspection
// or revocation request; public clients are refused.
func (s *Server) serviceClient(w http.ResponseWriter, r *http.Request) (url.Values, Client, bool) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return nil, Client{}, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest)
		return nil, Client{}, false
	}
	c, ok := s.authenticateClient(w, r, r.PostForm)
	if !ok {
		return nil, Client{}, false
	}
	if c.Secret == "" {
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", "Client authentication is required."})
		return nil, Client{}, false
	}
	if r.PostForm.Get("token") == "" {
		writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest)
		return nil, Client{}, false
	}
	return r.PostForm, c, true
}

// handleIntrospect answers RFC 7662 introspection requests for access and
// refresh tokens. Any authenticated confidential client may introspect any
// access token (a resource server introspects tokens issued to other
// clients).
//
// The lookup starts with the type token_type_hint names and, when that
// misses, extends to the other type, as RFC 7662 section 2.1 requires. A
// refresh token, though, is a credential between the provider and the one
// client it was issued to, never a bearer token for an API: it is reported
// active only to that client, and only when the caller does not say it
// holds an access token (token_type_hint=access_token, which is what a
// resource server checking a bearer token sends). Anyone else hears
// "active": false, the answer RFC 7662 section 2.2 prescribes for a token
// the caller is not allowed to introspect, so a resource server never
// learns that a refresh token is active.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	f, caller, ok := s.serviceClient(w, r)
	if !ok {
		return
	}
	token, hint := f.Get("token"), f.Get("token_type_hint")
	s.mu.Lock()
	now := s.now()
	g, kind := s.access[token], "access_token"
	if hint == "refresh_token" && s.refresh[token] != nil || g == nil {
		g, kind = s.refresh[token], "refresh_token"
	}
	if kind == "refresh_token" && g != nil && (g.clientID != caller.ID || hint == "access_token") {
		g = nil
	}
	active := g != nil && (g.expires.IsZero() || now.Before(g.expires))
	var u User
	if active {
		u, _ = s.userBySubjectLocked(g.sub)
	}
	s.mu.Unlock()
	if !active {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	resp := map[string]any{
		"active":     true,
		"iss":        s.issuer,
		"sub":        g.sub,
		"client_id":  g.clientID,
		"token_type": "Bearer",
		"scope":      g.scope,
	}
	if !g.authTime.IsZero() {
		resp["auth_time"] = g.authTime.Unix()
	}
	if kind == "access_token" {
		resp["aud"] = s.atAudience
		resp["exp"] = g.expires.Unix()
		resp["iat"] = g.expires.Add(-AccessTokenLifetime).Unix()
	} else {
		resp["token_type"] = "refresh_token"
	}
	if u.Email != "" {
		resp["username"] = u.Email
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleRevoke is the RFC 7009 revocation endpoint. A client revokes only
// its own tokens; revoking a refresh token also revokes the access tokens
// of the same authorization. It answers 200 for unknown tokens too.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	f, c, ok := s.serviceClient(w, r)
	if !ok {
		return
	}
	token := f.Get("token")
	s.mu.Lock()
	if g := s.refresh[token]; g != nil && g.clientID == c.ID {
		delete(s.refresh, token)
		if g.family != "" {
			s.revokeFamilyLocked(g.family)
		}
	}
	if g := s.access[token]; g != nil && g.clientID == c.ID {
		delete(s.access, token)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{})
}

// handleAccountLogout is the account logout API: the bearer access token
// and the "refresh_token" of the form are revoked; with all_sessions=true
// every token and browser session of the user ends. A JSON body is the
// API integration's form of the call (handleAPILogout).
func (s *Server) handleAccountLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	if isJSON(r) {
		s.handleAPILogout(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest)
		return
	}
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.bearerGrantLocked(r, s.now())
	if g == nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeRawJSON(w, http.StatusUnauthorized, bodyUnauthorized)
		return
	}
	s.logoutLocked(g.sub, token, r.PostForm.Get("refresh_token"), r.PostForm.Get("all_sessions") == "true")
	writeJSON(w, http.StatusOK, map[string]any{"stat": "ok"})
}

// logoutLocked revokes the access token, the refresh token rt when it
// belongs to the same user and client, and with all every token and
// browser session of the user.
func (s *Server) logoutLocked(sub, token, rt string, all bool) {
	g := s.access[token]
	delete(s.access, token)
	if rg := s.refresh[rt]; rt != "" && rg != nil && g != nil && rg.sub == g.sub && rg.clientID == g.clientID {
		delete(s.refresh, rt)
	}
	if !all {
		return
	}
	for t, o := range s.access {
		if o.sub == sub {
			delete(s.access, t)
		}
	}
	for t, o := range s.refresh {
		if o.sub == sub {
			delete(s.refresh, t)
		}
	}
	for id, se := range s.sessions {
		if se.sub == sub {
			delete(s.sessions, id)
		}
	}
}
