package nextidentitytest_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// forgotParams are the documented hosted forgot-password parameters, with
// PKCE; edit changes them (an empty value deletes the parameter).
func forgotParams(p pkce, edit map[string]string) url.Values {
	v := url.Values{
		"client_id":             {nextidentitytest.DefaultClientID},
		"redirect_uri":          {nextidentitytest.DefaultRedirectURI},
		"response_type":         {"code"},
		"state":                 {"st-789"},
		"scope":                 {"openid email"},
		"response_format":       {"openid"},
		"ui_locales":            {"en-US"},
		"nonce":                 {"n-1"},
		"code_challenge":        {p.challenge},
		"code_challenge_method": {"S256"},
	}
	for k, val := range edit {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return v
}

func TestHostedForgotPasswordRequestAnswers(t *testing.T) {
	api := nextidentitytest.DefaultClient()
	api.ID, api.Integration = "api-app", nextidentitytest.IntegrationAPI
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{nextidentitytest.DefaultClient(), api}})
	p := newPKCE(t)
	for _, tc := range []struct {
		name   string
		edit   map[string]string
		status int
		title  string // error page title
		oauth  string // error parameter of the redirect
	}{
		{name: "shown", status: 200},
		{name: "without PKCE", edit: map[string]string{"code_challenge": "", "code_challenge_method": ""}, status: 200},
		{name: "unknown client", edit: map[string]string{"client_id": "nope"}, status: 400, title: "Invalid client"},
		{name: "no client_id", edit: map[string]string{"client_id": ""}, status: 400, title: "Invalid client"},
		{name: "API-only client", edit: map[string]string{"client_id": "api-app"}, status: 400, title: "Invalid client"},
		{name: "unregistered redirect_uri", edit: map[string]string{"redirect_uri": "https://evil.example/"}, status: 400, title: "Invalid redirect URI"},
		{name: "no response_type", edit: map[string]string{"response_type": ""}, status: 302, oauth: "invalid_request"},
		{name: "response_type token", edit: map[string]string{"response_type": "token"}, status: 302, oauth: "unsupported_response_type"},
		{name: "plain PKCE", edit: map[string]string{"code_challenge_method": "plain"}, status: 302, oauth: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, srv, authURL(srv, nextidentitytest.EndpointForgotPassword, forgotParams(p, tc.edit)))
			require.Equal(t, tc.status, r.status, r.body)
			switch {
			case tc.title != "":
				require.Contains(t, r.body, `<h1 id="title">`+tc.title+`</h1>`)
			case tc.oauth != "":
				q := location(t, r).Query()
				require.Equal(t, tc.oauth, q.Get("error"))
				require.Equal(t, "st-789", q.Get("state"))
				require.Equal(t, srv.Issuer(), q.Get("iss"))
			default:
				require.Contains(t, r.body, `id="forgot-form"`)
			}
		})
	}
}

// showForgot opens the hosted forgot-password form in the client's jar and
// returns the request id.
func showForgot(t *testing.T, srv *nextidentitytest.Server, c *http.Client, p pkce) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, authURL(srv, nextidentitytest.EndpointForgotPassword, forgotParams(p, nil)), nil)
	require.NoError(t, err)
	r := do(t, c, req)
	require.Equal(t, http.StatusOK, r.status)
	m := requestIDRe.FindStringSubmatch(r.body)
	require.NotNil(t, m, r.body)
	return m[1]
}

func TestHostedForgotPasswordFormAnswers(t *testing.T) {
	p := newPKCE(t)
	post := func(t *testing.T, srv *nextidentitytest.Server, c *http.Client, form url.Values) response {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/forgot-password", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return do(t, c, req)
	}
	for _, tc := range []struct {
		name      string
		form      func(id string) url.Values
		otherJar  bool
		status    int
		shown     string
		messageTo string
	}{
		{name: "known user", form: func(id string) url.Values {
			return url.Values{"request": {id}, "identifier": {nextidentitytest.DefaultUserEmail}, "action": {"send"}}
		}, status: 200, shown: "Check your messages", messageTo: nextidentitytest.DefaultUserEmail},
		{name: "unknown user looks the same", form: func(id string) url.Values {
			return url.Values{"request": {id}, "identifier": {"nobody@example.com"}, "action": {"send"}}
		}, status: 200, shown: "Check your messages"},
		{name: "empty identifier", form: func(id string) url.Values {
			return url.Values{"request": {id}, "action": {"send"}}
		}, status: 200, shown: "Enter your email address or phone number."},
		{name: "unknown request", form: func(string) url.Values {
			return url.Values{"request": {"nope"}, "identifier": {nextidentitytest.DefaultUserEmail}}
		}, status: 400, shown: "Request expired"},
		{name: "another browser", otherJar: true, form: func(id string) url.Values {
			return url.Values{"request": {id}, "identifier": {nextidentitytest.DefaultUserEmail}}
		}, status: 403, shown: "started in another browser"},
		{name: "cancel", form: func(id string) url.Values {
			return url.Values{"request": {id}, "action": {"cancel"}}
		}, status: 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, nextidentitytest.Options{})
			c := jarClient(t, srv)
			id := showForgot(t, srv, c, p)
			if tc.otherJar {
				c = jarClient(t, srv)
			}
			r := post(t, srv, c, tc.form(id))
			require.Equal(t, tc.status, r.status, r.body)
			if tc.status == 303 {
				q := location(t, r).Query()
				require.Equal(t, "access_denied", q.Get("error"))
				require.Equal(t, "st-789", q.Get("state"))
				return
			}
			require.Contains(t, r.body, tc.shown)
			out := srv.Outbox()
			if tc.messageTo == "" {
				require.Empty(t, out)
				return
			}
			require.Len(t, out, 1)
			require.Equal(t, nextidentitytest.MessageForgotPassword, out[0].Kind)
			require.Contains(t, out[0].Link, srv.URL+"/reset-password?token=")
			require.Empty(t, out[0].PIN)
		})
	}
}

func TestHostedForgotPasswordJourney(t *testing.T) {
	ctx := context.Background()
	t.Run("with PKCE: signed in with a code", func(t *testing.T) {
		srv := newServer(t, nextidentitytest.Options{})
		p := newPKCE(t)
		b := srv.NewBrowser()
		q, err := b.RequestPasswordReset(ctx, authURL(srv, nextidentitytest.EndpointForgotPassword, forgotParams(p, nil)), "JANE@example.com")
		require.NoError(t, err)
		require.Nil(t, q)
		msg, ok := srv.LastMessage(nextidentitytest.DefaultUserEmail)
		require.True(t, ok)

		_, err = b.ResetPassword(ctx, msg.Link, "short")
		require.ErrorIs(t, err, nextidentitytest.ErrFormRejected)
		q, err = b.ResetPassword(ctx, msg.Link, newPassword)
		require.NoError(t, err)
		require.Equal(t, "st-789", q.Get("state"))
		require.Equal(t, srv.Issuer(), q.Get("iss"))
		tk := exchange(t, srv, q.Get("code"), p)
		_, claims := verify(t, srv, tk.IDToken)
		require.Equal(t, nextidentitytest.DefaultUserSubject, claims["sub"])
		require.Equal(t, "n-1", claims["nonce"])

		// The new password works, the old one does not; the link is spent.
		apiLogin(t, srv, map[string]any{"password": newPassword})
		require.Equal(t, http.StatusUnauthorized, postJSON(t, srv, nextidentitytest.EndpointAccountLogin, apiLoginBody(), nil).status)
		_, err = b.ResetPassword(ctx, msg.Link, newPassword)
		require.Error(t, err)
		// The browser is signed in: prompt=none gets a code.
		p2 := newPKCE(t)
		q, err = b.Authorize(ctx, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p2, map[string]string{"prompt": "none"})))
		require.NoError(t, err)
		require.NotEmpty(t, q.Get("code"))
	})
	t.Run("without PKCE: state only", func(t *testing.T) {
		srv := newServer(t, nextidentitytest.Options{})
		p := newPKCE(t)
		_, err := srv.RequestPasswordReset(ctx, authURL(srv, nextidentitytest.EndpointForgotPassword,
			forgotParams(p, map[string]string{"code_challenge": "", "code_challenge_method": ""})), nextidentitytest.DefaultUserEmail)
		require.NoError(t, err)
		msg, _ := srv.LastMessage(nextidentitytest.DefaultUserEmail)
		q, err := srv.ResetPassword(ctx, msg.Link, newPassword)
		require.NoError(t, err)
		require.Equal(t, "st-789", q.Get("state"))
		require.Empty(t, q.Get("code"))
		apiLogin(t, srv, map[string]any{"password": newPassword})
	})
	t.Run("invalid request comes back as a query", func(t *testing.T) {
		srv := newServer(t, nextidentitytest.Options{})
		q, err := srv.RequestPasswordReset(ctx, authURL(srv, nextidentitytest.EndpointForgotPassword,
			forgotParams(newPKCE(t), map[string]string{"response_type": "token"})), nextidentitytest.DefaultUserEmail)
		require.NoError(t, err)
		require.Equal(t, "unsupported_response_type", q.Get("error"))
	})
	t.Run("reset link answers", func(t *testing.T) {
		clk := newClock()
		srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
		_, err := srv.RequestPasswordReset(ctx, authURL(srv, nextidentitytest.EndpointForgotPassword, forgotParams(newPKCE(t), nil)), nextidentitytest.DefaultUserEmail)
		require.NoError(t, err)
		msg, _ := srv.LastMessage(nextidentitytest.DefaultUserEmail)
		r := get(t, srv, msg.Link)
		require.Equal(t, http.StatusOK, r.status)
		require.Contains(t, r.body, `id="reset-form"`)
		require.Equal(t, http.StatusBadRequest, get(t, srv, srv.URL+"/reset-password?token=nope").status)
		clk.Advance(nextidentitytest.ResetLifetime)
		r = get(t, srv, msg.Link)
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Contains(t, r.body, "Link expired")
	})
}

func TestSignInPageLinksToForgotPassword(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	p := newPKCE(t)
	r := get(t, srv, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, nil)))
	require.Equal(t, http.StatusOK, r.status)
	m := regexp.MustCompile(`id="forgot-password" href="([^"]+)"`).FindStringSubmatch(r.body)
	require.NotNil(t, m, r.body)
	ref, err := url.Parse(html.UnescapeString(m[1]))
	require.NoError(t, err)
	require.Equal(t, "/forgot-password", ref.Path)

	// The journey from that link comes back to the sign-in's redirect URI
	// with its state and a code for its PKCE verifier.
	ctx := context.Background()
	_, err = srv.RequestPasswordReset(ctx, srv.URL+ref.String(), nextidentitytest.DefaultUserEmail)
	require.NoError(t, err)
	msg, _ := srv.LastMessage(nextidentitytest.DefaultUserEmail)
	q, err := srv.ResetPassword(ctx, msg.Link, newPassword)
	require.NoError(t, err)
	require.Equal(t, "st-123", q.Get("state"))
	exchange(t, srv, q.Get("code"), p)
}
