package nextidentity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// Shared set-up of the provider tests (provider_*_test.go): accounts, a fake
// clock shared by the fake provider and the client, and the sign-in steps.

// provEpoch is where the fake clock shared by the fake provider and the
// client starts.
var provEpoch = time.Date(2025, 6, 2, 9, 30, 0, 0, time.UTC)

// Accounts registered with the fake provider by these tests.
const (
	provEmail       = "ada@example.com"
	provPassword    = "correct horse battery staple"
	provSubject     = "0f4c1b0e-3c1a-4e55-9a55-6d1d8bb0e7a2"
	provPublicID    = "spa-client"
	provPublicRedir = "http://127.0.0.1:8080/auth/callback"
)

// provUser is a user with every profile claim and a few custom claims.
func provUser() nextidentitytest.User {
	return nextidentitytest.User{
		Subject:             provSubject,
		Email:               provEmail,
		Password:            provPassword,
		Name:                "Ada Lovelace",
		GivenName:           "Ada",
		FamilyName:          "Lovelace",
		PhoneNumber:         "+15145550123",
		Locale:              "fr-CA",
		EmailVerified:       true,
		PhoneNumberVerified: true,
		UpdatedAt:           time.Date(2023, 3, 14, 15, 9, 26, 535897000, time.UTC),
		Claims: map[string]any{
			"membership":     "platinum",
			"loyalty_points": 1234,
			"roles":          []string{"admin", "editor"},
			"address":        map[string]any{"country": "CA", "locality": "Montréal"},
		},
	}
}

// provCustom is the custom claims of provUser as the client decodes them.
type provCustom struct {
	Membership    string   `json:"membership"`
	LoyaltyPoints int      `json:"loyalty_points"`
	Roles         []string `json:"roles"`
	Address       struct {
		Country  string `json:"country"`
		Locality string `json:"locality"`
	} `json:"address"`
	UpdatedAt string `json:"updated_at"` // the provider's raw string form
}

// provEnv is a fake provider with a fake clock and a client of it.
type provEnv struct {
	srv *nextidentitytest.Server
	clk *fakeClock
	c   *nextidentity.Client
	cfg nextidentity.Config
}

// login starts a sign-in and signs in on the hosted page (or with the fake
// browser's session), returning the AuthRequest and the callback query.
func (e *provEnv) login(t *testing.T, opts ...nextidentity.AuthOption) (*nextidentity.AuthRequest, url.Values) {
	t.Helper()
	ar, err := e.c.AuthCodeURL(opts...)
	require.NoError(t, err)
	q, err := e.srv.Login(t.Context(), ar.URL, provEmail, provPassword)
	require.NoError(t, err)
	require.Equal(t, ar.State, q.Get("state"))
	return ar, q
}

// signIn is login followed by a successful Exchange.
func (e *provEnv) signIn(t *testing.T, opts ...nextidentity.AuthOption) (*nextidentity.AuthRequest, *nextidentity.Token) {
	t.Helper()
	ar, q := e.login(t, opts...)
	tok, err := e.c.Exchange(t.Context(), q, ar)
	require.NoError(t, err)
	return ar, tok
}

// provRequireProfile checks the profile claims of provUser.
func provRequireProfile(t *testing.T, p nextidentity.Profile) {
	t.Helper()
	u := provUser()
	require.Equal(t, u.Name, p.Name)
	require.Equal(t, u.GivenName, p.GivenName)
	require.Equal(t, u.FamilyName, p.FamilyName)
	require.Equal(t, u.Email, p.Email)
	require.True(t, p.EmailVerified)
	require.Equal(t, u.PhoneNumber, p.PhoneNumber)
	require.True(t, p.PhoneNumberVerified)
	require.Equal(t, u.Locale, p.Locale)
	// Parsed from the provider's "2023-03-14 15:09:26.535897 +0000" string,
	// to the microsecond.
	require.True(t, u.UpdatedAt.Equal(p.UpdatedAt), "UpdatedAt %s, want %s", p.UpdatedAt, u.UpdatedAt)
}

// provRequireCustom checks the custom claims of provUser, decoded with claims
// (IDToken.Claims or UserInfo.Claims).
func provRequireCustom(t *testing.T, claims func(any) error) {
	t.Helper()
	var got provCustom
	require.NoError(t, claims(&got))
	require.Equal(t, "platinum", got.Membership)
	require.Equal(t, 1234, got.LoyaltyPoints)
	require.Equal(t, []string{"admin", "editor"}, got.Roles)
	require.Equal(t, "CA", got.Address.Country)
	require.Equal(t, "Montréal", got.Address.Locality)
	require.Equal(t, "2023-03-14 15:09:26.535897 +0000", got.UpdatedAt)
	require.Equal(t, nextidentitytest.FormatUpdatedAt(provUser().UpdatedAt), got.UpdatedAt)
}

// provRequireInstant checks that got is the instant want, whatever its
// location.
func provRequireInstant(t *testing.T, want, got time.Time) {
	t.Helper()
	require.True(t, want.Equal(got), "got %s, want %s", got, want)
}

// provHeader decodes the JOSE header of a compact JWS.
func provHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	seg, _, ok := strings.Cut(raw, ".")
	require.True(t, ok)
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(b, &h))
	return h
}

// provProviderError asserts err is an *Error and returns it.
func provProviderError(t *testing.T, err error) *nextidentity.Error {
	t.Helper()
	require.Error(t, err)
	var pe *nextidentity.Error
	require.ErrorAs(t, err, &pe, "%v", err)
	return pe
}

var provRequestField = regexp.MustCompile(`name="request" value="([^"]*)"`)

// provCancel plays a user who opens authURL in a fresh browser and presses
// Cancel on the hosted sign-in page. It returns the query of the provider's
// redirect to the application. (Server.Login only ever signs in.)
func provCancel(t *testing.T, srv *nextidentitytest.Server, authURL string) url.Values {
	t.Helper()
	hc := srv.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	jar, err := cookiejar.New(nil) // the sign-in page is bound to the browser's cookie
	require.NoError(t, err)
	hc.Jar = jar

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, authURL, nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	m := provRequestField.FindSubmatch(page)
	require.NotNil(t, m, "no sign-in form in %s", page)

	form := url.Values{"request": {string(m[1])}, "action": {"cancel"}}
	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost,
		srv.URL+string(nextidentitytest.EndpointLogin), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = hc.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return loc.Query()
}

// provCall is one provider call of a signed-in or signing-in user, for
// tables that run the same check on exchange, refresh and userinfo.
type provCall struct {
	signedIn bool // the call needs the exchanged token first
	do       func(ctx context.Context, t *testing.T, e *provEnv, ar *nextidentity.AuthRequest, q url.Values, tok *nextidentity.Token) error
}

var (
	provExchange = provCall{false, func(ctx context.Context, t *testing.T, e *provEnv, ar *nextidentity.AuthRequest, q url.Values, _ *nextidentity.Token) error {
		tok, err := e.c.Exchange(ctx, q, ar)
		if err == nil {
			require.Equal(t, provSubject, tok.IDToken.Subject)
		}
		return err
	}}
	provRefresh = provCall{true, func(ctx context.Context, t *testing.T, e *provEnv, _ *nextidentity.AuthRequest, _ url.Values, tok *nextidentity.Token) error {
		nt, err := e.c.Refresh(ctx, tok)
		if err == nil {
			require.Equal(t, provSubject, nt.IDToken.Subject)
		}
		return err
	}}
	provUserInfo = provCall{true, func(ctx context.Context, t *testing.T, e *provEnv, _ *nextidentity.AuthRequest, _ url.Values, tok *nextidentity.Token) error {
		ui, err := e.c.UserInfo(ctx, tok)
		if err == nil {
			require.Equal(t, provSubject, ui.Subject)
		}
		return err
	}}
)

// provCallSetup starts a provider and signs in with offline access,
// exchanging the code when call needs a token.
func provCallSetup(t *testing.T, call provCall) (*provEnv, *nextidentity.AuthRequest, url.Values, *nextidentity.Token) {
	t.Helper()
	e := provStart(t, nextidentitytest.Options{}, "", nil)
	ar, q := e.login(t, nextidentity.WithOfflineAccess())
	var tok *nextidentity.Token
	if call.signedIn {
		var err error
		tok, err = e.c.Exchange(t.Context(), q, ar)
		require.NoError(t, err)
	}
	return e, ar, q, tok
}
