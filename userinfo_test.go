package nextidentity_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// The documented sample result, updated_at in the provider's string format.
const documentedUserInfo = `{ "sub": "9cde62ef-3d64-4aff-89f4-5362ec858cc3", "name": "John", "given_name": "Smith", "family_name": "John", "email": "john@example.com", "email_verified": true, "updated_at": "2020-12-14 21:22:11.304747 +0000", "locale": "en-US", "membership": "gold" }`

func TestUserInfo(t *testing.T) {
	for _, method := range []string{"", http.MethodPost, http.MethodGet} {
		t.Run("method "+method, func(t *testing.T) {
			p := testprovider.New(t)
			p.Handle(testprovider.PathUserInfo, func(w http.ResponseWriter, r *http.Request) {
				want := method
				if want == "" {
					want = http.MethodPost
				}
				require.Equal(t, want, r.Method)
				require.Equal(t, "Bearer rb5bzkygqs5ahevp", r.Header.Get("Authorization"))
				require.Empty(t, r.URL.RawQuery, "the token never goes in the URL")
				body, _ := io.ReadAll(r.Body)
				require.NotContains(t, string(body), "rb5bzkygqs5ahevp")
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, documentedUserInfo)
			})
			cfg := mkConfig(p)
			cfg.UserInfoMethod = method
			c := mkClient(t, cfg)
			ui, err := c.UserInfo(context.Background(), &nextidentity.Token{AccessToken: "rb5bzkygqs5ahevp"})
			require.NoError(t, err)
			require.Equal(t, "9cde62ef-3d64-4aff-89f4-5362ec858cc3", ui.Subject)
			require.Equal(t, "John", ui.Name)
			require.Equal(t, "Smith", ui.GivenName)
			require.Equal(t, "John", ui.FamilyName)
			require.Equal(t, "john@example.com", ui.Email)
			require.True(t, ui.EmailVerified)
			require.Equal(t, "en-US", ui.Locale)
			require.Equal(t, time.Date(2020, 12, 14, 21, 22, 11, 304747000, time.UTC), ui.UpdatedAt.UTC())
			var custom struct {
				Membership string `json:"membership"`
			}
			require.NoError(t, ui.Claims(&custom))
			require.Equal(t, "gold", custom.Membership)
		})
	}
}

func TestUserInfoErrors(t *testing.T) {
	p := testprovider.New(t)
	c := mkClient(t, mkConfig(p))
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   error
		desc   string
	}{
		{"documented 401", 401, `{"error":"http_exception","error_details":{"message":"Unauthorized"}}`, nextidentity.ErrUnauthorized, "Unauthorized"},
		{"documented 400", 400, `{"stat":"error","error":"invalid_request"}`, nextidentity.ErrInvalidRequest, ""},
		{"200 stat error", 200, `{"stat":"error","error":"invalid_request"}`, nextidentity.ErrInvalidRequest, ""},
		{"200 http_exception", 200, `{"error":"http_exception","error_details":{"message":"Unauthorized"}}`, nextidentity.ErrUnauthorized, "Unauthorized"},
		{"bare 401", 401, ``, nextidentity.ErrUnauthorized, ""},
		{"no sub", 200, `{"name":"x"}`, nextidentity.ErrMalformedResponse, ""},
		{"not json", 200, `Unauthorized`, nextidentity.ErrMalformedResponse, ""},
		// encoding/json would read "SUB" as sub: names are case-sensitive.
		{"case-variant sub", 200, `{"sub":"b30647ef-7f03-4ce1-ae91-9476e49d0605","SUB":"victim"}`, nextidentity.ErrMalformedResponse, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.Handle(testprovider.PathUserInfo, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			ui, err := c.UserInfo(context.Background(), &nextidentity.Token{AccessToken: "a"})
			require.Nil(t, ui)
			require.ErrorIs(t, err, tc.want)
			var pe *nextidentity.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tc.status, pe.StatusCode)
			require.Equal(t, tc.desc, pe.Description)
		})
	}
	_, err := c.UserInfo(context.Background(), &nextidentity.Token{})
	require.ErrorIs(t, err, nextidentity.ErrNoAccessToken)
	require.NotErrorIs(t, err, nextidentity.ErrInvalidRequest, "a local check is not the provider's invalid_request")
	require.NotErrorIs(t, err, nextidentity.ErrProvider)
}

func TestUserInfoSubjectMustMatchIDToken(t *testing.T) {
	p := testprovider.New(t)
	p.Handle(testprovider.PathUserInfo, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, documentedUserInfo)
	})
	c := mkClient(t, mkConfig(p))
	raw := testprovider.Sign("RS256", p.RSA, p.Claims(time.Now(), ""), nil)
	idt, err := c.VerifyIDToken(context.Background(), raw, "")
	require.NoError(t, err)
	for _, tok := range []*nextidentity.Token{
		{AccessToken: "a", IDToken: idt},
		{AccessToken: "a", RawIDToken: raw}, // restored from a session store
	} {
		_, err = c.UserInfo(context.Background(), tok)
		require.ErrorIs(t, err, nextidentity.ErrSubjectMismatch)
	}
}
