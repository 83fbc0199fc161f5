package nextidentitytest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
)

// The fake browser on the hosted screens of the API integration: the
// invite's activation screen and the hosted forgot-password journey.

// ErrFormRejected is returned by Activate, RequestPasswordReset and
// ResetPassword when the provider shows the form again with an error (a
// password too short, the terms not accepted, ...). The error's text
// includes the message shown.
var ErrFormRejected = errors.New("nextidentitytest: the provider refused the form")

// formAction finds a form's action attribute by the form's id.
var formAction = regexp.MustCompile(`<form id="([^"]+)"[^>]*\baction="([^"]*)"`)

// Activate activates an invited account like a browser would: it opens
// activationLink (the Link of a MessageInvite), sets password, accepts the
// terms and submits. It returns where the provider then sends the browser
// (the redirect_uri of the invite), without requesting it.
func (b *Browser) Activate(ctx context.Context, activationLink, password string) (*url.URL, error) {
	return b.submit(ctx, activationLink, "activate-form", map[string]string{
		"password": password, "password_confirm": password, "accept_terms": "yes", "action": "activate",
	})
}

// RequestPasswordReset starts the hosted forgot-password journey like a
// browser would: it opens forgotPasswordURL (EndpointForgotPassword with
// the documented parameters, e.g. from nextidentity.Client's
// ForgotPasswordURL) and submits identifier, an email address or phone
// number. The provider then shows the same "check your messages" page
// whether or not the account exists; a known account gets a
// MessageForgotPassword whose Link goes to ResetPassword. If the provider
// redirects to the application instead (an invalid request), the redirect's
// query is returned with a nil error.
func (b *Browser) RequestPasswordReset(ctx context.Context, forgotPasswordURL, identifier string) (url.Values, error) {
	u, err := b.submit(ctx, forgotPasswordURL, "forgot-form", map[string]string{"identifier": identifier, "action": "send"})
	if err != nil || u == nil {
		return nil, err
	}
	return u.Query(), nil
}

// ResetPassword finishes the hosted forgot-password journey: it opens
// resetLink (the Link of the MessageForgotPassword), sets newPassword and
// returns the query of the provider's redirect to the application: state
// and iss, and a code when the journey was started with PKCE (b then holds
// a provider session for the user).
func (b *Browser) ResetPassword(ctx context.Context, resetLink, newPassword string) (url.Values, error) {
	u, err := b.submit(ctx, resetLink, "reset-form", map[string]string{
		"password": newPassword, "password_confirm": newPassword, "action": "reset",
	})
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, errors.New("nextidentitytest: the provider did not redirect to the application")
	}
	return u.Query(), nil
}

// submit opens pageURL, fills the form formID with values and posts it.
// It follows the provider's redirects, and returns the first redirect that
// leaves the provider or goes to a registered redirect URI (not requested),
// or nil when the post ends on a provider page without an error.
func (b *Browser) submit(ctx context.Context, pageURL, formID string, values map[string]string) (*url.URL, error) {
	s := b.srv
	hc := b.client()
	u, err := s.checkOwnURL(pageURL)
	if err != nil {
		return nil, err
	}
	method, form := http.MethodGet, url.Values(nil)
	posted := false
	for range maxBrowserHops {
		resp, body, err := s.fetch(ctx, hc, method, u, form)
		if err != nil {
			return nil, err
		}
		loc, redirect, err := s.redirectTarget(resp, u)
		if err != nil {
			return nil, err
		}
		if redirect {
			if !s.isProviderURL(loc) || s.isRedirectURI(loc) {
				return loc, nil
			}
			method, form, u = http.MethodGet, nil, loc
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, pageError(method, u, resp.StatusCode, body)
		}
		action, found := "", false
		for _, m := range formAction.FindAllStringSubmatch(body, -1) {
			if m[1] == formID {
				action, found = html.UnescapeString(m[2]), true
			}
		}
		if !found {
			if posted {
				return nil, nil // a provider page after the post, e.g. "check your messages"
			}
			return nil, pageError(method, u, resp.StatusCode, body)
		}
		if posted {
			msg := "no message shown"
			if m := errorField.FindStringSubmatch(body); m != nil {
				msg = html.UnescapeString(m[1])
			}
			return nil, fmt.Errorf("%w (%s)", ErrFormRejected, msg)
		}
		form = formValues(body, formID)
		for k, v := range values {
			form.Set(k, v)
		}
		target, err := u.Parse(action)
		if err != nil {
			return nil, fmt.Errorf("nextidentitytest: bad form action %q: %w", action, err)
		}
		method, u, posted = http.MethodPost, target, true
	}
	return nil, errors.New("nextidentitytest: too many redirects")
}

// Activate is a shorthand for Activate on the Server's default browser
// (see Browser.Activate).
func (s *Server) Activate(ctx context.Context, activationLink, password string) (*url.URL, error) {
	return s.browser.Activate(ctx, activationLink, password)
}

// RequestPasswordReset is a shorthand for RequestPasswordReset on the
// Server's default browser (see Browser.RequestPasswordReset).
func (s *Server) RequestPasswordReset(ctx context.Context, forgotPasswordURL, identifier string) (url.Values, error) {
	return s.browser.RequestPasswordReset(ctx, forgotPasswordURL, identifier)
}

// ResetPassword is a shorthand for ResetPassword on the Server's default
// browser (see Browser.ResetPassword).
func (s *Server) ResetPassword(ctx context.Context, resetLink, newPassword string) (url.Values, error) {
	return s.browser.ResetPassword(ctx, resetLink, newPassword)
}
