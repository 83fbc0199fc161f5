package nextidentitytest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity/internal/fakecore"
)

// This file is the shared part of the API integration: JSON endpoints under
// /idp/v1/account (and /idp/v1/otp, /idp/v1/applications) for applications
// that draw their own screens. The shapes follow the provider's API pages;
// where they document nothing, the fake makes the choice written on each
// handler, the same one package account makes.

// Endpoints of the API integration and of the hosted screens it relies on.
const (
	EndpointAccountLogin              Endpoint = fakecore.PathAccount + "/login"
	EndpointAccountToken              Endpoint = fakecore.PathAccount + "/token"
	EndpointAccountRegister           Endpoint = fakecore.PathAccount + "/register"
	EndpointAccountResendVerification Endpoint = fakecore.PathAccount + "/resend-verification"
	EndpointAccountForgotPassword     Endpoint = fakecore.PathAccount + "/forgot-password"
	EndpointAccountChangePassword     Endpoint = fakecore.PathAccount + "/change-password"
	EndpointAccountPreRegister        Endpoint = fakecore.PathAccount + "/pre-register"
	EndpointAccountProfile            Endpoint = fakecore.PathAccount + "/profile"
	// EndpointAccountVerify checks a verification PIN: {client_id,
	// auth_type, user_id, code} -> 200 {"stat":"ok"}. The provider does not
	// document how an app submits the PIN; this is the fake's (and package
	// account's) assumption.
	EndpointAccountVerify Endpoint = fakecore.PathAccount + "/verify"
	// EndpointOTPSend and EndpointOTPVerify are the one-time-code sign-in.
	EndpointOTPSend   Endpoint = fakecore.PathOTP + "/send"
	EndpointOTPVerify Endpoint = fakecore.PathOTP + "/verify"
	// EndpointAdoptRegister is the Adopt API's client registration.
	EndpointAdoptRegister Endpoint = fakecore.PathAdoptRegister
	// EndpointActivate is the hosted activation screen an invite links to
	// (?token=...).
	EndpointActivate Endpoint = fakecore.PathActivate
	// EndpointForgotPassword is the hosted forgot-password journey.
	EndpointForgotPassword Endpoint = fakecore.PathForgotPassword
	// EndpointResetPassword is the hosted "choose a new password" screen a
	// hosted forgot-password message links to (?token=...).
	EndpointResetPassword Endpoint = fakecore.PathResetPassword
	// EndpointVerifyAccount is the verification link of a verification
	// message (?token=...): opening it verifies the account.
	EndpointVerifyAccount Endpoint = fakecore.PathVerifyAccount
)

// endpointAPIUnknown catches every other path under /idp/: the provider
// answers 503 "Backend action does not exist" (for example for a wrong API
// version).
const endpointAPIUnknown Endpoint = "/idp/"

// Integration types for Client.Integration.
const (
	IntegrationHosted = "hosted"
	IntegrationAPI    = "api"
	IntegrationBoth   = "both"
)

// Rules and lifetimes of the API integration. The /token rule is the
// provider's; the lifetimes are the fake's choices (the provider documents
// none).
const (
	// TokenAttemptLimit and TokenAttemptWindow are the API /token rule: the
	// attempt (successful or not) that makes more than TokenAttemptLimit
	// for one user within TokenAttemptWindow answers 429 and blocks the
	// user account for UserBlockDuration on the server's clock. The
	// provider says "five attempts within a minute answer 429"; the fake
	// reads that as five allowed, the sixth refused.
	TokenAttemptLimit  = 5
	TokenAttemptWindow = time.Minute
	// UserBlockDuration is how long a blocked account stays blocked: its
	// API /token and /login calls answer 429 until then.
	UserBlockDuration = 5 * time.Minute
	// APICodeLifetime is how long an API authorization code (from /login,
	// /otp/verify or a passwordless /register) can be redeemed.
	APICodeLifetime = CodeLifetime
	// VerificationLifetime bounds a verification PIN or link.
	VerificationLifetime = 24 * time.Hour
	// ResetLifetime bounds a forgot-password PIN or link.
	ResetLifetime = time.Hour
	// ActivationLifetime bounds an invite's activation link.
	ActivationLifetime = 7 * 24 * time.Hour
	// OTPLifetime bounds a one-time sign-in code.
	OTPLifetime = 5 * time.Minute
	// MinPasswordLength is the shortest password the fake accepts for a new
	// or changed password ("Password is not formatted correctly.").
	MinPasswordLength = 8
)

// apiCode is an API authorization code and what it is bound to.
type apiCode struct {
	clientID    string
	sub         string
	redirectURI string // "" when /login had none
	scope       string
	expires     time.Time
	used        bool
}

// pinPurpose tells apart the one-time codes a user may hold at once.
type pinPurpose string

const (
	pinVerify pinPurpose = "verify"
	pinReset  pinPurpose = "reset"
	pinOTP    pinPurpose = "otp"
)

// pin is an outstanding one-time code; only a user's latest per purpose
// counts.
type pin struct {
	code     string
	clientID string
	expires  time.Time
}

// linkKind tells apart the one-time links the fake sends.
type linkKind string

const (
	linkVerify   linkKind = "verify"
	linkActivate linkKind = "activate"
	linkReset    linkKind = "reset"
)

// link is an outstanding one-time link token.
type link struct {
	kind        linkKind
	sub         string
	authType    string
	clientID    string
	redirectURI string
	expires     time.Time
	reset       *resetRequest // linkReset: the hosted journey it continues
}

// accountState is the server's API-integration state, guarded by s.mu.
type accountState struct {
	envID           string
	existingInvitee int
	codes           map[string]*apiCode
	pins            map[string]*pin // key: sub + "/" + purpose
	links           map[string]*link
	resets          map[string]*resetRequest // hosted forgot-password requests, see forgotpassword.go
	attempts        map[string][]time.Time   // API /token attempts per user
	blocked         map[string]time.Time     // user -> end of the block
	calls           map[string][]time.Time   // API calls per client, for Client.RateLimit
	rateLimits      map[string]int           // SetRateLimit overrides
	outbox          []Message                // see outbox.go
}

func newAccountState(opts Options) accountState {
	switch opts.ExistingInviteeStatus {
	case 0, http.StatusOK, http.StatusUnprocessableEntity:
	default:
		panic(fmt.Sprintf("nextidentitytest: ExistingInviteeStatus %d: want 200 or 422", opts.ExistingInviteeStatus))
	}
	return accountState{
		envID:           opts.EnvID,
		existingInvitee: opts.ExistingInviteeStatus,
		codes:           map[string]*apiCode{},
		pins:            map[string]*pin{},
		links:           map[string]*link{},
		resets:          map[string]*resetRequest{},
		attempts:        map[string][]time.Time{},
		blocked:         map[string]time.Time{},
		calls:           map[string][]time.Time{},
		rateLimits:      map[string]int{},
	}
}

// checkAccountClient panics on a client with invalid API settings.
func checkAccountClient(c Client) {
	switch c.Integration {
	case "", IntegrationHosted, IntegrationAPI, IntegrationBoth:
	default:
		panic(fmt.Sprintf("nextidentitytest: client %q has unknown Integration %q (want %q, %q or %q)",
			c.ID, c.Integration, IntegrationHosted, IntegrationAPI, IntegrationBoth))
	}
	if c.RateLimit < 0 {
		panic(fmt.Sprintf("nextidentitytest: client %q has a negative RateLimit", c.ID))
	}
}

// hostedAllowed reports whether c may use the hosted journeys.
func hostedAllowed(c Client) bool { return c.Integration != IntegrationAPI }

// SetRateLimit sets the API rate limit of the client clientID, in requests
// per minute (see Client.RateLimit); zero removes it. It panics if no such
// client is registered.
func (s *Server) SetRateLimit(clientID string, perMinute int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[clientID]; !ok {
		panic(fmt.Sprintf("nextidentitytest: no client %q", clientID))
	}
	s.acct.rateLimits[clientID] = max(perMinute, 0)
	delete(s.acct.calls, clientID)
}

func (s *Server) routeAccount(mux *http.ServeMux) {
	s.route(mux, EndpointAccountLogin, s.handleAPILogin)
	s.route(mux, EndpointAccountToken, s.handleAPIToken)
	s.route(mux, EndpointAccountRegister, s.handleAPIRegister)
	s.route(mux, EndpointAccountVerify, s.handleAPIVerify)
	s.route(mux, EndpointAccountResendVerification, s.handleAPIResendVerification)
	s.route(mux, EndpointAccountForgotPassword, s.handleAPIForgotPassword)
	s.route(mux, EndpointAccountChangePassword, s.handleAPIChangePassword)
	s.route(mux, EndpointAccountPreRegister, s.handleAPIPreRegister)
	s.route(mux, EndpointAccountProfile, s.handleAPIProfile)
	s.route(mux, EndpointOTPSend, s.handleOTPSend)
	s.route(mux, EndpointOTPVerify, s.handleOTPVerify)
	s.route(mux, EndpointAdoptRegister, s.handleAdoptRegister)
	s.route(mux, EndpointVerifyAccount, s.handleVerifyLink)
	s.route(mux, EndpointActivate, s.handleActivate)
	s.route(mux, EndpointForgotPassword, s.handleForgotPassword)
	s.route(mux, EndpointResetPassword, s.handleResetPassword)
	s.route(mux, endpointAPIUnknown, func(w http.ResponseWriter, _ *http.Request) {
		writeAPIError(w, http.StatusServiceUnavailable, "http_exception", "Backend action does not exist", nil)
	})
}

// apiError is the provider's API error envelope. Details is left out when
// nil; jsonNull writes an explicit null.
type apiError struct {
	Error       string          `json:"error"`
	Description string          `json:"error_description,omitempty"`
	Details     json.RawMessage `json:"error_details,omitempty"`
}

// jsonNull as details writes "error_details": null.
var jsonNull = json.RawMessage("null")

// writeAPIError writes the error envelope. details is any JSON value, nil
// to leave it out, or jsonNull.
func writeAPIError(w http.ResponseWriter, status int, code, description string, details any) {
	e := apiError{Error: code, Description: description}
	switch d := details.(type) {
	case nil:
	case json.RawMessage:
		e.Details = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			panic("nextidentitytest: error details: " + err.Error())
		}
		e.Details = b
	}
	writeJSON(w, status, e)
}

// The API's recurring answers.
func apiForbidden(w http.ResponseWriter) {
	writeAPIError(w, http.StatusForbidden, "http_exception", "Forbidden", nil)
}

func apiUnauthorized(w http.ResponseWriter) {
	writeAPIError(w, http.StatusUnauthorized, "http_exception", "Unauthorized", nil)
}

func apiInvalidParameters(w http.ResponseWriter, details map[string]any) {
	writeAPIError(w, http.StatusUnprocessableEntity, "invalid_parameters", "", details)
}

func apiInvalidFormFields(w http.ResponseWriter, details map[string]any) {
	writeAPIError(w, http.StatusUnprocessableEntity, "invalid_form_fields", "some inputs are invalid", details)
}

func apiTooManyRequests(w http.ResponseWriter, retry time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
	writeAPIError(w, http.StatusTooManyRequests, "too_many_requests", "Too many requests", nil)
}

// messageSent is the body of the calls that answer the same for known and
// unknown users.
var messageSent = map[string]string{"message": "An email has been sent to the address on record."}

// Field problems, as the provider words them.
const fieldRequired = "field required"

var (
	invalidValue    = map[string]string{"invalid": "invalid value"}
	invalidAuthType = map[string]string{"invalid": "unsupported auth_type value"}
	notAString      = map[string]string{"invalid": "must be a string"}
	notABoolean     = map[string]string{"invalid": "must be a boolean"}
	notAnObject     = map[string]string{"invalid": "must be an object"}
)

// apiRequest is a decoded JSON request body with the field problems found
// while reading it.
type apiRequest struct {
	fields   map[string]json.RawMessage
	problems map[string]any
}

// readAPIRequest reads r's JSON object body (bounded by maxFormBytes). A
// body that is not a JSON object answers 400 "Invalid json format", the
// provider's answer, and returns false.
func readAPIRequest(w http.ResponseWriter, r *http.Request) (*apiRequest, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	var fields map[string]json.RawMessage
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		err = dec.Decode(&fields)
		if err == nil && dec.More() {
			err = fmt.Errorf("trailing data")
		}
	}
	if err != nil || fields == nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_parameters", "Invalid json format", nil)
		return nil, false
	}
	return &apiRequest{fields: fields, problems: map[string]any{}}, true
}

// has reports whether the body has the member name, null or not.
func (a *apiRequest) has(name string) bool {
	_, ok := a.fields[name]
	return ok
}

// str returns the string member name; a missing or empty one is a problem
// when required, a non-string one always.
func (a *apiRequest) str(name string, required bool) string {
	raw, ok := a.fields[name]
	if !ok || string(raw) == "null" {
		if required {
			a.problems[name] = fieldRequired
		}
		return ""
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		a.problems[name] = notAString
		return ""
	}
	if required && strings.TrimSpace(v) == "" {
		a.problems[name] = fieldRequired
	}
	return v
}

// boolean returns the boolean member name (false when absent). The
// provider's samples send some booleans as strings, so "true" and "false"
// are accepted too.
func (a *apiRequest) boolean(name string) bool {
	raw, ok := a.fields[name]
	if !ok || string(raw) == "null" {
		return false
	}
	var v any
	_ = json.Unmarshal(raw, &v)
	switch v {
	case true, "true":
		return true
	case false, "false":
		return false
	}
	a.problems[name] = notABoolean
	return false
}

// object returns the object member name.
func (a *apiRequest) object(name string, required bool) map[string]any {
	raw, ok := a.fields[name]
	if !ok || string(raw) == "null" {
		if required {
			a.problems[name] = fieldRequired
		}
		return nil
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		a.problems[name] = notAnObject
		return nil
	}
	return v
}

// authType returns the auth_type member, "email" or "sms".
func (a *apiRequest) authType() string {
	t := a.str("auth_type", true)
	if t != "" && t != "email" && t != "sms" {
		a.problems["auth_type"] = invalidAuthType
		return ""
	}
	return t
}

// redirectURI returns the redirect_uri member, which must be one of c's
// redirect URIs when present.
func (a *apiRequest) redirectURI(c Client, required bool) string {
	v := a.str("redirect_uri", required)
	if v != "" && !redirectURIAllowed(c.RedirectURIs, v) {
		a.problems["redirect_uri"] = invalidValue
		return ""
	}
	return v
}

// failed answers 422 invalid_parameters with the problems found, if any.
func (a *apiRequest) failed(w http.ResponseWriter) bool {
	if len(a.problems) == 0 {
		return false
	}
	apiInvalidParameters(w, a.problems)
	return true
}

// requirePOST answers 405 for any other method.
func requirePOST(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	writeAPIError(w, http.StatusMethodNotAllowed, "http_exception", "Method Not Allowed", nil)
	return false
}

// checkEnv answers 400 invalid_domain when the server expects an env_id
// and r names another one.
func (s *Server) checkEnv(w http.ResponseWriter, r *http.Request) bool {
	got, sent := r.URL.Query()["env_id"]
	if s.acct.envID == "" || !sent || (len(got) == 1 && got[0] == s.acct.envID) {
		return true
	}
	writeAPIError(w, http.StatusBadRequest, "invalid_domain", "Invalid API usage", nil)
	return false
}

// apiEntry reads a POSTed API request and identifies its client: env_id,
// the JSON body, client_id (422 when missing, 403 when unknown), the
// client's integration type (403 forbidden for a hosted-only client) and
// its rate limit (429). On failure it has answered and returns false.
func (s *Server) apiEntry(w http.ResponseWriter, r *http.Request) (*apiRequest, Client, bool) {
	if !requirePOST(w, r) || !s.checkEnv(w, r) {
		return nil, Client{}, false
	}
	a, ok := readAPIRequest(w, r)
	if !ok {
		return nil, Client{}, false
	}
	c, ok := s.apiClient(w, a.str("client_id", true), true)
	return a, c, ok
}

// apiClient looks up the client of an API call (see apiEntry); apiOnly
// false skips the integration-type check (invites).
func (s *Server) apiClient(w http.ResponseWriter, id string, apiOnly bool) (Client, bool) {
	if strings.TrimSpace(id) == "" {
		apiInvalidParameters(w, map[string]any{"client_id": fieldRequired})
		return Client{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		apiForbidden(w)
		return Client{}, false
	}
	if apiOnly && c.Integration == IntegrationHosted {
		writeAPIError(w, http.StatusForbidden, "forbidden", "The client is not configured for the API integration.", nil)
		return Client{}, false
	}
	if retry, ok := s.allowCallLocked(c, s.now()); !ok {
		apiTooManyRequests(w, retry)
		return Client{}, false
	}
	return c, true
}

// allowCallLocked applies the client's rate limit: a sliding one-minute
// window of accepted calls.
func (s *Server) allowCallLocked(c Client, now time.Time) (time.Duration, bool) {
	limit, set := s.acct.rateLimits[c.ID]
	if !set {
		limit = c.RateLimit
	}
	if limit <= 0 {
		return 0, true
	}
	calls := slices.DeleteFunc(s.acct.calls[c.ID], func(t time.Time) bool { return !now.Before(t.Add(time.Minute)) })
	if len(calls) >= limit {
		s.acct.calls[c.ID] = calls
		return calls[0].Add(time.Minute).Sub(now), false
	}
	s.acct.calls[c.ID] = append(calls, now)
	return 0, true
}

// userKey names the account a user_id designates for the /token rule, known
// or not.
func userKey(authType, userID string) string {
	return authType + ":" + normalizeUserID(authType, userID)
}

// normalizeUserID is the form in which user IDs are compared: email
// addresses case-insensitively, phone numbers without spaces, dashes, dots
// and parentheses.
func normalizeUserID(authType, id string) string {
	id = strings.TrimSpace(id)
	if authType == "sms" {
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(" -.()", r) {
				return -1
			}
			return r
		}, id)
	}
	return strings.ToLower(id)
}

// userIndexByIDLocked finds the user whose email (auth_type email) or
// phone number (sms) is userID.
func (s *Server) userIndexByIDLocked(authType, userID string) int {
	want := normalizeUserID(authType, userID)
	if want == "" {
		return -1
	}
	for i, u := range s.users {
		have := u.Email
		if authType == "sms" {
			have = u.PhoneNumber
		}
		if have != "" && normalizeUserID(authType, have) == want {
			return i
		}
	}
	return -1
}

// verified reports whether u's identifier for authType is verified.
func verified(u User, authType string) bool {
	if authType == "sms" {
		return u.PhoneNumberVerified
	}
	return u.EmailVerified
}

// markVerified verifies u's identifier for authType.
func markVerified(u *User, authType string) {
	if authType == "sms" {
		u.PhoneNumberVerified = true
	} else {
		u.EmailVerified = true
	}
}

// identifier is u's address for authType.
func identifier(u User, authType string) string {
	if authType == "sms" {
		return u.PhoneNumber
	}
	return u.Email
}

// issueAPICodeLocked stores a new API authorization code.
func (s *Server) issueAPICodeLocked(clientID, sub, redirectURI, scope string, now time.Time) string {
	for c, ac := range s.acct.codes {
		if now.After(ac.expires.Add(time.Hour)) {
			delete(s.acct.codes, c)
		}
	}
	code := randomToken(codeLength)
	for s.acct.codes[code] != nil {
		code = randomToken(codeLength)
	}
	s.acct.codes[code] = &apiCode{clientID: clientID, sub: sub, redirectURI: redirectURI, scope: scope, expires: now.Add(APICodeLifetime)}
	return code
}

// constantTimeEqual compares secrets without leaking where they differ.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
