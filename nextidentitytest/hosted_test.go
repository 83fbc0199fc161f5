package nextidentitytest_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func hostedURL(srv *nextidentitytest.Server, e nextidentitytest.Endpoint, p pkce, scope string) string {
	return authURL(srv, e, authParams(p, map[string]string{"scope": scope}))
}

func TestRegisterCreatesTheUserAndSignsIn(t *testing.T) {
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
	ctx := t.Context()
	p := newPKCE(t)

	b := srv.NewBrowser()
	q, err := b.SignUp(ctx, hostedURL(srv, nextidentitytest.EndpointRegister, p, "openid profile email"), " Ada Lovelace ", "ada@example.com", "engine")
	require.NoError(t, err)
	require.Equal(t, "st-123", q.Get("state"))
	require.Equal(t, srv.Issuer(), q.Get("iss"))
	_, c := verify(t, srv, exchange(t, srv, q.Get("code"), p).IDToken)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, c["sub"])
	require.Equal(t, "Ada Lovelace", c["name"])
	require.Equal(t, "ada@example.com", c["email"])
	require.Equal(t, false, c["email_verified"])
	require.Equal(t, nextidentitytest.FormatUpdatedAt(clk.Now()), c["updated_at"])
	require.Equal(t, float64(clk.Now().Unix()), c["auth_time"])

	// Signed in: the browser's session gives codes for the new user.
	q, err = b.Authorize(ctx, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, map[string]string{"prompt": "none"})))
	require.NoError(t, err)
	require.Equal(t, c["sub"], subjectOf(t, srv, q, p))
	// And the account signs in anywhere with its password.
	q, err = srv.NewBrowser().Login(ctx, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, nil)), "ADA@example.com", "engine")
	require.NoError(t, err)
	require.Equal(t, c["sub"], subjectOf(t, srv, q, p))
}

func TestRegisterRefusesAnExistingEmail(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	b := srv.NewBrowser()
	_, err := b.SignUp(t.Context(), hostedURL(srv, nextidentitytest.EndpointRegister, p, "openid"), "Impostor", "JANE@example.com", "x")
	require.ErrorIs(t, err, nextidentitytest.ErrSignUpRejected)
	require.EqualError(t, err, "nextidentitytest: the provider rejected the sign-up (An account with this email address already exists.)")

	// Jane's account is untouched and the browser is not signed in.
	q, err := srv.NewBrowser().Login(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, nil)), "jane@example.com", "password")
	require.NoError(t, err)
	require.Equal(t, nextidentitytest.DefaultUserSubject, subjectOf(t, srv, q, p))
	_, err = b.Authorize(t.Context(), authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, nil)))
	require.ErrorIs(t, err, nextidentitytest.ErrLoginRequired)
}

func TestRegisterFormRawHTTP(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	c := jarClient(t, srv)
	req, err := http.NewRequest(http.MethodGet, hostedURL(srv, nextidentitytest.EndpointRegister, newPKCE(t), "openid"), nil)
	require.NoError(t, err)
	r := do(t, c, req)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `<form id="signup-form" method="post" action="/login">`)
	require.Contains(t, r.body, `id="signup-name" name="name"`)
	require.Contains(t, r.body, `id="signup-email" name="email"`)
	require.Contains(t, r.body, `id="signup-password" name="password"`)
	require.Contains(t, r.body, `<button type="submit" id="signup" name="action" value="signup">`)
	require.Contains(t, r.body, `<form id="signin-form"`, "existing users can sign in instead")
	id := requestIDRe.FindStringSubmatch(r.body)[1]

	for _, tc := range []struct {
		name, email, password, want string
	}{
		{"", "new@example.com", "pw", "Enter your name."},
		{"New", "not-an-email", "pw", "Enter a valid email address."},
		{"New", "new@example.com", "", "Choose a password."},
		{"New", "Jane@Example.com", "pw", "An account with this email address already exists."},
	} {
		r = postLogin(t, srv, c, url.Values{"request": {id}, "action": {"signup"}, "name": {tc.name}, "email": {tc.email}, "password": {tc.password}})
		require.Equal(t, http.StatusOK, r.status, tc.want)
		require.Contains(t, r.body, `<p id="error" role="alert">`+tc.want+`</p>`)
		require.Contains(t, r.body, `id="signup-form"`, "the form again, same request")
		require.Contains(t, r.body, `value="`+id+`"`)
		require.Empty(t, sessionCookie(t, srv, c), tc.want)
	}

	// Signing up is only offered on /register.
	id = showLoginIn(t, srv, c, newPKCE(t))
	r = postLogin(t, srv, c, url.Values{"request": {id}, "action": {"signup"}, "name": {"N"}, "email": {"n@example.com"}, "password": {"pw"}})
	require.Equal(t, http.StatusBadRequest, r.status)
}

func TestPersonalDetailsUpdatesTheSignedInUser(t *testing.T) {
	clk := newClock()
	srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
	ctx := t.Context()
	p := newPKCE(t)
	const scope = "openid profile email phone"

	// With a session, /personal-details shows the form straight away.
	signedIn := login(t, srv, p, nil)
	exchange(t, srv, signedIn.Get("code"), p)
	clk.Advance(time.Hour)
	q, err := srv.EditProfile(ctx, hostedURL(srv, nextidentitytest.EndpointPersonalDetails, p, scope), map[string]string{
		"name": "Jane Q. Doe", "phone_number": "+15555550100",
	})
	require.NoError(t, err)
	require.Equal(t, "st-123", q.Get("state"))
	require.Equal(t, srv.Issuer(), q.Get("iss"))
	tk := exchange(t, srv, q.Get("code"), p)
	_, c := verify(t, srv, tk.IDToken)
	require.Equal(t, nextidentitytest.DefaultUserSubject, c["sub"])
	require.Equal(t, "Jane Q. Doe", c["name"])
	require.Equal(t, "Jane", c["given_name"], "fields not changed keep their values")
	require.Equal(t, "+15555550100", c["phone_number"])
	require.Equal(t, nextidentitytest.FormatUpdatedAt(clk.Now()), c["updated_at"])
	require.Equal(t, float64(clk.Now().Add(-time.Hour).Unix()), c["auth_time"], "no new authentication")
	ui := userInfo(t, srv, http.MethodGet, "Bearer "+tk.AccessToken)
	require.Contains(t, ui.body, `"name":"Jane Q. Doe"`)

	// Saving without a change leaves updated_at alone (Login submits the
	// form as shown).
	edited := clk.Now()
	clk.Advance(time.Hour)
	q, err = srv.Login(ctx, hostedURL(srv, nextidentitytest.EndpointPersonalDetails, p, scope), "", "")
	require.NoError(t, err)
	_, c = verify(t, srv, exchange(t, srv, q.Get("code"), p).IDToken)
	require.Equal(t, nextidentitytest.FormatUpdatedAt(edited), c["updated_at"])

	_, err = srv.EditProfile(ctx, hostedURL(srv, nextidentitytest.EndpointPersonalDetails, p, scope), map[string]string{"email": "x@example.com"})
	require.EqualError(t, err, `nextidentitytest: the personal-details form has no field "email"`)
}

func TestPersonalDetailsSignsInFirst(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	u := hostedURL(srv, nextidentitytest.EndpointPersonalDetails, p, "openid profile")

	// Without a session, EditProfile cannot sign in.
	_, err := srv.NewBrowser().EditProfile(t.Context(), u, map[string]string{"name": "X"})
	require.ErrorIs(t, err, nextidentitytest.ErrLoginRequired)

	// Raw: the sign-in page, then the profile form, then the code.
	c := jarClient(t, srv)
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	r := do(t, c, req)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, `<h1>Your personal details</h1>`)
	id := requestIDRe.FindStringSubmatch(r.body)[1]
	r = postLogin(t, srv, c, url.Values{"request": {id}, "action": {"signin"}, "email": {"jane@example.com"}, "password": {"password"}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.NotEmpty(t, sessionCookie(t, srv, c), "signed in")
	require.Contains(t, r.body, `<form id="profile-form" method="post" action="/login">`)
	require.Contains(t, r.body, `<span id="account-email">jane@example.com</span>`)
	require.Contains(t, r.body, `id="name" name="name" value="Jane Doe"`)
	require.Contains(t, r.body, `id="locale" name="locale" value="en-US"`)
	require.Contains(t, r.body, `value="`+id+`"`, "the same request continues")

	// Another browser cannot save it.
	r = postLogin(t, srv, rawClient(srv), url.Values{"request": {id}, "action": {"save"}, "name": {"Mallory"}})
	require.Equal(t, http.StatusForbidden, r.status)

	r = postLogin(t, srv, c, url.Values{"request": {id}, "action": {"save"}, "locale": {"en-GB"}})
	q := location(t, r).Query()
	require.Equal(t, http.StatusSeeOther, r.status)
	_, claims := verify(t, srv, exchange(t, srv, q.Get("code"), p).IDToken)
	require.Equal(t, "en-GB", claims["locale"])
	require.Equal(t, "Jane Doe", claims["name"], "a field left out of the post keeps its value")

	// The request is spent.
	r = postLogin(t, srv, c, url.Values{"request": {id}, "action": {"save"}})
	require.Equal(t, http.StatusBadRequest, r.status)
}
