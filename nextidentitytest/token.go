package nextidentitytest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity/internal/fakecore"
)

// Sizes of the provider's credentials, as documented.
const (
	codeLength         = 14
	accessTokenLength  = 16
	refreshTokenLength = 20
)

// authCode is an issued authorization code and what it is bound to.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	sub         string
	scope       string
	accessType  string
	authTime    time.Time
	expires     time.Time
	used        bool
	// failure is why the first redemption failed ("" if it succeeded), so
	// that a second presentation can say why the code is spent.
	failure string
	sid     string // provider session, see backchannel.go
}

// grant is what an access or refresh token stands for. family is the
// authorization code the tokens descend from, so that replaying the code can
// revoke them.
type grant struct {
	clientID string
	sub      string
	scope    string
	family   string
	authTime time.Time
	expires  time.Time // access tokens only
	sid      string    // provider session, see backchannel.go
}

// tokenResponse is the /token success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// issueCodeLocked stores a new authorization code for ar and sub.
func (s *Server) issueCodeLocked(ar *authRequest, sub string, authTime, now time.Time) string {
	for c, ac := range s.codes { // keep used codes a while to detect replays
		if now.After(ac.expires.Add(time.Hour)) {
			delete(s.codes, c)
		}
	}
	code := randomToken(codeLength)
	for s.codes[code] != nil {
		code = randomToken(codeLength)
	}
	s.codes[code] = &authCode{
		clientID:    ar.clientID,
		redirectURI: ar.redirectURI,
		challenge:   ar.challenge,
		nonce:       ar.nonce,
		sub:         sub,
		scope:       ar.scope,
		accessType:  ar.accessType,
		authTime:    authTime,
		expires:     now.Add(CodeLifetime),
		sid:         ar.sid,
	}
	return code
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest)
		return
	}
	f := r.PostForm
	grantType := f.Get("grant_type")
	if grantType == "" {
		writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest)
		return
	}
	c, ok := s.authenticateClient(w, r, f)
	if !ok {
		return
	}
	switch grantType {
	case "authorization_code":
		s.exchangeCode(w, f, c)
	case "refresh_token":
		s.refreshTokens(w, f, c)
	case "client_credentials":
		s.clientCredentials(w, f, c)
	default:
		writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "The grant_type " + grantType + " is not supported."})
	}
}

// authenticateClient identifies and authenticates the client of a token
// request: HTTP Basic (each part form-URL-decoded, RFC 6749 section 2.3.1),
// client_secret in the body, or client_id alone for a public client. On
// failure it writes the error response and returns false.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, f url.Values) (Client, bool) {
	id, secret := f.Get("client_id"), f.Get("client_secret")
	user, pass, basic := r.BasicAuth()
	invalidClient := func(desc string) (Client, bool) {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="nextidentity"`)
		}
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", desc})
		return Client{}, false
	}
	if basic {
		if _, both := f["client_secret"]; both {
			writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest) // two authentication methods
			return Client{}, false
		}
		bid, err1 := url.QueryUnescape(user)
		bsecret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return invalidClient("The client credentials in the Authorization header are not form-URL-encoded.")
		}
		if id != "" && id != bid {
			return invalidClient("The client_id parameter does not match the authenticated client.")
		}
		id, secret = bid, bsecret
	}
	if id == "" {
		writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest)
		return Client{}, false
	}
	s.mu.Lock()
	c, ok := s.clients[id]
	s.mu.Unlock()
	switch {
	case !ok:
		return invalidClient("Client authentication failed: unknown client.")
	case c.Secret == "" && secret != "":
		return invalidClient("Client authentication failed: public clients have no secret.")
	case c.Secret != "" && secret == "":
		return invalidClient("Client authentication is required for confidential clients.")
	case c.Secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1:
		return invalidClient("Client authentication failed: wrong client secret.")
	}
	return c, true
}

func invalidGrant(w http.ResponseWriter, desc string) {
	writeJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", desc})
}

func (s *Server) exchangeCode(w http.ResponseWriter, f url.Values, c Client) {
	code, redirectURI, verifier := f.Get("code"), f.Get("redirect_uri"), f.Get("code_verifier")
	if code == "" || redirectURI == "" || verifier == "" {
		writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest)
		return
	}
	s.mu.Lock()
	now := s.now()
	ac := s.codes[code]
	if ac == nil {
		s.mu.Unlock()
		invalidGrant(w, "The authorization code is invalid.")
		return
	}
	if ac.used {
		s.revokeFamilyLocked(code)
		failure := ac.failure
		s.mu.Unlock()
		invalidGrant(w, spentCodeDescription(failure))
		return
	}
	ac.used = true // every redemption attempt burns the code
	var problem string
	switch {
	case !now.Before(ac.expires):
		problem = "The authorization code has expired."
	case ac.clientID != c.ID:
		problem = "The authorization code was issued to another client."
	case ac.redirectURI != redirectURI:
		problem = "The redirect_uri does not match the authorization request."
	case !pkceChars.MatchString(verifier) || s256(verifier) != ac.challenge:
		problem = "PKCE verification failed: the code_verifier does not match the code_challenge."
	}
	u, ok := s.userBySubjectLocked(ac.sub)
	if problem == "" && !ok {
		problem = "The user no longer exists."
	}
	if problem != "" {
		ac.failure = problem
		s.mu.Unlock()
		invalidGrant(w, problem)
		return
	}
	g := grant{clientID: c.ID, sub: ac.sub, scope: ac.scope, family: code, authTime: ac.authTime, sid: ac.sid}
	access, refresh := s.issueTokensLocked(g, now)
	if s.offlineOnly && !slices.Contains(strings.Fields(ac.scope), "offline_access") {
		delete(s.refresh, refresh)
		refresh = ""
	}
	s.mu.Unlock()
	s.writeTokens(w, c, u, g, ac.nonce, access, refresh, now)
}

// spentCodeDescription is the error_description for a code presented again.
// When the first redemption failed, it names that failure: clients such as
// golang.org/x/oauth2 retry a failed exchange with another client
// authentication style, and would otherwise only ever report "already used"
// and never the real reason.
func spentCodeDescription(firstFailure string) string {
	const used = "The authorization code has already been used."
	if firstFailure == "" {
		return used
	}
	return used + " Its first redemption failed: " + firstFailure
}

func (s *Server) refreshTokens(w http.ResponseWriter, f url.Values, c Client) {
	rt := f.Get("refresh_token")
	if rt == "" {
		writeRawJSON(w, http.StatusBadRequest, bodyInvalidRequest)
		return
	}
	s.mu.Lock()
	now := s.now()
	old := s.refresh[rt]
	if family, reused := s.rotated[rt]; old == nil && reused {
		// RFC 9700 section 4.14.2: a rotated refresh token came back, so
		// one of its holders is not the client; end the whole grant.
		s.revokeFamilyLocked(family)
		s.mu.Unlock()
		invalidGrant(w, "The refresh token was already used. Every token of its grant is revoked; sign in again.")
		return
	}
	if old == nil || old.clientID != c.ID {
		s.mu.Unlock()
		invalidGrant(w, "The refresh token is invalid.")
		return
	}
	g := *old
	if requested := f.Get("scope"); requested != "" {
		granted := strings.Fields(old.scope)
		for _, sc := range strings.Fields(requested) {
			if !slices.Contains(granted, sc) {
				s.mu.Unlock()
				writeJSON(w, http.StatusBadRequest, oauthError{"invalid_scope", "The scope " + sc + " was not granted."})
				return
			}
		}
		g.scope = requested
	}
	u, ok := s.userBySubjectLocked(g.sub)
	if !ok {
		s.mu.Unlock()
		invalidGrant(w, "The user no longer exists.")
		return
	}
	delete(s.refresh, rt) // rotation: the old refresh token is spent
	if s.rotated != nil && g.family != "" {
		if len(s.rotated) >= maxRotated {
			for t := range s.rotated { // forget one: the map stays bounded
				delete(s.rotated, t)
				break
			}
		}
		s.rotated[rt] = g.family
	}
	access, refresh := s.issueTokensLocked(g, now)
	s.mu.Unlock()
	s.writeTokens(w, c, u, g, "", access, refresh, now)
}

// issueTokensLocked stores a new access token and refresh token for g.
func (s *Server) issueTokensLocked(g grant, now time.Time) (access, refresh string) {
	for t, a := range s.access {
		if !now.Before(a.expires) {
			delete(s.access, t)
		}
	}
	access = s.newAccessTokenLocked(g, now)
	refresh = randomToken(refreshTokenLength)
	for s.refresh[refresh] != nil {
		refresh = randomToken(refreshTokenLength)
	}
	ag, rg := g, g
	ag.expires = now.Add(AccessTokenLifetime)
	rg.expires = time.Time{}
	s.access[access] = &ag
	s.refresh[refresh] = &rg
	return access, refresh
}

// maxRotated bounds how many spent refresh tokens reuse detection
// remembers.
const maxRotated = 100_000

// revokeFamilyLocked revokes every token descending from code. The spent
// refresh tokens of the family stay recorded: presented again, they are
// reuse still.
func (s *Server) revokeFamilyLocked(code string) {
	for t, g := range s.access {
		if g.family == code {
			delete(s.access, t)
		}
	}
	for t, g := range s.refresh {
		if g.family == code {
			delete(s.refresh, t)
		}
	}
}

// writeTokens signs the ID token and writes the token response.
func (s *Server) writeTokens(w http.ResponseWriter, c Client, u User, g grant, nonce, access, refresh string, now time.Time) {
	s.mu.Lock()
	alg := s.alg
	s.mu.Unlock()
	if alg == "HS256" && c.Secret == "" {
		alg = "RS256" // a public client has no secret to key HMAC with
	}
	claims := s.idTokenClaims(u, g.scope, c.ID, nonce, access, g.authTime, now)
	s.joinSession(claims, c, g.sid)
	idToken, err := s.sign(alg, claims, c.ID)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, oauthError{"server_error", err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int(AccessTokenLifetime / time.Second),
		IDToken:      idToken,
		RefreshToken: refresh,
		Scope:        g.scope,
	})
}

// idTokenClaims builds the ID token claims for u issued to clientID.
// Like /userinfo, it carries only the claims scope releases.
func (s *Server) idTokenClaims(u User, scope, clientID, nonce, accessToken string, authTime, now time.Time) map[string]any {
	m := userClaims(u, scope)
	m["iss"] = s.issuer
	m["aud"] = clientID
	m["iat"] = now.Unix()
	m["exp"] = now.Add(s.idLifetime).Unix()
	m["auth_time"] = authTime.Unix()
	if nonce != "" {
		m["nonce"] = nonce
	}
	if accessToken != "" {
		m["at_hash"] = fakecore.AtHash(accessToken)
	}
	return m
}

// s256 is the PKCE S256 transformation of a code verifier.
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
