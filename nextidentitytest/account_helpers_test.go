package nextidentitytest_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// del as a value in an edit removes the member from the body.
type delMarker struct{}

var del = delMarker{}

// body returns base with edit applied (del removes a member).
func body(base map[string]any, edit map[string]any) map[string]any {
	b := maps.Clone(base)
	for k, v := range edit {
		if v == del {
			delete(b, k)
			continue
		}
		b[k] = v
	}
	return b
}

// postJSON posts v (a string is sent verbatim) as JSON to e.
func postJSON(t testing.TB, srv *nextidentitytest.Server, e nextidentitytest.Endpoint, v any, edit func(*http.Request)) response {
	t.Helper()
	raw, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		raw = string(b)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+string(e), bytes.NewReader([]byte(raw)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if edit != nil {
		edit(req)
	}
	return do(t, rawClient(srv), req)
}

// bearer sets an Authorization: Bearer header.
func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// apiCase is one row of an endpoint's table: the body edit, the status and
// the error envelope expected ("" error means a success body).
type apiCase struct {
	name    string
	edit    map[string]any
	status  int
	err     string // "error" member
	desc    string // "error_description", "" when it must be absent
	details string // JSON of "error_details", "" when it must be absent
}

// checkEnvelope checks r against the expected error envelope.
func checkEnvelope(t testing.TB, r response, status int, code, desc, details string) {
	t.Helper()
	require.Equal(t, status, r.status, r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	var env map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(r.body), &env), r.body)
	require.JSONEq(t, `"`+code+`"`, string(env["error"]), r.body)
	if desc == "" {
		require.NotContains(t, env, "error_description", r.body)
	} else {
		require.JSONEq(t, mustJSON(t, desc), string(env["error_description"]), r.body)
	}
	if details == "" {
		require.NotContains(t, env, "error_details", r.body)
	} else {
		require.JSONEq(t, details, string(env["error_details"]), r.body)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// decode unmarshals a success body.
func decode(t testing.TB, r response) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &m), r.body)
	return m
}

// runAPITable posts base edited by each row to e and checks the answer;
// success rows return 200 or 201 and are checked by ok.
// base builds the valid body on each row's new server.
func runAPITable(t *testing.T, newSrv func(t *testing.T) *nextidentitytest.Server, e nextidentitytest.Endpoint,
	base func(t *testing.T, srv *nextidentitytest.Server) map[string]any, auth func(*http.Request), rows []apiCase,
	ok func(t *testing.T, srv *nextidentitytest.Server, r response)) {
	t.Helper()
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSrv(t)
			r := postJSON(t, srv, e, body(base(t, srv), tc.edit), auth)
			if tc.err == "" {
				require.Equal(t, tc.status, r.status, r.body)
				if ok != nil {
					ok(t, srv, r)
				}
				return
			}
			checkEnvelope(t, r, tc.status, tc.err, tc.desc, tc.details)
		})
	}
}

// apiLoginBody is a valid /login body for the default user.
func apiLoginBody() map[string]any {
	return map[string]any{
		"client_id": nextidentitytest.DefaultClientID,
		"auth_type": "email",
		"user_id":   nextidentitytest.DefaultUserEmail,
		"password":  nextidentitytest.DefaultUserPassword,
	}
}

// apiLogin signs the default user in through the API and returns the code.
func apiLogin(t testing.TB, srv *nextidentitytest.Server, edit map[string]any) string {
	t.Helper()
	r := postJSON(t, srv, nextidentitytest.EndpointAccountLogin, body(apiLoginBody(), edit), nil)
	require.Equal(t, http.StatusOK, r.status, r.body)
	code, _ := decode(t, r)["authorization_code"].(string)
	require.NotEmpty(t, code)
	return code
}

// apiTokenBody is a valid /token body for code and the default user.
func apiTokenBody(code string) map[string]any {
	return map[string]any{
		"client_id":    nextidentitytest.DefaultClientID,
		"grant_type":   "authorization_code",
		"code":         code,
		"redirect_uri": nextidentitytest.DefaultRedirectURI,
		"auth_type":    "email",
		"user_id":      nextidentitytest.DefaultUserEmail,
	}
}

// fixed returns a base for runAPITable that is always m.
func fixed(m map[string]any) func(*testing.T, *nextidentitytest.Server) map[string]any {
	return func(*testing.T, *nextidentitytest.Server) map[string]any { return m }
}
