package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// Sentinels an *Error matches with errors.Is. Each means one thing; an
// *Error also matches nextidentity.ErrProvider always, and the root
// package's sentinels where they apply (see Error.Is).
var (
	// ErrInvalidCredentials: the sign-in was refused (HTTP 401 at /login or
	// at /otp/verify). The provider answers the same to an unknown user and
	// to a wrong password, and so does this error: tell the user "wrong
	// email or password", never which.
	ErrInvalidCredentials = errors.New("account: invalid credentials")
	// ErrUnverifiedUser: the user has not verified the email address or
	// mobile number yet (the provider's "unverified_user", HTTP 422). Offer
	// to send a new PIN or link with ResendVerification.
	ErrUnverifiedUser = errors.New("account: unverified user")
	// ErrRateLimited: HTTP 429. The provider limits requests per client,
	// organization and IP, and blocks a user for five minutes after five
	// /token attempts within a minute. Error.RetryAfter says how long to
	// wait when the provider sent Retry-After.
	ErrRateLimited = errors.New("account: rate limited")
	// ErrUserExists: Invite (without Resend) named a user who already has an
	// account, in the shape the provider's response-code table documents:
	// HTTP 422 "invalid_form_fields" on the identifier field. The API
	// reference documents a 200 with the user's uuid instead, which Invite
	// returns as success with Invited.Existing set. Register never reports
	// it: the provider answers 200 to an existing user on purpose, so that
	// no one can find out who has an account.
	ErrUserExists = errors.New("account: user already exists")
	// ErrForbidden: HTTP 403 outside /token: the client_id is refused, or
	// the user has no access to this client ("resourceAccess"). At /token
	// a 403 is nextidentity.ErrInvalidGrant instead.
	ErrForbidden = errors.New("account: forbidden")
	// ErrInvalidInput: HTTP 400 or 422 other than unverified_user: a field
	// is missing or invalid ("invalid_parameters", "invalid_form_fields",
	// "invalid_request", "missing_argument", a bad env_id's
	// "invalid_domain"). Error.Fields says which fields, when the provider
	// said.
	ErrInvalidInput = errors.New("account: invalid input")
)

// Error is the provider's refusal of an account API call: a status other
// than 2xx, or a 2xx carrying an error envelope or a body that could not be
// read. The provider's envelope is {"error", "error_description",
// "error_details"} where every member may be absent and error_details may
// be an object, a string or null (open question 10): nothing is required.
//
// No field or message carries a value the call sent as a secret (password,
// PIN, code, token): where the provider echoes one it is replaced by "…".
type Error struct {
	// Op names the call: "login", "token", "register", "verify",
	// "resend-verification", "forgot-password", "change-password",
	// "logout", "profile", "pre-register", "otp/send", "otp/verify" or
	// "applications/register".
	Op string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the envelope's "error", e.g. "http_exception",
	// "unverified_user", "invalid_parameters"; "" when the body had none.
	Code string
	// Description is the envelope's "error_description"; often absent.
	Description string
	// Details is "error_details" as sent (nil when absent): an object keyed
	// by field, a string or null.
	Details json.RawMessage
	// Fields is Details decoded when it is an object: each field's
	// messages. A string value gives one message, a list its members, and
	// an object such as {"missing": "required"} one "missing: required"
	// message per member. Nil when Details is not an object.
	Fields map[string][]string
	// RetryAfter is the wait the Retry-After header asked for (seconds or
	// an HTTP date, against the parent client's clock); 0 when none was
	// sent. The provider documents no such header, so a 429 without one
	// leaves the back-off to the caller.
	RetryAfter time.Duration
	// Body is a short excerpt of a body that was not an error envelope.
	Body string

	err error // an extra cause: nextidentity.ErrMalformedResponse
}

// Error formats the error as "account: <op>: HTTP <status>: <code>:
// <description>" followed by the field messages (at most five fields), the
// wait asked for and a body excerpt, leaving out what is empty.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "account: %s: HTTP %d", e.Op, e.StatusCode)
	if e.Code != "" {
		b.WriteString(": " + excerpt([]byte(e.Code)))
	}
	if msg := e.message(); msg != "" {
		b.WriteString(": " + msg)
	}
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more fields", len(names)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", excerpt([]byte(name)), excerpt([]byte(strings.Join(e.Fields[name], ", "))))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.err != nil {
		b.WriteString(": " + strings.TrimPrefix(e.err.Error(), "nextidentity: "))
	}
	if e.Body != "" {
		fmt.Fprintf(&b, " (body: %q)", e.Body)
	}
	return b.String()
}

// message is Description, else a string error_details.
func (e *Error) message() string {
	if e.Description != "" {
		return excerpt([]byte(e.Description))
	}
	var s string
	if json.Unmarshal(e.Details, &s) == nil {
		return excerpt([]byte(s))
	}
	return ""
}

// Is reports whether e matches target:
//
//   - nextidentity.ErrProvider: always.
//   - ErrRateLimited: HTTP 429.
//   - ErrUnverifiedUser: the "unverified_user" error.
//   - ErrInvalidCredentials: HTTP 401 at /login or /otp/verify.
//   - nextidentity.ErrUnauthorized: any HTTP 401 (at the calls that take a
//     Bearer token it means the access token is invalid or expired).
//   - nextidentity.ErrInvalidGrant: HTTP 403 at /token, which the provider
//     answers to a spent, expired or unknown code or PIN where RFC 6749 has
//     400 "invalid_grant" (open question 11; a wrong client_id at /token
//     gets the same answer, so it lands here too), and a 422 on the "code"
//     field at /verify or /otp/verify.
//   - ErrForbidden: HTTP 403 elsewhere.
//   - ErrUserExists: HTTP 422 "invalid_form_fields" on "emailAddress" or
//     "mobileNumber" at /pre-register.
//   - ErrInvalidInput: HTTP 400, or 422 other than "unverified_user".
//   - nextidentity.ErrProviderUnreachable: HTTP 5xx (a wrong API version
//     or region answers 503).
func (e *Error) Is(target error) bool {
	switch target {
	case nextidentity.ErrProvider:
		return true
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrUnverifiedUser:
		return e.Code == "unverified_user"
	case ErrInvalidCredentials:
		return e.StatusCode == http.StatusUnauthorized && (e.Op == opLogin || e.Op == opOTPVerify)
	case nextidentity.ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case nextidentity.ErrInvalidGrant:
		switch e.Op {
		case opToken:
			return e.StatusCode == http.StatusForbidden
		case opVerify, opOTPVerify:
			return e.StatusCode == http.StatusUnprocessableEntity && e.Fields["code"] != nil
		}
		return false
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden && e.Op != opToken
	case ErrUserExists:
		return e.Op == opInvite && e.StatusCode == http.StatusUnprocessableEntity && e.Code == "invalid_form_fields" &&
			(e.Fields["emailAddress"] != nil || e.Fields["mobileNumber"] != nil)
	case ErrInvalidInput:
		return e.StatusCode == http.StatusBadRequest ||
			(e.StatusCode == http.StatusUnprocessableEntity && e.Code != "unverified_user")
	case nextidentity.ErrProviderUnreachable:
		return e.StatusCode >= 500
	}
	return false
}

// Unwrap returns the extra cause, such as nextidentity.ErrMalformedResponse.
func (e *Error) Unwrap() error { return e.err }

// Operation names, as in Error.Op.
const (
	opLogin          = "login"
	opToken          = "token"
	opRegister       = "register"
	opVerify         = "verify"
	opResend         = "resend-verification"
	opForgotPassword = "forgot-password"
	opChangePassword = "change-password"
	opLogout         = "logout"
	opProfile        = "profile"
	opInvite         = "pre-register"
	opOTPSend        = "otp/send"
	opOTPVerify      = "otp/verify"
	opAdopt          = "applications/register"
)

// responseError returns the *Error a response stands for, or nil for a 2xx
// whose body is not an error envelope. now reads an HTTP-date Retry-After;
// secrets are scrubbed from everything kept.
func responseError(op string, status int, h http.Header, body []byte, now time.Time, secrets []string) *Error {
	e, envelope := parseEnvelope(op, status, body, secrets)
	if !envelope {
		if status >= 200 && status < 300 {
			return nil
		}
		e = &Error{Op: op, StatusCode: status, Body: bodyExcerpt(body, secrets)}
		if len(bytes.TrimSpace(body)) > 0 {
			e.err = nextidentity.ErrMalformedResponse
		}
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(h.Get("Retry-After"), now)
	}
	return e
}

// parseEnvelope decodes body as the provider's error envelope. It reports
// false when body is not a JSON object with a non-empty "error" (or
// "stat": "error"). Members are read one by one, so one of an unexpected
// type cannot hide the error.
func parseEnvelope(op string, status int, body []byte, secrets []string) (*Error, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return nil, false
	}
	code := clean(jsonString(m["error"]), secrets)
	var stat string
	_ = json.Unmarshal(m["stat"], &stat)
	if code == "" && stat != "error" {
		return nil, false
	}
	e := &Error{
		Op:          op,
		StatusCode:  status,
		Code:        code,
		Description: clean(jsonString(m["error_description"]), secrets),
	}
	if d, ok := m["error_details"]; ok {
		e.Details = scrubRaw(d, secrets)
		e.Fields = fields(e.Details, secrets)
	}
	return e, true
}

// jsonString is raw's value when it is a string, else its JSON text
// ("" for null or absent).
func jsonString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// fields decodes an error_details object into field -> messages; nil when
// raw is not an object.
func fields(raw json.RawMessage, secrets []string) map[string][]string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for name, v := range m {
		msgs := messages(v)
		for i := range msgs {
			msgs[i] = clean(msgs[i], secrets)
		}
		out[clean(name, secrets)] = msgs
	}
	return out
}

// messages turns one field's value into its messages.
func messages(v json.RawMessage) []string {
	var list []json.RawMessage
	if json.Unmarshal(v, &list) == nil {
		out := make([]string, 0, len(list))
		for _, item := range list {
			out = append(out, jsonString(item))
		}
		return out
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) == nil && obj != nil {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make([]string, 0, len(keys))
		for _, k := range keys {
			out = append(out, k+": "+jsonString(obj[k]))
		}
		return out
	}
	return []string{jsonString(v)}
}

// retryAfter reads a Retry-After value (RFC 9110 section 10.2.3): a number
// of seconds or an HTTP date. Anything else, or a time already past, is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, maxRetryAfter)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter*time.Second)
	}
	return 0
}

// maxRetryAfter caps a Retry-After (one day, in seconds).
const maxRetryAfter = 24 * 3600

// malformed reports a 2xx body the call could not use.
func malformed(op string, status int, body []byte, secrets []string, why string) *Error {
	return &Error{
		Op:         op,
		StatusCode: status,
		Body:       bodyExcerpt(body, secrets),
		err:        fmt.Errorf("%w: %s", nextidentity.ErrMalformedResponse, why),
	}
}

// redacted replaces every secret value found in provider text.
const redacted = "…"

// clean makes provider text printable (valid UTF-8, control characters as
// spaces) and then replaces every secret in it, so that no later step can
// join the pieces of a secret again.
func clean(s string, secrets []string) string {
	return scrub(printable(s), secrets)
}

// printable is s as valid UTF-8 with control characters as spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// bodyExcerpt is the excerpt of a body that is not an error envelope, with
// secrets (also JSON-escaped) and code and token members hidden.
func bodyExcerpt(body []byte, secrets []string) string {
	b := scrubBytes(body, secrets)
	b = secretMember.ReplaceAll(b, []byte(`$1"`+redacted+`"`))
	return excerpt([]byte(clean(string(b), secrets)))
}

// scrub replaces every non-empty secret in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

// scrubBytes is scrub for a body, before its excerpt is taken, also
// catching secrets in their JSON-escaped form.
func scrubBytes(b []byte, secrets []string) []byte {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		b = bytes.ReplaceAll(b, []byte(sec), []byte(redacted))
		if q := jsonEscaped(sec); q != sec {
			b = bytes.ReplaceAll(b, []byte(q), []byte(redacted))
		}
	}
	return b
}

// scrubRaw returns raw unchanged when no secret is in it, else raw decoded,
// scrubbed value by value and encoded again (so it stays valid JSON).
func scrubRaw(raw json.RawMessage, secrets []string) json.RawMessage {
	found := false
	for _, sec := range secrets {
		if sec != "" && (bytes.Contains(raw, []byte(sec)) || bytes.Contains(raw, []byte(jsonEscaped(sec)))) {
			found = true
			break
		}
	}
	if !found {
		return raw
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return json.RawMessage(`"` + redacted + `"`)
	}
	out, err := json.Marshal(scrubValue(v, secrets))
	if err != nil {
		return json.RawMessage(`"` + redacted + `"`)
	}
	return out
}

func scrubValue(v any, secrets []string) any {
	switch v := v.(type) {
	case string:
		return scrub(v, secrets)
	case json.Number:
		if s := scrub(string(v), secrets); s != string(v) {
			return s
		}
		return v
	case []any:
		for i := range v {
			v[i] = scrubValue(v[i], secrets)
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[scrub(k, secrets)] = scrubValue(x, secrets)
		}
		return out
	}
	return v
}

// jsonEscaped is s as it appears inside a JSON string.
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// excerptLen bounds every excerpt of provider text in an error message.
const excerptLen = 256

// secretMember matches a code or token member and its string value
// (complete or cut short) in a JSON body.
var secretMember = regexp.MustCompile(`("(?:authorization_code|code|access_token|refresh_token|id_token|client_secret)"\s*:\s*)"(?:[^"\\]|\\.)*"?`)

// excerpt returns at most excerptLen bytes of b, cut at a rune boundary,
// as printable text. It is given text that clean made safe: cutting cannot
// join the pieces of a secret.
func excerpt(b []byte) string {
	if len(b) > excerptLen {
		b = b[:excerptLen]
	}
	// A rune cut at the end is dropped; clean already replaced any invalid
	// byte inside.
	return strings.TrimSpace(printable(strings.ToValidUTF8(string(b), "")))
}
