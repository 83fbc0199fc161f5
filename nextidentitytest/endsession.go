package nextidentitytest

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// handleEndSession serves /endsession: it ends the provider's browser session
// and sends the browser to post_logout_redirect_uri (with state), or shows a
// "signed out" page when there is none.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	q, ok := s.readParams(w, r)
	if !ok {
		return
	}

	clientID := q.Get("client_id")
	if hint := q.Get("id_token_hint"); hint != "" {
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(hint, claims, s.keyFunc,
			jwt.WithoutClaimsValidation(), // an expired token is still a fine hint
			jwt.WithValidMethods([]string{"RS256", "HS256", "ES256"}))
		if err != nil {
			s.renderMessage(w, http.StatusBadRequest, "Invalid request", "The id_token_hint was not issued by this provider.")
			return
		}
		aud := audience(claims)
		if clientID == "" {
			clientID = aud
		} else if aud != clientID {
			s.renderMessage(w, http.StatusBadRequest, "Invalid request", "The id_token_hint was issued to another client.")
			return
		}
	}
	var c Client
	if clientID != "" {
		s.mu.Lock()
		cl, ok := s.clients[clientID]
		s.mu.Unlock()
		if !ok {
			s.renderMessage(w, http.StatusBadRequest, "Invalid client", "The application is not registered.")
			return
		}
		c = cl
	}
	redirect := q.Get("post_logout_redirect_uri")
	if redirect != "" {
		if clientID == "" {
			s.renderMessage(w, http.StatusBadRequest, "Invalid request", "post_logout_redirect_uri requires client_id or id_token_hint.")
			return
		}
		if !allowedPostLogout(c, redirect) {
			s.renderMessage(w, http.StatusBadRequest, "Invalid redirect URI", "The post_logout_redirect_uri is not registered for this application.")
			return
		}
	}

	if ck, err := r.Cookie(SessionCookieName); err == nil {
		s.mu.Lock()
		ended := s.sessions[ck.Value]
		delete(s.sessions, ck.Value)
		s.mu.Unlock()
		// Back-channel logout before answering, so the clients' sessions
		// have ended when the browser arrives back (see LogoutDeliveries
		// for the results).
		_ = s.logoutClients(context.WithoutCancel(r.Context()), ended)
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookieName, Value: "", Path: "/", MaxAge: -1,
		Expires: time.Unix(0, 0), HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	if redirect == "" {
		s.renderMessage(w, http.StatusOK, "Signed out", "You have been signed out.")
		return
	}
	u, _ := url.Parse(redirect) // validated by allowedPostLogout
	if state := q.Get("state"); state != "" {
		v := u.Query()
		v.Set("state", state)
		u.RawQuery = v.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// allowedPostLogout reports whether uri is an allowed post-logout redirect
// for c: one of PostLogoutRedirectURIs, or, when c has none, any URI with the
// scheme and host of one of its redirect URIs (any port for a loopback IP
// redirect URI, as at /authorize).
func allowedPostLogout(c Client, uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" {
		return false
	}
	if len(c.PostLogoutRedirectURIs) > 0 {
		return slices.Contains(c.PostLogoutRedirectURIs, uri)
	}
	for _, ru := range c.RedirectURIs {
		if r, err := url.Parse(ru); err == nil && r.Scheme == u.Scheme &&
			(r.Host == u.Host || isLoopbackIP(r.Hostname()) && r.Scheme == "http" && r.Hostname() == u.Hostname()) {
			return true
		}
	}
	return false
}
