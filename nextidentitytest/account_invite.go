package nextidentitytest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Invites: /pre-register creates an account awaiting activation and sends
// an activation link to the hosted activation screen (activation.go).

// PreRegisterScope is the scope a client-credentials access token needs to
// call /pre-register with Bearer instead of Basic (the provider's sample SDK
// does this; the client must have it in Client.Scopes).
const PreRegisterScope = "pre-register"

// handleAPIPreRegister answers POST /idp/v1/account/pre-register, a
// server-to-server call authenticated with HTTP Basic (client_id and
// client_secret) or a Bearer client-credentials token with scope
// PreRegisterScope. Body: {client_id, auth_type, grant_type (present, value
// not checked), redirect_uri, profile_fields{emailAddress or mobileNumber,
// ...}, locale?, resend?}. A new user is created awaiting activation: 201
// {"uuid"}; resend: true sends a new activation link and answers 201 with
// the same uuid. An existing user without resend keeps their data and gets
// access to the client: 200 {"uuid"}, or 422 invalid_form_fields with
// Options.ExistingInviteeStatus 422. Invites work whatever the client's
// Integration.
func (s *Server) handleAPIPreRegister(w http.ResponseWriter, r *http.Request) {
	if !requirePOST(w, r) || !s.checkEnv(w, r) {
		return
	}
	a, ok := readAPIRequest(w, r)
	if !ok {
		return
	}
	id := a.str("client_id", true)
	if id == "" {
		apiInvalidParameters(w, map[string]any{"client_id": fieldRequired})
		return
	}
	caller, ok := s.preRegisterCaller(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="nextidentity"`)
		apiUnauthorized(w)
		return
	}
	if caller != id {
		apiForbidden(w)
		return
	}
	c, ok := s.apiClient(w, id, false)
	if !ok {
		return
	}
	authType := a.authType()
	redirectURI := a.redirectURI(c, true)
	a.str("grant_type", true)
	fields := a.object("profile_fields", true)
	locale := a.str("locale", false)
	resend := a.boolean("resend")
	if a.failed(w) {
		return
	}
	p := &profileInput{fields: fields, params: map[string]any{}, form: map[string]any{}}
	ident := p.identifier(authType)
	delete(fields, fieldNewPassword) // invitees choose their password on the activation screen
	delete(fields, fieldNewPasswordConf)
	if p.failed(w) {
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if i := s.userIndexByIDLocked(authType, ident); i >= 0 {
		u := &s.users[i]
		if !resend && s.acct.existingInvitee == http.StatusUnprocessableEntity {
			name := fieldEmail
			if authType == "sms" {
				name = fieldMobile
			}
			apiInvalidFormFields(w, map[string]any{name: []string{msgUserExists}})
			return
		}
		u.DeniedClients = slices.DeleteFunc(u.DeniedClients, func(d string) bool { return d == c.ID })
		if !resend {
			writeJSON(w, http.StatusOK, map[string]string{"uuid": u.Subject})
			return
		}
		if u.AwaitingActivation {
			s.sendInviteLocked(*u, authType, c.ID, redirectURI, now)
		}
		writeJSON(w, http.StatusCreated, map[string]string{"uuid": u.Subject})
		return
	}
	u := User{Subject: newUUID(), Locale: locale, UpdatedAt: now, AwaitingActivation: true}
	applyProfile(&u, fields)
	for s.subjectTakenLocked(u.Subject) {
		u.Subject = newUUID()
	}
	s.addUserLocked(u)
	s.sendInviteLocked(u, authType, c.ID, redirectURI, now)
	writeJSON(w, http.StatusCreated, map[string]string{"uuid": u.Subject})
}

// preRegisterCaller authenticates the caller of /pre-register and returns
// its client ID.
func (s *Server) preRegisterCaller(r *http.Request) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, ok := r.BasicAuth(); ok {
		c, ok := s.basicClientLocked(r)
		return c.ID, ok
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	g := s.access[token]
	if g == nil || !s.now().Before(g.expires) || g.sub != g.clientID || !slices.Contains(strings.Fields(g.scope), PreRegisterScope) {
		return "", false
	}
	return g.clientID, true
}

// sendInviteLocked sends u a new activation link; an earlier one stops
// working.
func (s *Server) sendInviteLocked(u User, authType, clientID, redirectURI string, now time.Time) {
	lnk := s.newLinkLocked(EndpointActivate, link{
		kind: linkActivate, sub: u.Subject, authType: authType, clientID: clientID,
		redirectURI: redirectURI, expires: now.Add(ActivationLifetime),
	}, now)
	s.sendLocked(Message{
		Kind: MessageInvite, AuthType: authType, To: identifier(u, authType),
		ClientID: clientID, UUID: u.Subject, Link: lnk,
	}, now)
}

// basicClientLocked authenticates r's HTTP Basic credentials as a
// confidential client: the client ID and secret as they are, or
// form-URL-encoded as RFC 6749 section 2.3.1 has it for the OIDC /token.
func (s *Server) basicClientLocked(r *http.Request) (Client, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return Client{}, false
	}
	for _, dec := range []func(string) (string, error){
		func(v string) (string, error) { return v, nil },
		url.QueryUnescape,
	} {
		id, err1 := dec(user)
		secret, err2 := dec(pass)
		if err1 != nil || err2 != nil {
			continue
		}
		if c, ok := s.clients[id]; ok && c.Secret != "" && constantTimeEqual(c.Secret, secret) {
			return c, true
		}
	}
	return Client{}, false
}
