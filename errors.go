package nextidentity

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Errors reported by the provider. An *Error matches these with errors.Is.
var (
	// ErrUnauthorized: HTTP 401, or the provider's "http_exception" body.
	ErrUnauthorized = errors.New("nextidentity: unauthorized")
	// ErrInvalidRequest: the provider's "invalid_request" error.
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

// Errors raised by the client's own checks.
var (
	// ErrInvalidIDToken is wrapped by every ID token rejection.
	ErrInvalidIDToken = errors.New("nextidentity: invalid id_token")
	// ErrTokenExpired: "exp" is in the past (beyond the leeway).
	ErrTokenExpired = errors.New("token expired")
	// ErrInvalidSignature: the signature does not verify, no key fits, or the
	// "alg" is refused.
	ErrInvalidSignature = errors.New("invalid signature")
	// ErrIssuerMismatch: an "iss" claim, callback parameter or discovery
	// issuer differs from Config.Issuer.
	ErrIssuerMismatch = errors.New("issuer mismatch")
	// ErrAudienceMismatch: "aud" lacks the client id, or "azp" is wrong or
	// missing where required.
	ErrAudienceMismatch = errors.New("audience mismatch")
	// ErrNonceMismatch: the "nonce" claim differs from the one sent.
	ErrNonceMismatch = errors.New("nonce mismatch")

	// ErrStateMismatch: the callback's state is missing or differs from the
	// AuthRequest's.
	ErrStateMismatch = errors.New("nextidentity: state mismatch")
	// ErrMissingCode: the callback carries neither a code nor an error.
	ErrMissingCode = errors.New("nextidentity: callback has no code")
	// ErrSubjectMismatch: a userinfo response or refreshed ID token names
	// another subject than the ID token the session started with.
	ErrSubjectMismatch = errors.New("nextidentity: subject mismatch")
	// ErrNoRefreshToken: Refresh was called with a token that has no refresh
	// token (ask for one with WithOfflineAccess).
	ErrNoRefreshToken = errors.New("nextidentity: token has no refresh token")
	// ErrInvalidConfig: a Config field is missing or invalid.
	ErrInvalidConfig = errors.New("nextidentity: invalid config")
	// ErrResponseTooLarge: a provider response exceeded Config.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("response too large")
	// ErrMalformedResponse: a provider response could not be understood.
	ErrMalformedResponse = errors.New("malformed provider response")
)

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
	err  error // an extra cause such as ErrMalformedResponse
}

const excerptLen = 256

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("nextidentity: ")
	b.WriteString(e.Endpoint)
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
		b.WriteString(e.err.Error())
	}
	if e.Body != "" {
		fmt.Fprintf(&b, " (body: %q)", e.Body)
	}
	return b.String()
}

// Is reports whether the provider error matches one of the sentinels.
func (e *Error) Is(target error) bool {
	switch target {
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

// newProviderError builds the error for a response the caller judged a
// failure (usually a non-2xx status). A JSON error body is mapped to its
// fields; anything else keeps the status and a short excerpt.
func newProviderError(endpoint string, status int, body []byte) *Error {
	if e, ok := parseErrorBody(endpoint, status, body); ok {
		return e
	}
	return &Error{Endpoint: endpoint, StatusCode: status, Body: excerpt(body), err: ErrMalformedResponse}
}

// malformed reports a success status whose body could not be decoded.
func malformed(endpoint string, status int, body []byte, cause error) *Error {
	if e, ok := parseErrorBody(endpoint, status, body); ok {
		return e
	}
	return &Error{
		Endpoint:   endpoint,
		StatusCode: status,
		Body:       excerpt(body),
		err:        fmt.Errorf("%w: %v", ErrMalformedResponse, cause),
	}
}

// checkResponse maps a provider response to an *Error, or returns nil when
// status is 2xx and body is not an error object: some deployments answer
// errors with HTTP 200 and {"stat":"error"}, so the status alone is not
// trusted.
func checkResponse(endpoint string, status int, body []byte) *Error {
	if e, ok := parseErrorBody(endpoint, status, body); ok {
		return e
	}
	if status >= 200 && status < 300 {
		return nil
	}
	return newProviderError(endpoint, status, body)
}

// excerpt returns at most excerptLen bytes of b as valid UTF-8 with control
// characters removed, for error messages.
func excerpt(b []byte) string {
	if len(b) > excerptLen {
		b = b[:excerptLen]
	}
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
