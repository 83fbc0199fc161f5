package nihttp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// RequireRecentLogin is RequireLogin for sensitive routes (changing an
// email address, paying): it serves next only when the session's user
// authenticated at the provider (Session.AuthTime, the ID token's
// auth_time) at most maxAge ago, by Config.Now.
//
// When the sign-in is older, or the provider never said when it was, a GET
// or HEAD is sent through sign-in again: a redirect to LoginPath with
// return_to set to the request's path and query, and max_age, so that the
// provider asks for the password again unless the user authenticated
// within maxAge. The callback proves it happened: it refuses an ID token
// whose auth_time is older than maxAge (nextidentity.ErrAuthTooOld). When
// the provider did not ask (it ignored max_age, or its clock is behind
// ours) the callback tries once more with prompt=login, and then fails with
// ErrAuthTooOld rather than loop. The new sign-in replaces the session and
// the browser comes back to the same URL.
//
// Any other request (a POST, an API call from a script) gets 401 with an
// RFC 9470 challenge the front end can act on:
//
//	WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="A more recent sign-in is required", max_age=300
//
// Without a session it behaves exactly as RequireLogin. maxAge is counted
// in whole seconds (max_age carries no fraction); it must leave time for a
// sign-in's round trip, so minutes in practice: one shorter than the trip
// from the provider's password form to this handler cannot be met, and the
// sign-in ends in ErrAuthTooOld.
func (h *Handlers) RequireRecentLogin(maxAge time.Duration, next http.Handler) http.Handler {
	maxAge = max(maxAge, 0).Truncate(time.Second)
	return h.requireSession(next, &maxAge)
}

// requireSession is RequireLogin, and with recent RequireRecentLogin.
func (h *Handlers) requireSession(next http.Handler, recent *time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.Session(w, r)
		browser := r.Method == http.MethodGet || r.Method == http.MethodHead
		switch {
		case s != nil && recent != nil && !h.recentEnough(s, *recent):
			w.Header().Set("Cache-Control", "no-store")
			if browser {
				redirectLocal(w, h.loginLocation(r.URL.RequestURI(), recent, false))
				return
			}
			w.Header().Set("WWW-Authenticate", stepUpChallenge("Bearer", *recent))
			http.Error(w, "A more recent sign-in is required.", http.StatusUnauthorized)
		case s != nil:
			if err != nil {
				h.log.Warn("nihttp: serving with the session's old tokens", "err", err)
			}
			next.ServeHTTP(w, r.WithContext(withSession(r.Context(), s)))
		case errors.Is(err, ErrNoSession) && browser:
			w.Header().Set("Cache-Control", "no-store")
			redirectLocal(w, h.loginLocation(r.URL.RequestURI(), nil, false))
		case errors.Is(err, ErrNoSession):
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "nihttp: sign-in required", http.StatusUnauthorized)
		default:
			h.cfg.OnError(w, r, err)
		}
	})
}

// recentEnough reports whether s's user authenticated at most maxAge ago.
func (h *Handlers) recentEnough(s *Session, maxAge time.Duration) bool {
	at := s.authTime()
	return !at.IsZero() && h.cfg.Now().Sub(at) <= maxAge
}

// stepUpChallenge is the RFC 9470 challenge for a sign-in older than
// maxAge: scheme, then its parameters.
func stepUpChallenge(scheme string, maxAge time.Duration) string {
	return scheme + ` error="insufficient_user_authentication", error_description="A more recent sign-in is required", max_age=` +
		strconv.FormatInt(int64(maxAge/time.Second), 10)
}

// loginLocation is LoginPath with return_to set to returnTo (when it is a
// local path) and, for a step-up, max_age and with prompt prompt=login.
func (h *Handlers) loginLocation(returnTo string, maxAge *time.Duration, prompt bool) string {
	target := h.loginURL
	target.Path = h.mount + target.Path
	q := target.Query()
	if rt, ok := localPath(returnTo); ok {
		q.Set("return_to", rt)
	}
	if maxAge != nil {
		q.Set(stepUpMaxAge, strconv.FormatInt(int64(*maxAge/time.Second), 10))
		if prompt {
			q.Set(stepUpPrompt, "login")
		}
	}
	if len(q) > 0 {
		target.RawQuery = q.Encode()
	}
	return target.String()
}

// The login URL's step-up parameters, which RequireRecentLogin sets.
const (
	stepUpMaxAge = "max_age"
	stepUpPrompt = "prompt"
)

// stepUp is a sign-in RequireRecentLogin asked for, read from the login
// URL.
type stepUp struct {
	maxAge   time.Duration
	prompted bool // prompt=login
}

// stepUpFrom reads the step-up parameters of a login request; ok is false
// when there are none or they are not valid (a normal sign-in then).
// Nothing here can weaken a sign-in: a max_age only ever asks the provider
// for a more recent authentication, and only "login" is taken as prompt.
func stepUpFrom(q url.Values) (stepUp, bool) {
	v := q[stepUpMaxAge]
	if len(v) != 1 {
		return stepUp{}, false
	}
	n, err := strconv.ParseUint(v[0], 10, 31)
	if err != nil {
		return stepUp{}, false
	}
	p := q[stepUpPrompt]
	return stepUp{maxAge: time.Duration(n) * time.Second, prompted: len(p) == 1 && p[0] == "login"}, true
}

// authRequest starts the authorization of a login request: with
// Config.AuthOptions, plus for a step-up max_age (the stricter of the
// step-up's and any in AuthOptions) and prompt=login when asked.
func (h *Handlers) authRequest(su stepUp, isStepUp bool) (*nextidentity.AuthRequest, error) {
	ar, err := h.cfg.Client.AuthCodeURL(h.cfg.AuthOptions...)
	if err != nil || !isStepUp {
		return ar, err
	}
	maxAge := su.maxAge
	if ar.MaxAge != nil && *ar.MaxAge < maxAge {
		maxAge = *ar.MaxAge
	}
	opts := append(slices.Clip(h.cfg.AuthOptions), nextidentity.WithMaxAge(maxAge))
	if su.prompted {
		opts = append(opts, nextidentity.WithPrompt("login"))
	}
	return h.cfg.Client.AuthCodeURL(opts...)
}

// checkStepUp holds a step-up sign-in's ID token to the step-up's max_age
// by the handlers' clock, which is what RequireRecentLogin will compare
// with (Exchange has checked it by the client's clock, with its leeway).
func (h *Handlers) checkStepUp(tok *nextidentity.Token, maxAge time.Duration) error {
	if tok.IDToken == nil || tok.IDToken.AuthTime.IsZero() {
		return fmt.Errorf("nihttp: the step-up sign-in's ID token has no auth_time: %w", nextidentity.ErrAuthTooOld)
	}
	if age := h.cfg.Now().Sub(tok.IDToken.AuthTime); age > maxAge {
		return fmt.Errorf("nihttp: the step-up sign-in's auth_time is %s old, more than %s: %w",
			age.Round(time.Second), maxAge, nextidentity.ErrAuthTooOld)
	}
	return nil
}
