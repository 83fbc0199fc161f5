package nextidentitytest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// invited invites inviteeEmail and returns the activation link.
func invited(t *testing.T, srv *nextidentitytest.Server) string {
	t.Helper()
	r := invite(t, srv, nil)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	msg, ok := srv.LastMessage(inviteeEmail)
	require.True(t, ok)
	return msg.Link
}

func postActivation(t *testing.T, srv *nextidentitytest.Server, link string, form url.Values) response {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	form.Set("token", u.Query().Get("token"))
	return postForm(t, srv, string(nextidentitytest.EndpointActivate), form, nil)
}

func TestActivationScreenAnswers(t *testing.T) {
	valid := url.Values{"password": {newPassword}, "password_confirm": {newPassword}, "accept_terms": {"yes"}}
	edit := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range valid {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	for _, tc := range []struct {
		name  string
		form  url.Values
		shown string
	}{
		{"no password", edit("password", ""), "Choose a password."},
		{"passwords differ", edit("password_confirm", "another-secret"), "The passwords do not match."},
		{"short password", url.Values{"password": {"short"}, "password_confirm": {"short"}, "accept_terms": {"yes"}}, "Use at least 8 characters."},
		{"breached password", url.Values{"password": {"password1"}, "password_confirm": {"password1"}, "accept_terms": {"yes"}}, "data breach"},
		{"terms not accepted", edit("accept_terms", ""), "Accept the terms of service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, nextidentitytest.Options{})
			link := invited(t, srv)
			r := postActivation(t, srv, link, tc.form)
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.Contains(t, r.body, `id="error"`)
			require.Contains(t, r.body, tc.shown)
			require.Contains(t, r.body, `id="activate-form"`)
		})
	}
	t.Run("shown", func(t *testing.T) {
		srv := newServer(t, nextidentitytest.Options{})
		r := get(t, srv, invited(t, srv))
		require.Equal(t, http.StatusOK, r.status)
		require.Contains(t, r.body, `id="activate-form"`)
		require.Contains(t, r.body, inviteeEmail)
		require.Contains(t, r.body, `name="accept_terms"`)
		require.Equal(t, "DENY", r.header.Get("X-Frame-Options"))
	})
	t.Run("activated", func(t *testing.T) {
		srv := newServer(t, nextidentitytest.Options{})
		link := invited(t, srv)
		r := postActivation(t, srv, link, valid)
		require.Equal(t, http.StatusSeeOther, r.status, r.body)
		require.Equal(t, nextidentitytest.DefaultRedirectURI, r.header.Get("Location"))
		expired := get(t, srv, link)
		require.Equal(t, http.StatusBadRequest, expired.status, "the link is single-use")
		require.Contains(t, expired.body, "Link expired")
	})
	for _, tc := range []struct {
		name  string
		token string
	}{{"unknown token", "nope"}, {"no token", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, nextidentitytest.Options{})
			r := get(t, srv, srv.URL+"/activate?token="+tc.token)
			require.Equal(t, http.StatusBadRequest, r.status)
			require.Contains(t, r.body, "Link expired")
			r = postForm(t, srv, "/activate", url.Values{"token": {tc.token}, "password": {newPassword}, "password_confirm": {newPassword}, "accept_terms": {"yes"}}, nil)
			require.Equal(t, http.StatusBadRequest, r.status)
		})
	}
	t.Run("expired", func(t *testing.T) {
		clk := newClock()
		srv := newServer(t, nextidentitytest.Options{Now: clk.Now})
		link := invited(t, srv)
		clk.Advance(nextidentitytest.ActivationLifetime)
		require.Equal(t, http.StatusBadRequest, get(t, srv, link).status)
	})
	t.Run("replaced by a resend", func(t *testing.T) {
		srv := newServer(t, nextidentitytest.Options{})
		link := invited(t, srv)
		require.Equal(t, http.StatusCreated, invite(t, srv, map[string]any{"resend": true}).status)
		require.Equal(t, http.StatusBadRequest, get(t, srv, link).status)
	})
	t.Run("wrong method", func(t *testing.T) {
		srv := newServer(t, nextidentitytest.Options{})
		req, err := http.NewRequest(http.MethodPut, srv.URL+"/activate", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusMethodNotAllowed, do(t, rawClient(srv), req).status)
	})
}

// TestInviteActivateSignIn is the invite journey end to end: invite, the
// activation screen in the fake browser, then sign-in both ways.
func TestInviteActivateSignIn(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, nextidentitytest.Options{})
	r := invite(t, srv, nil)
	uuid := decode(t, r)["uuid"].(string)
	msg, _ := srv.LastMessage(inviteeEmail)

	b := srv.NewBrowser()
	_, err := b.Activate(ctx, msg.Link, "short")
	require.ErrorIs(t, err, nextidentitytest.ErrFormRejected)
	require.Contains(t, err.Error(), "Use at least 8 characters.")
	back, err := b.Activate(ctx, msg.Link, newPassword)
	require.NoError(t, err)
	require.Equal(t, nextidentitytest.DefaultRedirectURI, back.String())
	_, err = b.Activate(ctx, msg.Link, newPassword)
	var pe *nextidentitytest.PageError
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, "Link expired", pe.Title)

	// Hosted sign-in.
	p := newPKCE(t)
	q, err := b.Login(ctx, authURL(srv, nextidentitytest.EndpointAuthorize, authParams(p, nil)), inviteeEmail, newPassword)
	require.NoError(t, err)
	_, claims := verify(t, srv, exchange(t, srv, q.Get("code"), p).IDToken)
	require.Equal(t, uuid, claims["sub"])
	require.Equal(t, true, claims["email_verified"])
	require.Equal(t, "Ivy Vite", claims["name"])

	// API sign-in: verified, terms accepted on the activation screen.
	lr := postJSON(t, srv, nextidentitytest.EndpointAccountLogin, body(apiLoginBody(), map[string]any{"user_id": inviteeEmail, "password": newPassword}), nil)
	require.Equal(t, http.StatusOK, lr.status, lr.body)
	require.NotContains(t, decode(t, lr), "legal_acceptance_required")
}
