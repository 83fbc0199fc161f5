package nextidentitytest_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestUserInfo(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	tk := exchange(t, srv, login(t, srv, p, nil).Get("code"), p)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		for _, scheme := range []string{"Bearer ", "bearer "} {
			r := userInfo(t, srv, method, scheme+tk.AccessToken)
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.Equal(t, "application/json", r.header.Get("Content-Type"))
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.body), &got))
			require.Equal(t, map[string]any{
				"sub":            nextidentitytest.DefaultUserSubject,
				"name":           "Jane Doe",
				"given_name":     "Jane",
				"family_name":    "Doe",
				"email":          "jane@example.com",
				"email_verified": true,
				"locale":         "en-US",
				"updated_at":     "2021-01-07 20:44:35.176625 +0000",
				"membership":     "gold",
			}, got)
		}
	}
	require.Equal(t, 4, srv.Requests(nextidentitytest.EndpointUserInfo))
}

func TestUserInfoErrors(t *testing.T) {
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
	p := newPKCE(t)
	tk := exchange(t, srv, login(t, srv, p, nil).Get("code"), p)

	for _, tc := range []struct {
		name, authorization string
		advance             time.Duration
		status              int
		body                string
	}{
		{"no header", "", 0, 400, bodyInvalidRequest},
		{"empty bearer", "Bearer ", 0, 400, bodyInvalidRequest},
		{"bare scheme", "Bearer", 0, 400, bodyInvalidRequest},
		{"basic scheme", "Basic dGVzdDp0ZXN0", 0, 400, bodyInvalidRequest},
		{"unknown token", "Bearer aaaaaaaaaaaaaaaa", 0, 401, bodyUnauthorized},
		{"valid token", "Bearer " + tk.AccessToken, 0, 200, ""},
		{"expired token", "Bearer " + tk.AccessToken, nextidentitytest.AccessTokenLifetime, 401, bodyUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Advance(tc.advance)
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				r := userInfo(t, srv, method, tc.authorization)
				require.Equal(t, tc.status, r.status)
				if tc.body != "" {
					require.Equal(t, tc.body, r.body)
					require.Equal(t, "application/json", r.header.Get("Content-Type"))
				}
			}
		})
	}
	r := userInfo(t, srv, http.MethodDelete, "Bearer x")
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
}

func TestAddUserAndCustomClaims(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	srv.AddUser(nextidentitytest.User{
		Email:               "bob@example.com",
		Password:            "hunter2",
		Name:                "Bob",
		PhoneNumber:         "+15555550100",
		PhoneNumberVerified: true,
		UpdatedAt:           time.Date(2020, 12, 14, 21, 22, 11, 304747000, time.FixedZone("x", 3600)),
		Claims:              map[string]any{"tier": 3, "roles": []string{"a", "b"}, "email": "spoof@example.com", "sub": "spoof"},
	})
	p := newPKCE(t)
	q, err := srv.Login(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"scope": "openid profile email phone"})), "Bob@Example.com", "hunter2")
	require.NoError(t, err)
	tk := exchange(t, srv, q.Get("code"), p)
	_, idc := verify(t, srv, tk.IDToken)

	r := userInfo(t, srv, http.MethodPost, "Bearer "+tk.AccessToken)
	var ui map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &ui))
	for _, c := range []map[string]any{idc, ui} {
		require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, c["sub"])
		require.Equal(t, "bob@example.com", c["email"], "custom claims cannot replace standard ones")
		require.Equal(t, "+15555550100", c["phone_number"])
		require.Equal(t, true, c["phone_number_verified"])
		require.Equal(t, "2020-12-14 20:22:11.304747 +0000", c["updated_at"], "UTC, provider format")
		require.Equal(t, float64(3), c["tier"])
		require.Equal(t, []any{"a", "b"}, c["roles"])
		require.NotContains(t, c, "given_name", "empty claims are omitted")
	}
	require.Equal(t, idc["sub"], ui["sub"])

	// AddUser with the same email replaces the account.
	srv.AddUser(nextidentitytest.User{Subject: "bob-2", Email: "BOB@example.com", Password: "new"})
	_, err = srv.Login(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"prompt": "login"})), "bob@example.com", "hunter2")
	require.ErrorIs(t, err, nextidentitytest.ErrInvalidCredentials)
	q, err = srv.Login(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"prompt": "login"})), "bob@example.com", "new")
	require.NoError(t, err)
	require.NotEmpty(t, q.Get("code"))
}

func TestFormatUpdatedAt(t *testing.T) {
	ts := time.Date(2021, 1, 7, 20, 44, 35, 176625000, time.UTC)
	require.Equal(t, "2021-01-07 20:44:35.176625 +0000", nextidentitytest.FormatUpdatedAt(ts))
	require.Equal(t, "2021-01-07 20:44:35.000000 +0000", nextidentitytest.FormatUpdatedAt(ts.Truncate(time.Second)))
	parsed, err := time.Parse(nextidentitytest.UpdatedAtLayout, "2021-01-07 20:44:35.176625 +0000")
	require.NoError(t, err)
	require.True(t, parsed.Equal(ts))
}
