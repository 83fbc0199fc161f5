package nextidentity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Errors reported by the provider. Every *Error matches ErrProvider with
// errors.Is, and the specific sentinel its error code names.
var (
	// ErrProvider is matched by every *Error: the provider said no (an error
	// body, an error status, an error redirect, or a response the client
	// could not read).
	ErrProvider = errors.New("nextidentity: provider error")
	// ErrUnauthorized: HTTP 401, or the provider's "http_exception" or
	// "invalid_token" error.
	ErrUnauthorized = errors.New("nextidentity: unauthorized")
	// ErrInvalidRequest: the provider's "invalid_request" error. The client's
	// own checks never return it.
	ErrInvalidRequest = errors.New("nextidentity: invalid request")
	// ErrInvalidGrant: the code or refresh token is invalid, expired or reused.
	ErrInvalidGrant = errors.New("nextidentity: invalid grant")
	// ErrInvalidClient: client authentication failed.
	ErrInvalidClient = errors.New("nextidentity: invalid client")
	// ErrAccessDenied: the user or the provider refused the authorization.
	ErrAccessDenied = errors.New("nextidentity: access denied")
	// ErrLoginRequired: prompt=none was sent and the user has no session.
	ErrLoginRequired = errors.New("nextidentity: login required")
)

// Umbrellas for the client's own checks. A caller tells "a token failed
// verification", "the callback is not this browser's" and "the configuration
// is wrong" apart with one errors.Is each; the specific check sentinels below
// are wrapped under the umbrella of what failed.
var (
	// ErrInvalidIDToken is wrapped by every ID token rejection, with the
	// specific check (ErrTokenExpired, ErrInvalidSignature, ...) where one
	// applies.
	ErrInvalidIDToken = errors.New("nextidentity: invalid id_token")
	// ErrInvalidCallback is wrapped by every rejection of the authorization
	// response's parameters (ErrStateMismatch, ErrMissingCode, and
	// ErrIssuerMismatch for its "iss"): the callback is not the answer to
	// this browser's request.
	ErrInvalidCallback = errors.New("nextidentity: invalid callback")
	// ErrInvalidConfig: a Config field is missing or invalid, or the
	// discovery document's issuer differs from Config.Issuer
	// (ErrIssuerMismatch is wrapped too).
	ErrInvalidConfig = errors.New("nextidentity: invalid config")
)

// Specific checks, each wrapped under an umbrella above.
var (
	// ErrAuthTooOld: a sign-in sent max_age (WithMaxAge) and the ID token's
	// "auth_time" is missing or older than that (beyond the leeway): the
	// provider did not make the user authenticate again. Wrapped under
	// ErrInvalidIDToken.
	ErrAuthTooOld = errors.New("nextidentity: authentication older than max_age")
	// ErrTokenExpired: "exp" is in the past (beyond the leeway).
	ErrTokenExpired = errors.New("nextidentity: token expired")
	// ErrInvalidSignature: the signature does not verify, no key fits, or the
	// "alg" is refused.
	ErrInvalidSignature = errors.New("nextidentity: invalid signature")
	// ErrIssuerMismatch: an issuer differs from Config.Issuer: a token's
	// "iss" claim (under the token's umbrella), the callback's "iss"
	// parameter (under ErrInvalidCallback) or the discovery document's
	// issuer (under ErrInvalidConfig).
	ErrIssuerMismatch = errors.New("nextidentity: issuer mismatch")
	// ErrAudienceMismatch: "aud" lacks the client id, or "azp" is wrong or
	// missing where required.
	ErrAudienceMismatch = errors.New("nextidentity: audience mismatch")
	// ErrNonceMismatch: the "nonce" claim differs from the one sent.
	ErrNonceMismatch = errors.New("nextidentity: nonce mismatch")
	// ErrSubjectMismatch: a refreshed ID token (under ErrInvalidIDToken) or
	// a userinfo response names another subject than the ID token the
	// session started with.
	ErrSubjectMismatch = errors.New("nextidentity: subject mismatch")
	// ErrStateMismatch: the callback's state is missing or differs from the
	// AuthRequest's (under ErrInvalidCallback).
	ErrStateMismatch = errors.New("nextidentity: state mismatch")
	// ErrMissingCode: the callback carries neither a code nor an error
	// (under ErrInvalidCallback).
	ErrMissingCode = errors.New("nextidentity: callback has no code")
)

// Other errors.
var (
	// ErrNoRefreshToken: Refresh was called with a token that has no refresh
	// token (ask for one with WithOfflineAccess).
	ErrNoRefreshToken = errors.New("nextidentity: token has no refresh token")
	// ErrNoAccessToken: UserInfo was called with a token that has no access
	// token.
	ErrNoAccessToken = errors.New("nextidentity: token has no access token")
	// ErrIncompleteAuthRequest: Exchange was given a nil AuthRequest or one
	// without State, Nonce or CodeVerifier, for example one restored from
	// storage that lost a field. Without them the nonce and PKCE checks
	// could not run, so the code is not redeemed.
	ErrIncompleteAuthRequest = errors.New("nextidentity: incomplete AuthRequest")
	// ErrResponseTooLarge: a provider response exceeded Config.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("nextidentity: response too large")
	// ErrUnsupportedGrant: the discovery document's grant_types_supported
	// does not list the grant a call needs (ClientCredentials), so no
	// request was made.
	ErrUnsupportedGrant = errors.New("nextidentity: grant type not supported by the provider")
	// ErrMalformedResponse: a provider response could not be understood.
	ErrMalformedResponse = errors.New("nextidentity: malformed provider response")
)

// checkError is a rejection by one of the client's checks: it matches its
// umbrella (ErrInvalidIDToken, ErrInvalidCallback, ErrInvalidConfig, ...)
// and, when set, the specific check, and names the package once.
type checkError struct {
	umbrella, kind error
	msg            string
}

func (e *checkError) Error() string {
	var b strings.Builder
	b.WriteString(e.umbrella.Error())
	if e.kind != nil {
		b.WriteString(": ")
		b.WriteString(trimPkg(e.kind.Error()))
	}
	if e.msg != "" {
		b.WriteString(": ")
		b.WriteString(e.msg)
	}
	return b.String()
}

func (e *checkError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.umbrella}
	}
	return []error{e.umbrella, e.kind}
}

// rejectf returns a *checkError under umbrella, of the specific kind when
// not nil. The message's arguments are formatted with %v: it wraps nothing
// else (wrap causes with fmt.Errorf around it).
func rejectf(umbrella, kind error, format string, args ...any) error {
	return &checkError{umbrella: umbrella, kind: kind, msg: fmt.Sprintf(format, args...)}
}

// invalidCallback is rejectf under ErrInvalidCallback.
func invalidCallback(kind error, format string, args ...any) error {
	return rejectf(ErrInvalidCallback, kind, format, args...)
}

// trimPkg drops the package prefix of a wrapped error's message, so a
// composed message names the package once.
func trimPkg(s string) string { return strings.TrimPrefix(s, "nextidentity: ") }

// Error is an error reported by the provider: an error body, an error status,
// an error redirect, or an unreadable response.
type Error struct {
	// Endpoint names where it came from: "token", "userinfo", "authorize",
	// "discovery" or "jwks".
	Endpoint string
	// StatusCode is the HTTP status; 0 for an error redirect.
	StatusCode int
	// Code is the "error" value, for example "invalid_grant" or "http_exception".
	Code string
	// Description is "error_description", else "error_details.message".
	Description string
	// URI is "error_uri", when sent.
	URI string
	// Stat is the provider's "stat" field ("error"), when sent.
	Stat string
	// Body is a short excerpt of a body that was not a JSON error object.
	Body string
	err  error  // an extra cause such as ErrMalformedResponse
	url  string // the URL requested, when the error names it (discovery)
}

const excerptLen = 256

// Error formats the error as "nextidentity: <endpoint>: HTTP <status>:
// <code>: <description>", leaving out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("nextidentity: ")
	b.WriteString(e.Endpoint)
	if e.url != "" {
		fmt.Fprintf(&b, " (%s)", e.url)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.err != nil {
		b.WriteString(": ")
		b.WriteString(trimPkg(e.err.Error()))
	}
	if e.Body != "" {
		fmt.Fprintf(&b, " (body: %q)", e.Body)
	}
	return b.String()
}

// Is reports whether the provider error matches one of the sentinels:
// ErrProvider always, and the one its code names.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrProvider:
		return true
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.Code == "http_exception" || e.Code == "invalid_token"
	case ErrInvalidRequest:
		return e.Code == "invalid_request"
	case ErrInvalidGrant:
		return e.Code == "invalid_grant"
	case ErrInvalidClient:
		return e.Code == "invalid_client"
	case ErrAccessDenied:
		return e.Code == "access_denied"
	case ErrLoginRequired:
		return e.Code == "login_required"
	}
	return false
}

// Unwrap returns the extra cause, such as ErrMalformedResponse.
func (e *Error) Unwrap() error { return e.err }

// parseErrorBody reports whether body is a JSON object describing an error,
// whatever the status code says. It covers the provider's shapes: the OAuth
// one ({"error","error_description"}), {"stat":"error","error":...} and
// {"error":"http_exception","error_details":{"message":...}}. Members are
// read one by one, so a member of an unexpected type (an array description,
// a string error_details) cannot hide the error, and names match exactly.
func parseErrorBody(endpoint string, status int, body []byte) (*Error, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false
	}
	e := &Error{
		Endpoint:    endpoint,
		StatusCode:  status,
		Code:        jsonText(m["error"]),
		Description: jsonText(m["error_description"]),
		URI:         jsonText(m["error_uri"]),
		Stat:        jsonText(m["stat"]),
	}
	if e.Code == "" && e.Stat != "error" {
		return nil, false
	}
	if d := m["error_details"]; e.Description == "" && len(d) > 0 {
		var details map[string]json.RawMessage
		if json.Unmarshal(d, &details) == nil {
			e.Description = jsonText(details["message"])
		} else {
			e.Description = jsonText(d)
		}
	}
	return e, true
}

// jsonText is raw's string value, or the JSON text of any other non-null
// value, as a bounded excerpt ("" for null or absent).
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return excerpt([]byte(s))
	}
	return excerpt(raw)
}

// providerError maps a provider response to an *Error, or returns nil when
// status is 2xx and body is not an error object. Some deployments answer
// errors with HTTP 200 and {"stat":"error"}, so the status alone is not
// trusted. The body is parsed once, whatever the outcome.
func providerError(endpoint string, status int, body []byte) *Error {
	if e, ok := parseErrorBody(endpoint, status, body); ok {
		return e
	}
	if status >= 200 && status < 300 {
		return nil
	}
	return &Error{Endpoint: endpoint, StatusCode: status, Body: excerpt(body), err: ErrMalformedResponse}
}

// malformed reports a success status whose body was not an error object (so
// providerError returned nil) but could not be decoded or lacks a member.
func malformed(endpoint string, status int, body []byte, cause error) *Error {
	return &Error{
		Endpoint:   endpoint,
		StatusCode: status,
		Body:       excerpt(body),
		err:        fmt.Errorf("%w: %v", ErrMalformedResponse, cause),
	}
}

// secretMember matches a token member and its string value (complete or
// cut short) in a JSON body.
var secretMember = regexp.MustCompile(`("(?:access_token|refresh_token|id_token)"\s*:\s*)"(?:[^"\\]|\\.)*"?`)

// excerpt returns at most excerptLen bytes of b as valid UTF-8 with control
// characters removed, for error messages. The values of token members
// (a token response the client could not use) are replaced by "…", so an
// error that reaches a log never carries a credential.
func excerpt(b []byte) string {
	if len(b) > excerptLen {
		b = b[:excerptLen]
	}
	b = secretMember.ReplaceAll(b, []byte(`$1"…"`))
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// callbackError maps an error redirect's parameters to an *Error.
// They come from the browser's URL, so they are bounded like body excerpts.
func callbackError(code, description, uri string) *Error {
	return &Error{
		Endpoint:    "authorize",
		Code:        excerpt([]byte(code)),
		Description: excerpt([]byte(description)),
		URI:         excerpt([]byte(uri)),
	}
}
