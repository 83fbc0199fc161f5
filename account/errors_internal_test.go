package account

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
)

var now = time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)

func TestEnvelopeDetails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		details string // "" means absent
		fields  map[string][]string
		text    string
	}{
		{"object of strings", `{"error":"invalid_parameters","error_details":{"user_id":"field required"}}`,
			`{"user_id":"field required"}`, map[string][]string{"user_id": {"field required"}},
			"account: login: HTTP 422: invalid_parameters; user_id: field required"},
		{"object of objects", `{"error":"invalid_parameters","error_details":{"client_id":{"missing":"required"},"auth_type":{"invalid":"unsupported auth_type value"}}}`,
			`{"client_id":{"missing":"required"},"auth_type":{"invalid":"unsupported auth_type value"}}`,
			map[string][]string{"client_id": {"missing: required"}, "auth_type": {"invalid: unsupported auth_type value"}},
			"account: login: HTTP 422: invalid_parameters; auth_type: invalid: unsupported auth_type value; client_id: missing: required"},
		{"object of lists", `{"error":"invalid_form_fields","error_description":"some inputs are invalid","error_details":{"emailAddress":["Email address is not formatted correctly.", 7]}}`,
			`{"emailAddress":["Email address is not formatted correctly.", 7]}`,
			map[string][]string{"emailAddress": {"Email address is not formatted correctly.", "7"}},
			"account: login: HTTP 422: invalid_form_fields: some inputs are invalid; emailAddress: Email address is not formatted correctly., 7"},
		{"combined key", `{"error":"invalid_parameters","error_details":{"newPassword, newPasswordConfirm":{"unexpected_keys":"Unexpected parameters found in the request."}}}`,
			`{"newPassword, newPasswordConfirm":{"unexpected_keys":"Unexpected parameters found in the request."}}`,
			map[string][]string{"newPassword, newPasswordConfirm": {"unexpected_keys: Unexpected parameters found in the request."}},
			"account: login: HTTP 422: invalid_parameters; newPassword, newPasswordConfirm: unexpected_keys: Unexpected parameters found in the request."},
		{"string", `{"error":"invalid_request","error_details":"invalid_argument"}`, `"invalid_argument"`, nil,
			"account: login: HTTP 422: invalid_request: invalid_argument"},
		{"null", `{"error":"http_exception","error_description":"missing_argument Missing Parameter: redirect_uri","error_details":null}`, `null`, nil,
			"account: login: HTTP 422: http_exception: missing_argument Missing Parameter: redirect_uri"},
		{"absent", `{"error":"unverified_user","error_description":"unverified user account"}`, "", nil,
			"account: login: HTTP 422: unverified_user: unverified user account"},
		{"number", `{"error":"x","error_details":42}`, `42`, nil, "account: login: HTTP 422: x"},
		{"description not a string", `{"error":"x","error_description":["a"]}`, "", nil, `account: login: HTTP 422: x: ["a"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := responseError(opLogin, 422, http.Header{}, []byte(tc.body), now, nil)
			require.NotNil(t, e)
			if tc.details == "" {
				require.Nil(t, e.Details)
			} else {
				require.JSONEq(t, tc.details, string(e.Details))
			}
			require.Equal(t, tc.fields, e.Fields)
			require.Equal(t, tc.text, e.Error())
		})
	}
}

func TestResponseErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		isErr  bool
		cause  error
	}{
		{"2xx success", 200, `{"uuid":"u"}`, false, nil},
		{"2xx empty", 200, ``, false, nil},
		{"2xx error envelope", 200, `{"error":"invalid_parameters"}`, true, nil},
		{"2xx stat error", 200, `{"stat":"error"}`, true, nil},
		{"4xx empty body", 400, ``, true, nil},
		{"4xx html", 502, `<html>bad gateway</html>`, true, nextidentity.ErrMalformedResponse},
		{"4xx error not a string", 422, `{"error":{"a":1}}`, true, nil},
		{"4xx empty error", 422, `{"error":""}`, true, nextidentity.ErrMalformedResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := responseError(opLogin, tc.status, http.Header{}, []byte(tc.body), now, nil)
			if !tc.isErr {
				require.Nil(t, e)
				return
			}
			require.NotNil(t, e)
			require.ErrorIs(t, e, nextidentity.ErrProvider)
			if tc.cause != nil {
				require.ErrorIs(t, e, tc.cause)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"99999999999", maxRetryAfter * time.Second},
	} {
		require.Equal(t, tc.want, retryAfter(tc.v, now), tc.v)
	}
	h := http.Header{"Retry-After": {"7"}}
	require.Equal(t, 7*time.Second, responseError(opToken, 429, h, []byte(`{"error":"too_many_requests"}`), now, nil).RetryAfter)
	require.Equal(t, 7*time.Second, responseError(opToken, 429, h, nil, now, nil).RetryAfter, "a 429 without a body")
	require.Zero(t, responseError(opToken, 422, h, []byte(`{"error":"x"}`), now, nil).RetryAfter, "only on 429 and 503")
}

func TestSecretsScrubbed(t *testing.T) {
	const pw = `p"ss\word`
	body := `{"error":"invalid_form_fields","error_description":"p\"ss\\word is weak","error_details":{"password":["p\"ss\\word is weak"],"p\"ss\\word":1}}`
	e := responseError(opChangePassword, 422, http.Header{}, []byte(body), now, []string{pw, ""})
	require.NotContains(t, e.Error(), pw)
	require.NotContains(t, string(e.Details), `p\"ss\\word`)
	require.True(t, json.Valid(e.Details))
	require.Equal(t, []string{"… is weak"}, e.Fields["password"])

	e = responseError(opVerify, 500, http.Header{}, []byte(`upstream said 123456 "code":"abc"`), now, []string{"123456"})
	require.NotContains(t, e.Error(), "123456")
	require.NotContains(t, e.Error(), "abc")

	e = responseError(opVerify, 422, http.Header{}, []byte(`{"error":"invalid_parameters","error_details":{"code":123456}}`), now, []string{"123456"})
	require.NotContains(t, string(e.Details), "123456")
	require.True(t, json.Valid(e.Details))
	require.ErrorIs(t, e, nextidentity.ErrInvalidGrant)
}

func TestErrorTextBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"error":"` + strings.Repeat("e", 5000) + `","error_details":{`)
	for i := range 50 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"f` + strings.Repeat("x", i) + `":"` + strings.Repeat("m", 5000) + `"`)
	}
	b.WriteString("}}")
	e := responseError(opLogin, 422, http.Header{}, []byte(b.String()), now, nil)
	require.Len(t, e.Fields, 50)
	require.Contains(t, e.Error(), "and 45 more fields")
	require.Less(t, len(e.Error()), 12000)
}

// FuzzErrorEnvelope feeds arbitrary bodies to the envelope decoder: it must
// never panic, keep error_details raw and valid, decode Fields exactly when
// the details are an object, keep the error text bounded and valid UTF-8,
// and never let a secret through.
func FuzzErrorEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"error":"invalid_parameters","error_details":{"user_id":"field required"}}`,
		`{"error":"invalid_form_fields","error_details":{"emailAddress":["bad"]}}`,
		`{"error":"invalid_parameters","error_details":{"client_id":{"missing":"required"}}}`,
		`{"error":"invalid_request","error_details":"invalid_argument"}`,
		`{"error":"http_exception","error_details":null}`,
		`{"error":"x","error_details":[1,{"a":null}]}`,
		`{"error":"x","error_details":{`,
		`{"stat":"error"}`,
		`garbage`,
		``,
	} {
		f.Add(s, 422, "s3cret")
	}
	f.Fuzz(func(t *testing.T, body string, status int, secret string) {
		if status < 100 || status > 599 {
			status = 422
		}
		secrets := []string{secret}
		e := responseError(opInvite, status, http.Header{"Retry-After": {body}}, []byte(body), now, secrets)
		if e == nil {
			if status < 200 || status >= 300 {
				t.Fatalf("status %d gave no error", status)
			}
			return
		}
		if !errors.Is(e, nextidentity.ErrProvider) {
			t.Fatal("does not match ErrProvider")
		}
		if e.Details != nil && !json.Valid(e.Details) {
			t.Fatalf("details %q not valid JSON", e.Details)
		}
		var obj map[string]json.RawMessage
		isObj := e.Details != nil && json.Unmarshal(e.Details, &obj) == nil && obj != nil
		if isObj != (e.Fields != nil) {
			t.Fatalf("details %q: object %v, fields %v", e.Details, isObj, e.Fields)
		}
		text := e.Error()
		if !utf8.ValidString(text) {
			t.Fatalf("text not UTF-8: %q", text)
		}
		if len(text) > 8*excerptLen+len(e.Code)+len(e.Op)+200 {
			t.Fatalf("text of %d bytes", len(text))
		}
		// What the error keeps never holds the secret (one holding the
		// redaction mark could be rebuilt from it, so those are skipped).
		if secret == "" || strings.Contains(secret, redacted) || strings.Contains(redacted, secret) || !utf8.ValidString(secret) {
			return
		}
		kept := []string{e.Code, e.Description, e.Body}
		for name, msgs := range e.Fields {
			kept = append(kept, name)
			kept = append(kept, msgs...)
		}
		kept = append(kept, jsonStrings(e.Details)...)
		for _, k := range kept {
			if strings.Contains(k, secret) {
				t.Fatalf("secret %q kept in %q", secret, k)
			}
		}
	})
}

// jsonStrings returns every string and number (and object key) in raw.
func jsonStrings(raw json.RawMessage) []string {
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case json.Number:
			out = append(out, string(v))
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for k, x := range v {
				out = append(out, k)
				walk(x)
			}
		}
	}
	walk(v)
	return out
}
